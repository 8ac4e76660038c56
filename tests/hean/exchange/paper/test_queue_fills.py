"""Resting orders in the exchange: queue position, trade-throughs, book crosses, resyncs.

The acceptance check of the issue: a resting order is not filled before the volume
ahead of it has traded, under both queue models, and the probabilistic model fills
earlier than the conservative one when the level shrinks by cancels.
"""

from __future__ import annotations

import numpy as np
import pytest

from hean.domain import OrderStatus, Side
from hean.exchange.paper import ProbQueueModel, RiskAverseQueueModel

from .helpers import ASK, BID, T0, Tape, filled, make, order

BUY, SELL = Side.BUY, Side.SELL
MODELS = [RiskAverseQueueModel(), ProbQueueModel(2), ProbQueueModel(3)]


def resting(model, bid_qty: int = 100, qty: int = 10, side: Side = BUY):
    """An exchange with bid 100 x ``bid_qty``, ask 101 x 50 and our order resting at the touch."""
    ex = make(queue_model=model)
    tape = Tape(ex)
    tape.snapshot([(100, bid_qty)], [(101, 50)])
    price = 100 if side is BUY else 101
    ex.place(order("o", side, qty, price=price))
    ex.advance(ex.now)
    return ex, tape


def hit(tape: Tape, qty: int, level: list[int], price: int = 100) -> None:
    """A seller hits the bid at ``price`` for ``qty``; the feed then takes the lots off."""
    tape.trade(ASK, price, qty)
    level[0] = max(level[0] - qty, 0)
    tape.set(BID, price, level[0])


@pytest.mark.parametrize("model", MODELS, ids=repr)
def test_not_filled_before_the_volume_ahead_has_traded(model):
    ex, tape = resting(model)
    level = [100]
    for _ in range(3):
        hit(tape, 30, level)  # 90 of the 100 ahead
        assert filled(ex, "o") == 0
    assert ex.open_orders()[0].status is OrderStatus.ACCEPTED
    hit(tape, 15, level)  # 10 more ahead, then 5 reach us
    assert filled(ex, "o") == 5
    fill = ex.executions()[-1]
    assert fill.maker and fill.price_ticks == 100
    hit(tape, 20, level)
    assert filled(ex, "o") == 10
    assert ex.order("o").status is OrderStatus.FILLED


@pytest.mark.parametrize("model", MODELS, ids=repr)
def test_random_trades_never_fill_early(model):
    """Without cancels, fills are exactly what traded beyond the volume ahead."""
    rng = np.random.default_rng(11)
    for _ in range(20):
        ahead = int(rng.integers(1, 300))
        ex, tape = resting(model, bid_qty=ahead, qty=25)
        level, traded = [ahead], 0
        while traded < ahead + 25:
            qty = int(rng.integers(1, 40))
            hit(tape, qty, level)
            traded += qty
            assert filled(ex, "o") == min(max(traded - ahead, 0), 25)


@pytest.mark.parametrize("model", MODELS, ids=repr)
def test_joining_behind_does_not_move_us(model):
    ex, tape = resting(model, bid_qty=40)
    tape.set(BID, 100, 500)  # a wall joins behind us
    tape.trade(ASK, 100, 45)
    assert filled(ex, "o") == 5


def test_probabilistic_fills_earlier_when_the_level_shrinks_by_cancels():
    """100 ahead, 100 join behind, 80 are cancelled, then 70 trade."""
    results = {}
    for model in (RiskAverseQueueModel(), ProbQueueModel(2)):
        ex, tape = resting(model, bid_qty=100)
        tape.set(BID, 100, 200)
        tape.set(BID, 100, 120)  # cancels: the models disagree on where they were
        level = [120]
        hit(tape, 70, level)
        first = filled(ex, "o")
        hit(tape, 35, level)
        results[repr(model)] = (first, filled(ex, "o"))
    # risk-averse: all 80 cancels behind, 100 ahead: 70 + 35 traded leave 5 for us;
    # prob (n=2): 40 of the cancels ahead, 60 ahead: the first 70 already fill 10
    assert results["RiskAverseQueueModel()"] == (0, 5)
    assert results["ProbQueueModel(n=2)"] == (10, 10)


