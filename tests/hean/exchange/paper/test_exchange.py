"""The paper exchange's order types, fees, errors and queries (no latency here).

Requests reach the engine when the clock next moves, even without latency (an order
never lands in the middle of an exchange update), so ``ex.advance(ex.now)`` follows
each request to deliver it at once.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from hean.domain import OrderStatus, Side, TimeInForce
from hean.exchange.base import (
    BYBIT_VIP0,
    DuplicateOrderError,
    Exchange,
    FeeRates,
    OrderNotFoundError,
    RejectedError,
)
from hean.exchange.paper import PaperExchange, ProbQueueModel, fee
from hean.wire import MsgType, messages

from .helpers import ASK, BID, SPEC, T0, Tape, filled, make, order, statuses

BUY, SELL = Side.BUY, Side.SELL
GTC, IOC, FOK, POST = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK, TimeInForce.POST_ONLY


@pytest.fixture
def ex() -> PaperExchange:
    """Bids 100 x 10, 99 x 20, 98 x 30; asks 101 x 5, 102 x 15, 103 x 25."""
    ex = make()
    Tape(ex).snapshot([(100, 10), (99, 20), (98, 30)], [(101, 5), (102, 15), (103, 25)])
    return ex


def test_is_an_exchange(ex):
    assert isinstance(ex, Exchange)
    assert ex.name == "paper"
    assert ex.fee_rates(0) == BYBIT_VIP0


def test_market_order_walks_the_book(ex):
    ack = ex.place(order("m", BUY, 30))
    ex.advance(ex.now)
    assert ack.link_id == "m" and ack.ts_ns == T0 and ack.order_id
    fills = ex.executions()
    assert [(f.price_ticks, f.qty_lots, f.maker) for f in fills] == [
        (101, 5, False),
        (102, 15, False),
        (103, 10, False),
    ]
    assert statuses(ex.reports()) == [
        OrderStatus.ACCEPTED,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.FILLED,
    ]
    assert ex.positions() == {0: 30}
    assert ex.order("m").avg_fill_ticks == pytest.approx((505 + 1530 + 1030) / 30)


def test_market_order_rest_is_cancelled_with_a_reason(ex):
    ex.place(order("m", SELL, 100))
    ex.advance(ex.now)
    assert filled(ex, "m") == 60
    last = ex.reports()[-1]
    assert last.status is OrderStatus.CANCELLED and "no more liquidity" in last.reason
    assert ex.positions() == {0: -60}
    assert ex.order("m").status is OrderStatus.CANCELLED


def test_market_order_into_an_empty_side():
    ex = make()
    Tape(ex).set(BID, 100, 10)
    ex.place(order("m", BUY, 1))
    ex.advance(ex.now)
    reports = ex.reports()
    assert statuses(reports) == [OrderStatus.ACCEPTED, OrderStatus.CANCELLED]
    assert "no liquidity" in reports[-1].reason
    assert ex.executions() == [] and ex.positions() == {}


def test_taken_lots_are_not_taken_twice_until_the_feed_updates_the_level(ex):
    tape = Tape(ex, T0)
    ex.place(order("a", BUY, 3))
    ex.advance(ex.now)
    ex.place(order("b", BUY, 3))
    ex.advance(ex.now)
    assert [(f.link_id, f.price_ticks, f.qty_lots) for f in ex.executions()] == [
        ("a", 101, 3),
        ("b", 101, 2),  # only 2 of the 5 shown at 101 are left for us
        ("b", 102, 1),
    ]
    tape.set(ASK, 101, 4, ts=T0 + 1)  # the feed's new size is the truth again
    ex.place(order("c", BUY, 4))
    ex.advance(ex.now)
    assert [(f.price_ticks, f.qty_lots) for f in ex.executions() if f.link_id == "c"] == [(101, 4)]


def test_crossing_limit_takes_then_rests(ex):
    ex.place(order("l", BUY, 30, price=102))
    ex.advance(ex.now)
    assert [(f.price_ticks, f.qty_lots) for f in ex.executions()] == [(101, 5), (102, 15)]
    (o,) = ex.open_orders()
    assert o.request.link_id == "l" and o.status is OrderStatus.PARTIALLY_FILLED
    assert o.filled_lots == 20 and o.remaining_lots == 10 and o.request.price_ticks == 102
    assert ex.open_orders(0) == [o]


def test_ioc_takes_what_it_can_and_cancels_the_rest(ex):
    ex.place(order("i", SELL, 40, price=99, tif=IOC))
    ex.advance(ex.now)
    assert [(f.price_ticks, f.qty_lots) for f in ex.executions()] == [(100, 10), (99, 20)]
    assert ex.reports()[-1].status is OrderStatus.CANCELLED
    assert ex.open_orders() == []


def test_fok_is_all_or_nothing(ex):
    ex.place(order("f1", BUY, 21, price=102, tif=FOK))  # 20 available up to 102
    ex.advance(ex.now)
    assert ex.executions() == []
    assert statuses(ex.reports(), "f1")[-1] is OrderStatus.CANCELLED
    ex.place(order("f2", BUY, 20, price=102, tif=FOK))
    ex.advance(ex.now)
    assert filled(ex, "f2") == 20
    assert ex.order("f2").status is OrderStatus.FILLED
    ex.place(order("f3", SELL, 60, tif=FOK))  # a market FOK: the whole bid side is 60
    ex.advance(ex.now)
    assert ex.order("f3").status is OrderStatus.FILLED


def test_post_only_that_would_cross_is_rejected(ex):
    ex.place(order("p", BUY, 1, price=101, tif=POST))
    ex.advance(ex.now)
    (rep,) = ex.reports()
    assert rep.status is OrderStatus.REJECTED and "post-only" in rep.reason
    assert ex.executions() == [] and ex.open_orders() == []
    ex.place(order("q", BUY, 1, price=100, tif=POST))
    ex.advance(ex.now)
    assert statuses(ex.reports()) == [OrderStatus.ACCEPTED]
    assert [o.request.link_id for o in ex.open_orders()] == ["q"]


def test_fees_are_rate_times_notional():
    rates = FeeRates(maker=Decimal("-0.0001"), taker=Decimal("0.0006"))
    ex = make(fees=rates, queue_model=ProbQueueModel(2))
    tape = Tape(ex)
    tape.snapshot([(970000, 1)], [(970001, 3)])
    ex.place(order("t", BUY, 2))
    ex.advance(ex.now)
    ex.place(order("m", BUY, 4, price=970000))
    ex.advance(ex.now)
    tape.trade(ASK, 970000, 5)  # 1 ahead, then 4 for us
    taker, maker = ex.executions()
    notional_t = Decimal(2 * 970001) * SPEC.unit_value  # 2 lots of 0.001 at 97000.1
    assert notional_t == Decimal("194.0002")
    assert taker.fee == Decimal("0.0006") * notional_t and not taker.maker
    assert maker.maker and maker.qty_lots == 4
    assert maker.fee == Decimal("-0.0001") * Decimal(4 * 970000) * SPEC.unit_value
    assert maker.fee == fee(rates, True, 4, 970000, SPEC) < 0
    assert {taker.exec_id, maker.exec_id} == {"paper-1", "paper-2"}


def test_executions_since(ex):
    tape = Tape(ex)
    ex.place(order("a", BUY, 1))
    ex.advance(ex.now)
    tape.set(BID, 100, 10, ts=T0 + 5)
    ex.place(order("b", BUY, 1))
    ex.advance(ex.now)
    assert [f.link_id for f in ex.executions(T0 + 1)] == ["b"]
    assert [f.link_id for f in ex.executions()] == ["a", "b"]
    assert ex.executions(T0 + 6) == []


def test_reduce_only(ex):
    ex.place(order("r0", SELL, 1, reduce_only=True))
    ex.advance(ex.now)
    assert ex.reports()[-1].status is OrderStatus.REJECTED  # flat: nothing to reduce
    ex.place(order("long", BUY, 4))
    ex.advance(ex.now)
    ex.place(order("r1", SELL, 10, reduce_only=True))
    ex.advance(ex.now)
    assert filled(ex, "r1") == 4  # capped at the position
    assert ex.order("r1").status is OrderStatus.CANCELLED
    assert ex.positions() == {}


def test_amend_size_and_price(ex):
    ex.place(order("a", BUY, 5, price=99))
    ex.advance(ex.now)
    ex.amend(0, "a", qty_lots=3)
    ex.advance(ex.now)
    (o,) = ex.open_orders()
    assert o.request.qty_lots == 3 and o.request.price_ticks == 99
    ex.amend(0, "a", price_ticks=101)  # now it crosses: takes as taker
    ex.advance(ex.now)
    assert [(f.price_ticks, f.qty_lots, f.maker) for f in ex.executions()] == [(101, 3, False)]
    assert ex.order("a").status is OrderStatus.FILLED
    with pytest.raises(OrderNotFoundError):
        ex.amend(0, "a", qty_lots=9)
    ex.place(order("p", SELL, 5, price=103, tif=POST))
    ex.advance(ex.now)
    ex.amend(0, "p", price_ticks=100)  # a post-only amend that would take is cancelled
    ex.advance(ex.now)
    assert ex.order("p").status is OrderStatus.CANCELLED
    assert ex.executions()[-1].link_id == "a"


def test_amend_up_loses_the_queue_place_down_keeps_it():
    ex = make()
    tape = Tape(ex)
    tape.snapshot([(100, 10)], [(101, 10)])
    ex.place(order("down", BUY, 4, price=100))
    ex.advance(ex.now)
    ex.place(order("up", BUY, 4, price=100))  # both 10 behind the feed's lots
    ex.advance(ex.now)
    tape.set(BID, 100, 30)  # 20 join behind us
    ex.amend(0, "down", qty_lots=2)
    ex.advance(ex.now)
    ex.amend(0, "up", qty_lots=6)  # back of the queue: 30 ahead now
    ex.advance(ex.now)
    tape.trade(ASK, 100, 12)
    assert filled(ex, "down") == 2
    assert filled(ex, "up") == 0
    assert [o.request.link_id for o in ex.open_orders()] == ["up"]


def test_duplicate_link_id(ex):
    ex.place(order("x", BUY, 1))
    ex.advance(ex.now)
    assert ex.order("x").status is OrderStatus.FILLED
    with pytest.raises(DuplicateOrderError, match="x"):
        ex.place(order("x", BUY, 1, price=90))


def test_unknown_or_finished_orders(ex):
    with pytest.raises(OrderNotFoundError):
        ex.cancel(0, "nope")
    with pytest.raises(OrderNotFoundError):
        ex.order("nope")
    ex.place(order("done", BUY, 1))
    ex.advance(ex.now)
    with pytest.raises(OrderNotFoundError):
        ex.cancel(0, "done")
    ex.place(order("rest", BUY, 1, price=90))
    ex.advance(ex.now)
    with pytest.raises(OrderNotFoundError):
        ex.cancel(1, "rest")  # another instrument's order book
    ex.cancel(0, "rest")
    ex.advance(ex.now)
    assert ex.order("rest").status is OrderStatus.CANCELLED


def test_bad_requests_are_rejected(ex):
    with pytest.raises(RejectedError, match="OrderRequest"):
        ex.place(("not", "a", "request"))
    with pytest.raises(RejectedError, match="not traded"):
        ex.place(order("x", BUY, 1)._replace(instrument=7))
    with pytest.raises(RejectedError, match="price"):
        ex.place(order("x", BUY, 1, price=0x80000000))
    with pytest.raises(RejectedError, match="side"):
        ex.place(order("x", BUY, 1)._replace(side="Buy"))
    with pytest.raises(RejectedError, match="not traded"):
        ex.fee_rates(3)
    with pytest.raises(RejectedError, match="not traded"):
        ex.open_orders(3)
    ex.place(order("r", BUY, 5, price=90))
    ex.advance(ex.now)
    with pytest.raises(RejectedError, match="size or a new price"):
        ex.amend(0, "r")
    with pytest.raises(RejectedError, match="size"):
        ex.amend(0, "r", qty_lots=0)
    with pytest.raises(RejectedError, match="price"):
        ex.amend(0, "r", price_ticks=-3)
    with pytest.raises(RejectedError, match="time"):
        ex.cancel(0, "r", ts_ns=-1)
    with pytest.raises(ValueError, match="until_ns"):
        ex.reports(until_ns=1.5)
    with pytest.raises(ValueError, match="since_ns"):
        ex.executions("0")
    with pytest.raises(ValueError, match="time"):
        ex.advance(-5)
    # a rejected request leaves no trace: its link id is still free
    ex.place(order("x", BUY, 1, price=90))
    ex.advance(ex.now)
    assert {o.request.link_id for o in ex.open_orders()} == {"r", "x"}


def test_constructor_checks():
    with pytest.raises(ValueError, match="non-empty"):
        PaperExchange({})
    with pytest.raises(ValueError, match="equal its spec"):
        PaperExchange({3: SPEC})
    with pytest.raises(ValueError, match="FeeRates"):
        PaperExchange({0: SPEC}, fees=0.1)
    with pytest.raises(ValueError, match="QueueModel"):
        PaperExchange({0: SPEC}, queue_model="prob")
    with pytest.raises(ValueError, match="LatencyModel"):
        PaperExchange({0: SPEC}, latency=5)
    with pytest.raises(ValueError, match="seed"):
        PaperExchange({0: SPEC}, seed=-1)


def test_bad_and_foreign_messages_are_ignored(ex):
    before = ex.book(0).levels(BID)
    ex.feed(
        messages(
            [
                (MsgType.SET, 2, 1, 0, 9, 100, 1, T0),  # bad side
                (MsgType.TRADE, 0, 1, 0, 10, 101, 0, T0),  # trade of 0 lots
                (7, 0, 1, 0, 11, 100, 1, T0),  # unknown type
                (MsgType.SET, BID, 1, 3, 1, 100, 99, T0),  # instrument 3 is not ours
            ]
        )
    )
    assert (ex.bad_messages, ex.foreign_messages) == (3, 1)
    assert ex.book(0).levels(BID) == before
    with pytest.raises(ValueError, match="MSG_DTYPE"):
        ex.feed(messages([(1, 0, 0, 0, 1, 1, 1)])[["type", "side"]])
    with pytest.raises(ValueError, match="nine"):
        ex.on_message((1, 0, 0))
    ex.on_message(messages([(MsgType.SET, BID, 1, 0, 12, 97, 8, T0 + 1)])[0])
    assert ex.book(0).qty(BID, 97) == 8
    ex.on_message((MsgType.SET, BID, 1, 0, 13, 96, 2, T0 + 2, T0 + 3))
    assert ex.book(0).levels(BID, 5)[-1] == (96, 2)
