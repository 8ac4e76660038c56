"""reports(): each order event once, fills before an order's end, nothing lost on failure."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from hean.domain import InstrumentSpec, OrderRequest, OrderStatus, Side
from hean.exchange.base import UnavailableError
from hean.exchange.bybit import BadResponseError, BybitExchange
from hean.exchange.bybit.reports import Tracker
from tests.hean.exchange.bybit.conftest import BTC, ETH, INSTRUMENTS, loopback_session
from tests.hean.exchange.bybit.fake_bybit import FakeBybit

A, F, P, C, R = (
    OrderStatus.ACCEPTED,
    OrderStatus.FILLED,
    OrderStatus.PARTIALLY_FILLED,
    OrderStatus.CANCELLED,
    OrderStatus.REJECTED,
)


def limit(link: str, lots: int = 300, ticks: int = 270000) -> OrderRequest:
    return OrderRequest(time.time_ns(), BTC.id, Side.BUY, lots, ticks, "impulse", link)


def statuses(reports) -> list[tuple[str, OrderStatus]]:
    return [(r.link_id, r.status) for r in reports]


def test_nothing_placed_nothing_asked(fake: FakeBybit, bybit: BybitExchange) -> None:
    assert bybit.reports() == [] and fake.seen == []


def test_accepted_once_then_fills_then_done(fake: FakeBybit, bybit: BybitExchange) -> None:
    bybit.place(limit("o1"))
    assert statuses(bybit.reports()) == [("o1", A)]
    assert bybit.reports() == []
    fake.fill("o1", "0.100", "27000.00")
    (part,) = bybit.reports()
    assert part.status is P and part.fill is not None
    assert (part.fill.qty_lots, part.fill.price_ticks, part.fill.maker) == (100, 270000, True)
    assert part.fill.fee == Decimal("0.5400000")
    assert part.fill.exec_id == fake.executions[0]["execId"]
    assert part.ts_ns == int(fake.executions[0]["execTime"]) * 1_000_000
    fake.fill("o1", "0.200", "26999.90", maker=False)
    (full,) = bybit.reports()
    assert full.status is F and full.fill.qty_lots == 200 and not full.fill.maker
    # Finished: it is no longer followed, so the next call asks Bybit nothing.
    n = len(fake.seen)
    assert bybit.reports() == [] and len(fake.seen) == n


def test_fills_come_before_the_cancel(fake: FakeBybit, bybit: BybitExchange) -> None:
    bybit.place(limit("o2"))
    fake.fill("o2", "0.050", "27000.00")
    bybit.cancel(BTC.id, "o2")
    reports = bybit.reports()
    assert statuses(reports) == [("o2", A), ("o2", P), ("o2", C)]
    assert reports[2].reason == "CancelByUser" and reports[2].fill is None
    assert [r.ts_ns for r in reports] == sorted(r.ts_ns for r in reports)
    assert bybit.reports() == []


def test_a_cancel_waits_for_a_late_execution(fake: FakeBybit, bybit: BybitExchange) -> None:
    bybit.place(limit("o3"))
    fake.fill("o3", "0.100", "27000.00")
    bybit.cancel(BTC.id, "o3")
    late = fake.executions.pop()  # the execution list lags the order's status
    assert statuses(bybit.reports()) == [("o3", A)]
    fake.executions.append(late)
    assert statuses(bybit.reports()) == [("o3", P), ("o3", C)]


def test_market_order_accepted_and_filled_in_one_call(
    fake: FakeBybit, bybit: BybitExchange
) -> None:
    bybit.place(OrderRequest(1, ETH.id, Side.SELL, 40, None, "impulse", "m1"))
    reports = bybit.reports()
    assert statuses(reports) == [("m1", A), ("m1", F)]
    assert reports[1].fill.qty_lots == 40 and reports[1].fill.price_ticks == 160000


def test_orders_are_reported_together_oldest_first(fake: FakeBybit, bybit: BybitExchange) -> None:
    for link in ("x1", "x2", "x3"):
        bybit.place(limit(link))
    fake.fill("x2", "0.300", "27000.00")
    reports = bybit.reports()
    assert sorted(statuses(reports), key=str) == [("x1", A), ("x2", A), ("x2", F), ("x3", A)]
    assert [r.ts_ns for r in reports] == sorted(r.ts_ns for r in reports)


def test_a_failed_poll_loses_nothing(fake: FakeBybit, bybit: BybitExchange) -> None:
    bybit.place(limit("o4"))
    fake.fill("o4", "0.300", "27000.00")  # filled: no longer open, so its history is asked
    fake.fail("/v5/order/history", http=502)
    with pytest.raises(UnavailableError):
        bybit.reports()
    assert statuses(bybit.reports()) == [("o4", A), ("o4", F)]


def test_a_placement_that_never_arrived(fake: FakeBybit) -> None:
    ex = BybitExchange(INSTRUMENTS, session=loopback_session(fake, timeout=0.3), lost_after_s=0)
    fake.fail("/v5/order/create", hang_s=5.0)  # no answer, and no order either
    with pytest.raises(UnavailableError):
        ex.place(limit("o5"))
    (report,) = ex.reports()
    assert report.status is R and "not found at Bybit" in report.reason
    assert ex.reports() == []


def test_a_lost_placement_is_not_given_up_too_soon(fake: FakeBybit) -> None:
    ex = BybitExchange(INSTRUMENTS, session=loopback_session(fake, timeout=0.3))
    fake.fail("/v5/order/create", hang_s=5.0)
    with pytest.raises(UnavailableError):
        ex.place(limit("o6"))
    assert ex.reports() == []  # 60 s have not passed: it may still show up


def test_amended_orders_keep_their_strategy(fake: FakeBybit, bybit: BybitExchange) -> None:
    bybit.place(limit("o7", lots=300))
    bybit.amend(BTC.id, "o7", qty_lots=100)
    (order,) = bybit.open_orders()
    assert order.request.strategy == "impulse" and order.request.qty_lots == 100
    fake.fill("o7", "0.100", "27000.00")
    assert statuses(bybit.reports()) == [("o7", A), ("o7", F)]


def test_tracker_keeps_one_orders_events_in_order() -> None:
    """Bybit's times for one order need not be ordered (here the fill predates the
    order's createdTime); the events still come out ACCEPTED, then FILLED."""
    spec = InstrumentSpec(0, "BTCUSDT", Decimal("0.10"), Decimal("0.001"))
    t = Tracker()
    req = OrderRequest(1, 0, Side.BUY, 1, 270000, "s", "k")
    t.track(req, spec, 1_000, confirmed=True)
    state = {
        "orderLinkId": "k",
        "orderStatus": "Filled",
        "createdTime": "2000",
        "updatedTime": "2001",
        "cumExecQty": "0.001",
    }
    execution = {
        "orderLinkId": "k",
        "execType": "Trade",
        "execId": "e",
        "execTime": "1500",
        "side": "Buy",
        "execQty": "0.001",
        "execPrice": "27000.0",
        "execFee": "0.01",
        "isMaker": True,
        "leavesQty": "0",
        "symbol": "BTCUSDT",
    }
    reports = t.update({"k": state}, [execution, execution], 3_000)
    assert [r.status for r in reports] == [A, F]
    assert reports[0].ts_ns == reports[1].ts_ns == 2_000 * 1_000_000
    assert t.active() == []


