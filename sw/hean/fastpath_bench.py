"""The fast-path benchmark: feature record in -> order request out, timed per decision.

A synthetic session (:mod:`hean.feeds.synth`) goes through the mirror once, up front;
then every record goes through :class:`hean.trader.Trader` (physics, the impulse engine
and its filters, the risk governor and the sizer) on its own, and each call is timed
with ``time.perf_counter_ns``. Every record is a decision, and most decide to do
nothing, so the whole path down to an order request is also timed apart, over records
built so that each one ends in an order (:func:`impulse_records`).
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from hean.domain import InstrumentSpec
from hean.engine import Mirror
from hean.feeds.synth import SynthConfig, generate
from hean.physics import PhysicsConfig
from hean.risk.governor import RiskGovernor
from hean.strategy.impulse import ImpulseConfig, ImpulseEngine
from hean.trader import Trader
from hean.wire import REC_DTYPE, Params, Status


@dataclass(frozen=True)
class FastPathResult:
    """Latency percentiles in microseconds: over ``n`` decisions of a session, and over
    ``orders`` decisions that each end in an order request."""

    n: int
    p50_us: float
    p99_us: float
    max_us: float
    orders: int
    order_p50_us: float
    order_p99_us: float

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _pct(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) / 1e3


def run(decisions: int = 200_000, seed: int = 1, impulse: ImpulseConfig | None = None,
        progress=None, orders_wanted: int = 20_000) -> FastPathResult:  # fmt: skip
    """Time ``decisions`` records of a session, then ``orders_wanted`` order requests."""
    if decisions < 1:
        raise ValueError("decisions must be >= 1")
    msgs, sidecar = generate(SynthConfig(instruments=4, messages=decisions, seed=seed))
    recs = Mirror(Params(K=32, N=4)).process(msgs)
    instruments = {i.id: InstrumentSpec.from_sidecar(i) for i in sidecar.instruments}
    governor = RiskGovernor()
    governor.on_equity(int(recs["recv_ts_ns"][0]), 100_000.0)
    trader = Trader(instruments, governor, ImpulseEngine(impulse), lambda order: None)
    took = np.empty(len(recs), dtype=np.int64)
    clock = time.perf_counter_ns
    gc.disable()  # a collection inside one call would time the collector, not the path
    try:
        for k in range(len(recs)):
            t0 = clock()
            trader.on_record_at(recs, k)
            took[k] = clock() - t0
            if progress is not None and k % 10_000 == 0:
                progress(k)
    finally:
        gc.enable()
    order_t = _order_path(orders_wanted)
    return FastPathResult(
        n=len(recs),
        p50_us=_pct(took, 50),
        p99_us=_pct(took, 99),
        max_us=float(took.max()) / 1e3,
        orders=len(order_t),
        order_p50_us=_pct(order_t, 50),
        order_p99_us=_pct(order_t, 99),
    )


def impulse_records(n: int) -> np.ndarray:
    """``n`` END records, a second apart, of a steady climb with the book leaning bid.

    Every one is an impulse that passes every filter once the physics window is full,
    so each runs the whole path down to an order request.
    """
    recs = np.zeros(n, dtype=REC_DTYPE)
    k = np.arange(n)
    recs["status"] = int(Status.END)
    recs["recv_ts_ns"] = k * 1_000_000_000
    recs["bid_px"] = 500_000 + 10 * k
    recs["ask_px"] = recs["bid_px"] + 1
    recs["bid_qty"], recs["ask_qty"] = 900, 100
    recs["imb_l1"], recs["imb_depth"], recs["ofi"] = 26214, 9000, 400
    recs["buy_flow"], recs["sell_flow"] = 300, 100
    return recs


def _order_path(n: int) -> np.ndarray:
    """ns per call for ``n`` records that each end in an order request."""
    spec = InstrumentSpec(0, "BTCUSDT", Decimal("0.1"), Decimal("0.001"))
    governor = RiskGovernor()
    governor.on_equity(0, 100_000.0)
    sent: list = []
    trader = Trader({0: spec}, governor, ImpulseEngine(), sent.append,
                    physics=PhysicsConfig(ref_return=1e-4))  # fmt: skip
    recs = impulse_records(n + 2 * trader.physics_config.window)
    clock = time.perf_counter_ns
    took = []
    gc.disable()
    try:
        for k in range(len(recs)):
            t0 = clock()
            out = trader.on_record_at(recs, k)
            dt = clock() - t0
            if out is not None:
                took.append(dt)
    finally:
        gc.enable()
    return np.array(took[-n:], dtype=np.int64)


__all__ = ["FastPathResult", "run"]
