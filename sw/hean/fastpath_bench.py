"""The fast-path benchmark: feature record in -> order request out, timed per decision.

A synthetic session (:mod:`hean.feeds.synth`) goes through the mirror once, up front;
then every record goes through :class:`hean.trader.Trader` (physics, the impulse engine
and its filters, the risk governor and the sizer) on its own, and each call is timed
with ``time.perf_counter_ns``. Every record is a decision (most decide to do nothing);
the ones that end in an order request are also reported apart, since they run the whole
path.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass

import numpy as np

from hean.domain import InstrumentSpec
from hean.engine import Mirror
from hean.feeds.synth import SynthConfig, generate
from hean.risk.governor import RiskGovernor
from hean.strategy.impulse import ImpulseConfig, ImpulseEngine
from hean.trader import Trader
from hean.wire import Params


@dataclass(frozen=True)
class FastPathResult:
    """Latency percentiles in microseconds over ``n`` decisions, ``orders`` of them orders."""

    n: int
    p50_us: float
    p99_us: float
    max_us: float
    orders: int
    order_p50_us: float | None
    order_p99_us: float | None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _pct(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) / 1e3


def run(decisions: int = 200_000, seed: int = 1, impulse: ImpulseConfig | None = None,
        progress=None) -> FastPathResult:  # fmt: skip
    """Time ``decisions`` records through the decision path."""
    if decisions < 1:
        raise ValueError("decisions must be >= 1")
    msgs, sidecar = generate(SynthConfig(instruments=4, messages=decisions, seed=seed))
    recs = Mirror(Params(K=32, N=4)).process(msgs)
    instruments = {i.id: InstrumentSpec.from_sidecar(i) for i in sidecar.instruments}
    governor = RiskGovernor()
    governor.on_equity(int(recs["recv_ts_ns"][0]), 100_000.0)
    orders: list = []
    trader = Trader(instruments, governor, ImpulseEngine(impulse), orders.append)
    took = np.empty(len(recs), dtype=np.int64)
    made = np.zeros(len(recs), dtype=bool)
    clock = time.perf_counter_ns
    gc.disable()  # a collection inside one call would time the collector, not the path
    try:
        for k in range(len(recs)):
            rec = recs[k]
            t0 = clock()
            out = trader.on_record(rec)
            took[k] = clock() - t0
            made[k] = out is not None
            if progress is not None and k % 10_000 == 0:
                progress(k)
    finally:
        gc.enable()
    order_t = took[made]
    return FastPathResult(
        n=len(recs),
        p50_us=_pct(took, 50),
        p99_us=_pct(took, 99),
        max_us=float(took.max()) / 1e3,
        orders=int(made.sum()),
        order_p50_us=_pct(order_t, 50) if len(order_t) else None,
        order_p99_us=_pct(order_t, 99) if len(order_t) else None,
    )


__all__ = ["FastPathResult", "run"]
