"""The full L2 book: levels from HL2 messages, walking from the touch."""

from __future__ import annotations

import numpy as np
import pytest

from hean.engine import Mirror
from hean.exchange.paper import L2Book
from hean.feeds.synth import SynthConfig, generate
from hean.wire import MsgType, Params
from hean.wire import Side as BookSide

BID, ASK, BOTH = BookSide.BID, BookSide.ASK, BookSide.BOTH


def test_set_delete_and_best():
    book = L2Book()
    assert book.best_bid() is None and book.best_ask() is None
    assert book.set(BID, 100, 5) == 0
    assert book.set(BID, 102, 7) == 0
    assert book.set(BID, 101, 3) == 0
    assert book.set(ASK, 105, 4) == 0
    assert book.set(ASK, 104, 9) == 0
    assert book.best_bid() == (102, 7)
    assert book.best_ask() == (104, 9)
    assert book.set(BID, 102, 2) == 7  # a SET replaces the size, it does not add
    assert book.qty(BID, 102) == 2
    assert book.set(BID, 102, 0) == 2  # qty 0 deletes the level
    assert book.best_bid() == (101, 3)
    assert book.qty(BID, 102) == 0
    assert book.depth(BID) == 2 and book.depth(ASK) == 2
    assert book.set(ASK, 200, 0) == 0  # deleting a missing level is harmless
    assert book.depth(ASK) == 2


def test_levels_walk_from_the_touch():
    book = L2Book()
    for p, q in [(100, 1), (99, 2), (98, 3), (97, 4)]:
        book.set(BID, p, q)
    for p, q in [(101, 5), (103, 6), (102, 7)]:
        book.set(ASK, p, q)
    assert book.levels(BID, 2) == [(100, 1), (99, 2)]
    assert book.levels(BID) == [(100, 1), (99, 2), (98, 3), (97, 4)]
    assert book.levels(BID, 10) == book.levels(BID)
    assert book.levels(BID, 0) == []
    assert book.levels(ASK, 2) == [(101, 5), (102, 7)]
    assert book.levels(ASK) == [(101, 5), (102, 7), (103, 6)]
    assert list(book.iter_levels(ASK)) == book.levels(ASK)
    assert list(book.iter_levels(BID)) == book.levels(BID)


def test_clear_and_apply():
    book = L2Book()
    book.apply(MsgType.SET, BID, 10, 1)
    book.apply(MsgType.SET, ASK, 12, 1)
    book.apply(MsgType.TRADE, ASK, 10, 1)  # a trade does not change the book by itself
    assert book.levels(BID) == [(10, 1)]
    book.apply(MsgType.CLEAR, ASK, 0, 0)
    assert book.best_ask() is None and book.best_bid() == (10, 1)
    book.apply(MsgType.SET, ASK, 12, 1)
    book.apply(MsgType.CLEAR, BOTH, 0, 0)
    assert book.depth(BID) == 0 and book.depth(ASK) == 0


def test_crossed_is_reported_not_repaired():
    book = L2Book()
    book.set(BID, 101, 1)
    book.set(ASK, 101, 1)
    assert book.crossed()
    assert book.best_bid() == (101, 1) and book.best_ask() == (101, 1)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda b: b.set(2, 10, 1), "side"),
        (lambda b: b.set(BID, 0, 1), "price"),
        (lambda b: b.set(BID, 0x80000000, 1), "price"),
        (lambda b: b.set(BID, 10, -1), "size"),
        (lambda b: b.levels(ASK, -1), ">= 0"),
        (lambda b: b.qty(5, 10), "side"),
        (lambda b: b.apply(MsgType.CLEAR, 3, 0, 0), "CLEAR"),
    ],
)
def test_bad_input_is_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call(L2Book())


def test_matches_the_mirror_on_a_synthetic_session():
    """Top of book and total depth after every message agree with the feature engine."""
    msgs, _ = generate(SynthConfig(instruments=1, messages=6000, levels=20, seed=5))
    recs = Mirror(Params(K=32, N=1)).process(msgs)
    book = L2Book()
    rows = msgs.tolist()
    for i, (mtype, side, _flags, _inst, _seq, price, qty, _e, _r) in enumerate(rows):
        book.apply(mtype, side, price, qty)
        rec = recs[i]
        bid, ask = book.best_bid() or (0, 0), book.best_ask() or (0, 0)
        assert (int(rec["bid_px"]), int(rec["bid_qty"])) == bid, i
        assert (int(rec["ask_px"]), int(rec["ask_qty"])) == ask, i
        assert int(rec["depth_bid"]) == sum(q for _, q in book.levels(BID)), i
        assert int(rec["depth_ask"]) == sum(q for _, q in book.levels(ASK)), i
    assert book.depth(BID) == 20 and book.depth(ASK) == 20
    assert np.count_nonzero(msgs["type"] == MsgType.TRADE) > 100