def test_a_trade_on_our_own_side_does_not_fill_us():
    ex, tape = resting(RiskAverseQueueModel(), bid_qty=0)
    tape.trade(BID, 101, 50)  # a buyer lifts the ask: no seller reached our bid
    assert filled(ex, "o") == 0


@pytest.mark.parametrize("model", MODELS, ids=repr)
def test_a_trade_through_our_price_fills_at_our_price(model):
    ex, tape = resting(model, bid_qty=100, qty=10)
    tape.trade(ASK, 99, 4)  # a seller printed below our bid: it went through us
    assert [(f.price_ticks, f.qty_lots, f.maker) for f in ex.executions()] == [(100, 4, True)]
    tape.trade(ASK, 98, 50)  # capped by our size, not by the print
    assert filled(ex, "o") == 10
    ex2, tape2 = resting(model, qty=10, side=SELL)
    tape2.trade(BID, 102, 3)  # a buyer paid above our offer
    assert [(f.price_ticks, f.qty_lots) for f in ex2.executions()] == [(101, 3)]


def test_the_opposite_book_moving_through_our_price_fills_us():
    ex, tape = resting(RiskAverseQueueModel(), bid_qty=100, qty=10)
    tape.set(ASK, 100, 4)  # a new ask at our bid: 4 new lots cross us
    assert [(f.price_ticks, f.qty_lots, f.maker) for f in ex.executions()] == [(100, 4, True)]
    tape.set(ASK, 100, 3)  # shrinking adds nothing
    assert filled(ex, "o") == 4
    tape.set(ASK, 99, 20)  # further through: fills the rest, at our own price
    assert [(f.price_ticks, f.qty_lots) for f in ex.executions()][-1] == (100, 6)
    assert ex.order("o").status is OrderStatus.FILLED


def test_our_orders_at_one_price_share_a_trade():
    ex = make()
    tape = Tape(ex)
    tape.snapshot([(100, 10)], [(101, 10)])
    ex.place(order("a", BUY, 5, price=100))
    ex.place(order("b", BUY, 5, price=100))
    ex.advance(ex.now)
    tape.trade(ASK, 100, 17)  # 10 ahead of both, 7 left: a takes 5, b only 2
    assert (filled(ex, "a"), filled(ex, "b")) == (5, 2)
    ex.place(order("c", BUY, 50, price=101))  # takes the ask, then rests at 101
    ex.advance(ex.now)
    tape.trade(ASK, 99, 6)  # through 101 and 100: better price first, within 6 lots
    assert filled(ex, "c") == 10 + 6 and filled(ex, "b") == 2


@pytest.mark.parametrize("model", MODELS, ids=repr)
def test_a_snapshot_resync_keeps_the_queue_position(model):
    ex, tape = resting(model, bid_qty=100)
    tape.snapshot([(100, 100), (99, 5)], [(101, 50)], ts=T0 + 1)
    tape.trade(ASK, 100, 60)
    assert filled(ex, "o") == 0  # still 100 ahead, not sent to the front by the CLEAR
    tape.snapshot([(100, 30)], [(101, 50)], ts=T0 + 2)  # the level shrank meanwhile
    tape.trade(ASK, 100, 35)
    assert filled(ex, "o") == 5


def test_a_snapshot_that_crosses_us_fills_with_the_new_lots_only():
    ex, tape = resting(RiskAverseQueueModel(), bid_qty=100, qty=10)
    tape.snapshot([(99, 10)], [(100, 3), (101, 50)], ts=T0 + 1)
    assert filled(ex, "o") == 3
    tape.snapshot([(99, 10)], [(100, 3), (101, 50)], ts=T0 + 2)  # the same lots again
    assert filled(ex, "o") == 3


def test_cancel_removes_a_resting_order():
    ex, tape = resting(RiskAverseQueueModel(), bid_qty=0)
    ex.cancel(0, "o")
    ex.advance(ex.now)
    tape.trade(ASK, 100, 10)
    assert filled(ex, "o") == 0
    assert ex.order("o").status is OrderStatus.CANCELLED
