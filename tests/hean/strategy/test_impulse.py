"""The impulse engine: the impulse itself, then each filter in turn refuses for its reason."""

from __future__ import annotations

import numpy as np
import pytest

from hean.domain import Side
from hean.physics import PhysicsState
from hean.strategy.impulse import ImpulseConfig, ImpulseEngine
from hean.wire import REC_DTYPE, Status

S = 10**9
CALM_UP = PhysicsState(0.3, 0.3, "markup", 0.9, 3.0, 0.2, 60)


def rec(imb: float = 0.5, ts: int = S, **fields: int) -> np.void:
    r = np.zeros(1, dtype=REC_DTYPE)[0]
    values = {
        "status": int(Status.END), "instrument": 1, "bid_px": 99_990, "ask_px": 100_000,
        "bid_qty": 300, "ask_qty": 100, "imb_l1": int(imb * 32768),
        "imb_depth": int(imb * 32768 / 2), "ofi": 500 if imb > 0 else -500,
        "buy_flow": 100, "sell_flow": 100, "recv_ts_ns": ts,
    }  # fmt: skip
    values.update(fields)
    for k, v in values.items():
        r[k] = v
    return r


def test_a_confirmed_impulse_becomes_a_signal() -> None:
    eng = ImpulseEngine()
    sig = eng.on_record(rec(0.5), CALM_UP)
    assert sig is not None and sig.side == Side.BUY and sig.price_ticks == 100_000
    assert sig.strength == pytest.approx(0.5, abs=1e-4) and sig.take_profit_bps == 20.0
    down = PhysicsState(0.3, 0.3, "markdown", 0.9, -3.0, -0.2, 60)
    sell = eng.on_record(rec(-0.5, instrument=2), down)
    assert sell is not None and sell.side == Side.SELL and sell.price_ticks == 99_990


@pytest.mark.parametrize(
    ("record", "physics", "reason"),
    [
        (rec(0.5, imb_depth=-10), CALM_UP, "no confirmation"),
        (rec(0.5, ofi=-1), CALM_UP, "no confirmation"),
        (rec(0.5, bid_px=99_000), CALM_UP, "spread"),  # 100 bps
        (rec(0.5), PhysicsState(0.9, 0.3, "markup", 0.9, 3, 0, 60), "volatility"),
        (rec(0.5), PhysicsState(0.3, 0.3, "markup", 0.4, 3, 0, 60), "low phase confidence"),
        (rec(0.5), PhysicsState(0.8, 0.8, "markup", 0.9, 3, 0, 60), "extreme chaos"),
        (rec(0.5), PhysicsState(0.3, 0.3, "markdown", 0.9, -3, 0, 60), "phase mismatch (markdown)"),
        (rec(0.5), PhysicsState(0.3, 0.95, "markup", 0.9, 3, 0, 60), "unstable market"),
        (rec(0.5, buy_flow=40, sell_flow=100), CALM_UP, "flow against"),
        (rec(0.5, status=int(Status.END | Status.ICEBERG_ASK)), CALM_UP, "iceberg"),
    ],
)
def test_each_filter_refuses_for_its_reason(record, physics, reason) -> None:
    eng = ImpulseEngine()
    assert eng.on_record(record, physics) is None
    assert eng.rejected == {reason: 1}


def test_no_impulse_and_untradable_books_are_not_refusals() -> None:
    eng = ImpulseEngine()
    assert eng.on_record(rec(0.1), CALM_UP) is None  # below the imbalance threshold
    assert eng.on_record(rec(0.5, status=0), CALM_UP) is None  # not an END record
    assert eng.on_record(rec(0.5, status=int(Status.END | Status.CROSSED)), CALM_UP) is None
    assert not eng.rejected


def test_flow_widens_take_profit_cooldown_and_predictor() -> None:
    inst = REC_DTYPE.names.index("instrument")
    eng = ImpulseEngine(predictor=lambda row: 0.6 if row[inst] == 1 else 0.5)
    sig = eng.on_record(rec(0.5, buy_flow=300, sell_flow=100), CALM_UP)
    assert sig is not None and sig.take_profit_bps == 30.0  # ratio 3 > 2: widened 1.5x
    assert eng.on_record(rec(0.5, ts=S + S // 2), CALM_UP) is None  # within 1 s
    assert eng.on_record(rec(0.5, ts=2 * S), CALM_UP) is not None
    assert eng.on_record(rec(0.5, instrument=3, ts=3 * S), CALM_UP) is None  # p = 0.5
    assert eng.rejected == {"cooldown": 1, "predictor": 1}
    with pytest.raises(ValueError):
        ImpulseConfig(imbalance=1.5)
