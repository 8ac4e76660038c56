"""Throughput of the trading core over a synthetic session: record by record and in batches.

Prints records per second of ``Trader.on_record_at`` (one record at a time) and of
``Trader.on_batch`` (the session in 50 batches), and checks that both decided alike.

    python bench/bench_trader.py [--messages N] [--batches B]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hean.domain import InstrumentSpec
from hean.engine import Mirror
from hean.feeds.synth import SynthConfig, generate
from hean.risk.governor import RiskGovernor
from hean.strategy.impulse import ImpulseEngine
from hean.trader import Trader
from hean.wire import Params


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=500_000)
    ap.add_argument("--batches", type=int, default=50)
    args = ap.parse_args()
    msgs, sidecar = generate(SynthConfig(instruments=4, messages=args.messages, seed=1))
    recs = Mirror(Params(K=32, N=4)).process(msgs)
    specs = {i.id: InstrumentSpec.from_sidecar(i) for i in sidecar.instruments}
    outcomes = []
    for mode in ("one by one", "batches"):
        governor = RiskGovernor()
        governor.on_equity(0, 100_000.0)
        trader = Trader(specs, governor, ImpulseEngine(), lambda order: None)
        t0 = time.perf_counter()
        if mode == "one by one":
            for k in range(len(recs)):
                trader.on_record_at(recs, k)
        else:
            for part in np.array_split(recs, args.batches):
                trader.on_batch(part)
        dt = time.perf_counter() - t0
        outcomes.append((trader.path.orders, dict(trader.engine.rejected)))
        print(f"trader, {mode:10s}: {len(recs) / dt:12,.0f} records/s "
              f"({trader.path.orders} orders)")  # fmt: skip
    if outcomes[0] != outcomes[1]:
        raise SystemExit("the two ways decided differently")


if __name__ == "__main__":
    main()
