"""The decision path end to end: records in, order requests out, and none after HARD_STOP."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from hean.domain import InstrumentSpec, Side
from hean.fastpath_bench import run
from hean.physics import PhysicsConfig
from hean.risk.governor import RiskGovernor, RiskState
from hean.strategy.impulse import ImpulseConfig, ImpulseEngine
from hean.trader import Trader, hourly_volatility
from hean.wire import REC_DTYPE, Status

S = 10**9
BTC = InstrumentSpec(0, "BTCUSDT", Decimal("0.1"), Decimal("0.001"))


def squeeze(n: int = 200) -> np.ndarray:
    """A steady climb with the book leaning to the bid: an impulse every second."""
    recs = np.zeros(n, dtype=REC_DTYPE)
    for k in range(n):
        bid = 500_000 + 10 * k  # +1 USDT a second
        recs[k] = 0
        r = recs[k]
        r["status"], r["instrument"], r["recv_ts_ns"] = int(Status.END), 0, k * S
        r["bid_px"], r["ask_px"], r["bid_qty"], r["ask_qty"] = bid, bid + 1, 900, 100
        r["imb_l1"], r["imb_depth"], r["ofi"] = 26214, 9000, 400
        r["buy_flow"], r["sell_flow"] = 300, 100
    return recs


def make(governor: RiskGovernor) -> tuple[Trader, list]:
    orders: list = []
    physics = PhysicsConfig(ref_return=1e-4)
    trader = Trader({0: BTC}, governor, ImpulseEngine(), orders.append, physics=physics)
    return trader, orders


def test_a_squeeze_gives_buy_orders_sized_by_physics_and_risk() -> None:
    g = RiskGovernor()
    g.on_equity(0, 100_000.0)
    trader, orders = make(g)
    for rec in squeeze():
        trader.on_record(rec)
    assert len(orders) > 50 and all(o.side == Side.BUY for o in orders)
    # 1 % of 100k at ~50k USDT, times the phase (markup 1.3) and temperature factors
    assert all(10 <= o.qty_lots <= 40 for o in orders)
    assert len({o.link_id for o in orders}) == len(orders)
    assert trader.engine.rejected["low phase confidence"] > 0  # until the window fills


def test_no_order_after_hard_stop() -> None:
    g = RiskGovernor()
    g.on_equity(0, 100_000.0)
    trader, orders = make(g)
    recs = squeeze()
    for rec in recs[:100]:
        trader.on_record(rec)
    before = len(orders)
    assert before > 0
    g.on_equity(100 * S, 79_000.0)  # 21 % down: the kill switch
    assert g.state == RiskState.HARD_STOP
    for rec in recs[100:]:
        assert trader.on_record(rec) is None
    assert len(orders) == before


def test_hourly_volatility_from_temperature() -> None:
    c = PhysicsConfig()
    assert hourly_volatility(0.0, c) == 0.0
    assert hourly_volatility(0.5, c) == c.ref_return * 60  # rms = r_ref at T = 1/2


def test_the_bench_reports_its_figures() -> None:
    r = run(5_000, impulse=ImpulseConfig(physics_filter=False), orders_wanted=500)
    assert r.n == 5_000 and 0 < r.p50_us <= r.p99_us <= r.max_us
    assert r.orders == 500 and 0 < r.order_p50_us <= r.order_p99_us
    assert set(r.as_dict()) >= {"n", "p50_us", "p99_us", "max_us"}


def test_a_crash_halts_entries_for_the_halt_time() -> None:
    g = RiskGovernor()
    g.on_equity(0, 100_000.0)
    trader, orders = make(g)
    recs = squeeze(200)
    for rec in recs[:100]:
        trader.on_record(rec)
    n = len(orders)
    crash = recs[100].copy()
    crash["bid_px"], crash["ask_px"] = (
        int(recs[99]["bid_px"] * 0.93),
        int(recs[99]["bid_px"] * 0.93) + 1,
    )
    trader.on_record(crash)  # 7 % down within a second
    assert trader.engine.rejected["flash crash"] == 1
    for rec in recs[101:150]:  # within the next 60 s: no new entries
        assert trader.on_record(rec) is None
    assert len(orders) == n and trader.crash[0].events[0].move < -0.05


def test_fed_trades_drive_the_flow_filter() -> None:
    g = RiskGovernor()
    g.on_equity(0, 100_000.0)
    trader, orders = make(g)
    for k, rec in enumerate(squeeze()):
        trader.on_trade(0, k * S, buy=False, qty=50, price=int(rec["bid_px"]))  # sellers
        trader.on_trade(0, k * S, buy=True, qty=10, price=int(rec["ask_px"]))
        trader.on_record(rec)
    assert orders == [] and trader.engine.rejected["flow against"] > 50


def test_a_choppy_market_gives_no_order() -> None:
    """Imbalances keep firing, but the price chops: the physics filter refuses them."""
    g = RiskGovernor()
    g.on_equity(0, 100_000.0)
    trader, orders = make(g)
    recs = squeeze(300)
    rng = np.random.default_rng(3)
    # moves of 1.2 to 2.4 r_ref each second around a fixed level (smaller chop, with the
    # window's drift exactly 0, reads as a range whose confidence is the flow imbalance)
    recs["bid_px"] = 500_000 + rng.choice([-120, -60, 60, 120], size=len(recs))
    recs["ask_px"] = recs["bid_px"] + 1
    for rec in recs:
        trader.on_record(rec)
    assert orders == []
    refused = trader.engine.rejected
    assert refused["extreme chaos"] + refused["low phase confidence"] + refused["volatility"] > 200


def test_every_way_in_gives_the_same_orders() -> None:
    """A record, a tuple (``rec.item()``) and record ``k`` of a raw buffer decide alike."""
    recs = squeeze()
    results = []
    for feed in ("record", "row", "buffer"):
        g = RiskGovernor()
        g.on_equity(0, 100_000.0)
        trader, orders = make(g)
        raw = recs.tobytes()
        for k in range(len(recs)):
            if feed == "record":
                trader.on_record(recs[k])
            elif feed == "row":
                trader.on_row(recs[k].item())
            else:
                trader.on_record_at(raw, k)
        results.append([(o.ts_ns, o.side, o.qty_lots, o.price_ticks) for o in orders])
    assert results[0] and results[0] == results[1] == results[2]


def test_the_max_position_in_lots_caps_and_then_blocks_entries() -> None:
    g = RiskGovernor(max_position_lots={0: 40})
    g.on_equity(0, 100_000.0)
    held = {0: 0}
    orders: list = []

    def book(order) -> None:  # fills at once, so the position grows with every order
        orders.append(order)
        held[0] += order.qty_lots

    trader = Trader({0: BTC}, g, ImpulseEngine(), book, positions=held.__getitem__,
                    physics=PhysicsConfig(ref_return=1e-4))  # fmt: skip
    for rec in squeeze():
        trader.on_record(rec)
    assert len(orders) >= 2 and held[0] == 40 and sum(o.qty_lots for o in orders) == 40
    assert orders[-1].qty_lots < orders[0].qty_lots  # the last one was cut to fit
    assert trader.engine.rejected["max position"] > 0


def _same_run(recs: np.ndarray, instruments: dict, batches: int, imbalance=0.3) -> tuple:
    """``on_batch`` over ``batches`` pieces equals ``on_row`` record by record."""
    runs = []
    for mode in ("row", "batch"):
        g = RiskGovernor()
        g.on_equity(0, 100_000.0)
        orders: list = []
        engine = ImpulseEngine(ImpulseConfig(imbalance=imbalance))
        trader = Trader(instruments, g, engine, orders.append,
                        physics=PhysicsConfig(ref_return=1e-4))  # fmt: skip
        if mode == "row":
            for k in range(len(recs)):
                trader.on_row(recs[k].item())
        else:
            for part in np.array_split(recs, batches):
                trader.on_batch(part)
        states = {i: (trader.physics[i].state(), list(trader.physics[i]._returns))
                  for i in instruments}  # fmt: skip
        events = {i: trader.crash[i].events for i in instruments}
        runs.append((orders, dict(trader.engine.rejected), states, events,
                     trader.path.signals, trader.path.orders, g.state))  # fmt: skip
    assert runs[0] == runs[1]
    return runs[0]


def test_a_batch_decides_exactly_as_records_one_by_one() -> None:
    from hean.engine import Mirror
    from hean.feeds.synth import SynthConfig, generate
    from hean.wire import Params

    msgs, sidecar = generate(SynthConfig(instruments=3, messages=60_000, seed=4))
    recs = Mirror(Params(K=32, N=4)).process(msgs)
    specs = {i.id: InstrumentSpec.from_sidecar(i) for i in sidecar.instruments}
    for imbalance in (0.3, 0.95):  # many candidates, and very few
        _, rejected, states, *_ = _same_run(recs, specs, batches=7, imbalance=imbalance)
        assert all(len(r) >= 5 for _, r in states.values())  # buckets went by
    assert sum(rejected.values()) > 0  # the session exercises the gates


def test_a_batch_with_orders_and_a_crash_matches_too() -> None:
    recs = squeeze(300)
    recs["bid_px"][150:160] = (recs["bid_px"][150:160] * 0.9).astype(np.uint32)  # a crash
    recs["ask_px"] = recs["bid_px"] + 1
    recs["status"][::7] |= int(Status.ASK_EMPTY)  # some one-sided books
    orders, rejected, _, events, *_ = _same_run(recs, {0: BTC}, batches=5)
    assert orders and rejected["flash crash"] > 0 and events[0]
