"""Throughput of ``PaperExchange.feed()`` on a synthetic session (messages/s).

Two runs over the same 300,000-message, 3-instrument session
(``SynthConfig(instruments=3, messages=300_000, seed=2)``), each fed as one array:

1. **idle**: no order of ours on the book, the common case of a backtest (bulk path);
2. **resting**: one GTC bid far below the touch rests on instrument 0 the whole
   session, so every message takes the per-message path.

Best of ``--repeats`` runs, a fresh exchange each time. Run with
``python bench/bench_paper.py``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hean.domain import InstrumentSpec, OrderRequest, Side
from hean.exchange.paper import PaperExchange
from hean.feeds.synth import SynthConfig, generate

#: Messages fed before the resting order is placed, so the book has a touch to price it.
WARMUP = 2_000


def rate(msgs: np.ndarray, specs: dict[int, InstrumentSpec], resting: bool, repeats: int) -> float:
    """Best messages/s of ``feed()`` over ``repeats`` fresh exchanges."""
    best = 0.0
    for _ in range(repeats):
        ex = PaperExchange(specs)
        head, rest = msgs[:WARMUP], msgs[WARMUP:]
        ex.feed(head)
        if resting:
            bid = ex.book(0).best_bid()
            assert bid is not None, "the warm-up left instrument 0 without bids"
            # far from the touch: it rests all session and never fills
            req = OrderRequest(ex.now, 0, Side.BUY, 1, max(bid[0] - 10_000, 1), "bench", "r")
            ex.place(req)
            ex.advance(ex.now)
            assert len(ex.open_orders()) == 1
        t0 = time.perf_counter()
        ex.feed(rest)
        best = max(best, rest.size / (time.perf_counter() - t0))
        if resting:
            assert len(ex.open_orders()) == 1
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    msgs, sidecar = generate(SynthConfig(instruments=3, messages=args.messages, seed=2))
    specs = {i.id: InstrumentSpec.from_sidecar(i) for i in sidecar.instruments}
    for label, resting in (("idle (no order of ours)", False), ("one resting order", True)):
        r = rate(msgs, specs, resting, args.repeats)
        print(f"feed() {label:>24}: {r / 1e6:6.3f} M msg/s")


if __name__ == "__main__":
    main()