def _execution(exec_id: str, qty: str, left: str, price: str = "27000.0") -> dict:
    return {"orderLinkId": "k", "execType": "Trade", "execId": exec_id, "execTime": "1500",
            "side": "Buy", "execQty": qty, "execPrice": price, "execFee": "0.01",
            "isMaker": True, "leavesQty": left, "symbol": "BTCUSDT"}  # fmt: skip


def _tracker() -> Tracker:
    t = Tracker()
    spec = InstrumentSpec(0, "BTCUSDT", Decimal("0.10"), Decimal("0.001"))
    t.track(OrderRequest(1, 0, Side.BUY, 2, 270000, "s", "k"), spec, 1_000, confirmed=True)
    return t


def test_an_unreadable_answer_changes_nothing() -> None:
    t = _tracker()
    state = {"orderLinkId": "k", "orderStatus": "PartiallyFilled", "createdTime": "1000",
             "updatedTime": "1500", "cumExecQty": "0.001"}  # fmt: skip
    with pytest.raises(BadResponseError, match="not a multiple"):
        t.update({"k": state}, [_execution("e1", "0.001", "0.001", price="27000.05")], 3_000)
    reports = t.update({"k": state}, [_execution("e1", "0.001", "0.001")], 3_000)
    assert [r.status for r in reports] == [A, P]  # ACCEPTED was not lost to the failure


def test_filled_by_the_orders_count_when_leaves_qty_misleads() -> None:
    t = _tracker()
    state = {"orderLinkId": "k", "orderStatus": "Filled", "createdTime": "1000",
             "updatedTime": "1500", "cumExecQty": "0.002"}  # fmt: skip
    fills = [_execution("e1", "0.001", "0.001"), _execution("e2", "0.001", "0.001")]
    reports = t.update({"k": state}, fills, 3_000)
    assert [r.status for r in reports] == [A, P, F] and t.active() == []
