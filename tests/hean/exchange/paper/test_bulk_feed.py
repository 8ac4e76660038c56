"""The bulk path of ``PaperExchange.feed()`` gives exactly what message by message gives.

Every run is made twice: once through ``feed()`` (bulk while nothing of ours rests or
is due) and once through ``on_message()`` per row (always the per-message path), and
the two exchanges must agree on everything: books, clock, counters, feed latency,
rebuild and taken-lots state, fills, reports and orders.
"""

from __future__ import annotations

import numpy as np
import pytest

from hean.domain import InstrumentSpec, OrderRequest, Side, TimeInForce
from hean.exchange.paper import LatencyModel, PaperExchange, ProbQueueModel, RiskAverseQueueModel
from hean.exchange.paper.book import L2Book
from hean.feeds.synth import SynthConfig, generate
from hean.wire import Flag, MsgType, messages

from . import test_session
from .helpers import ASK, BID, SPEC, T0

BOTH = 2
FAR = 10**30  # a time after every report


class PerMessageExchange(PaperExchange):
    """A paper exchange whose ``feed()`` is ``on_message()`` row by row: the reference."""

    def feed(self, msgs: np.ndarray) -> None:
        for row in msgs:
            self.on_message(row)


def state(ex: PaperExchange) -> dict:
    """Everything observable (and the matchers' hidden feed state) of an exchange."""
    books = {}
    for i, m in ex._matchers.items():
        book = ex.book(i)
        books[i] = (
            book.levels(BID), book.levels(ASK), book.snapshot(BID), book.snapshot(ASK),
            book.best_bid(), book.best_ask(), book.depth(BID), book.depth(ASK),
            list(m._saved.items()), m._taken, m.position,
        )  # fmt: skip
    return {
        "now": ex.now,
        "bad": ex.bad_messages,
        "foreign": ex.foreign_messages,
        "latency": ex.feed_latency.summary(),
        "samples": ex.feed_latency.samples().tolist(),
        "books": books,
        "fills": ex.executions(),
        "open": ex.open_orders(),
        "positions": ex.positions(),
        "in_flight": ex.in_flight(),
    }


def assert_same(fast: PaperExchange, slow: PaperExchange) -> None:
    assert state(fast) == state(slow)
    assert fast.reports(FAR) == slow.reports(FAR)


def synth(faults: bool, n: int = 30_000, seed: int = 2) -> tuple[np.ndarray, dict]:
    msgs, sidecar = generate(
        SynthConfig(instruments=3, messages=n, levels=20, seed=seed, faults=faults)
    )
    # instrument 2 is left out, so its messages are foreign
    specs = {i.id: InstrumentSpec.from_sidecar(i) for i in sidecar.instruments if i.id < 2}
    return msgs, specs


@pytest.mark.parametrize("faults", [False, True], ids=["clean", "faults"])
@pytest.mark.parametrize("chunks", [1, 7, 300])
def test_an_idle_session_matches_per_message(faults, chunks):
    msgs, specs = synth(faults)
    fast, slow = PaperExchange(specs), PerMessageExchange(specs)
    for chunk in np.array_split(msgs, chunks):
        fast.feed(chunk)
        slow.feed(chunk)
        assert state(fast) == state(slow)
    assert fast.foreign_messages > 0 and fast.book(0).depth(BID) > 0
    if faults:
        assert fast.bad_messages > 0


@pytest.mark.parametrize("model", [RiskAverseQueueModel(), ProbQueueModel(3)], ids=repr)
def test_the_random_order_session_matches_per_message(model, monkeypatch):
    fast, _, _ = test_session.run(model, seed=3)
    monkeypatch.setattr(test_session, "PaperExchange", PerMessageExchange)
    slow, _, _ = test_session.run(model, seed=3)
    assert type(slow) is PerMessageExchange
    assert len(fast.executions()) > 100
    assert_same(fast, slow)


@pytest.mark.parametrize("faults", [False, True], ids=["clean", "faults"])
@pytest.mark.parametrize("entry_ms", [0, 3, 40])
def test_orders_placed_cancelled_and_filled_inside_big_batches(faults, entry_ms):
    """Few large batches, so requests arrive, rest and finish deep inside a batch."""
    msgs, specs = synth(faults, n=20_000, seed=5)
    runs = []
    for cls in (PaperExchange, PerMessageExchange):
        ex = cls(specs, queue_model=ProbQueueModel(2), latency=LatencyModel(entry_ms * 10**6))
        rng = np.random.default_rng(11)
        for k, chunk in enumerate(np.array_split(msgs, 12)):
            ex.feed(chunk)
            t = int(chunk["recv_ts_ns"][-1])
            for inst in specs:
                bid, ask = ex.book(inst).best_bid(), ex.book(inst).best_ask()
                if bid is None or ask is None:
                    continue
                side = Side.BUY if k % 2 else Side.SELL
                touch = bid[0] if side is Side.BUY else ask[0]
                qty = int(rng.integers(1, 300))
                ex.place(OrderRequest(t, inst, side, qty, touch, "b", f"p{k}-{inst}"))
                ex.place(OrderRequest(t, inst, side, qty, None, "b", f"m{k}-{inst}"))
                tif = TimeInForce.IOC if k % 3 == 0 else TimeInForce.GTC
                ex.place(OrderRequest(t, inst, side, qty, touch + side.sign, "b", f"x{k}-{inst}",
                                      tif=tif))  # fmt: skip
            for o in ex.open_orders():
                if rng.random() < 0.3:
                    ex.cancel(o.request.instrument, o.request.link_id, ts_ns=t)
        ex.advance(int(msgs["exch_ts_ns"].max()) + 10**9)
        runs.append(ex)
    assert len(runs[0].executions()) > 20
    assert_same(*runs)


def rows(*specs: tuple[int, int, int, int, int]) -> np.ndarray:
    """HL2 messages of instrument 0: (type, side, price, qty, flags), 1 ms apart."""
    return messages(
        [
            (mtype, side, flags, 0, k + 1, price, qty, T0 + k * 10**6, T0 + k * 10**6 + 300)
            for k, (mtype, side, price, qty, flags) in enumerate(specs)
        ]
    )


SET, TRADE, CLEAR, HB = MsgType.SET, MsgType.TRADE, MsgType.CLEAR, MsgType.HEARTBEAT
END = Flag.END


def test_a_rebuild_left_open_by_a_batch_is_the_same():
    """A batch ends inside a snapshot: the sides saved before the CLEAR must be the same."""
    book = rows((SET, BID, 100, 5, END), (SET, ASK, 102, 7, END), (SET, BID, 99, 3, END))
    resync = rows((CLEAR, BID, 0, 0, 0), (SET, BID, 101, 4, 0), (CLEAR, ASK, 0, 0, 0),
                  (SET, ASK, 103, 2, 0))  # fmt: skip
    resync["exch_ts_ns"] += 10 * 10**6
    done = rows((SET, ASK, 104, 9, END), (TRADE, ASK, 101, 3, END), (HB, 0, 0, 0, 0))
    done["exch_ts_ns"] += 20 * 10**6
    runs = []
    for cls in (PaperExchange, PerMessageExchange):
        ex = cls({0: SPEC})
        ex.feed(book)
        ex.feed(resync[:2])  # the bid side is saved in one batch, the ask in the next
        ex.feed(resync[2:])
        assert [s for s, _ in ex._matchers[0]._saved.items()] == [BID, ASK]
        ex.place(OrderRequest(0, 0, Side.BUY, 4, 101, "t", "a"))
        ex.place(OrderRequest(0, 0, Side.SELL, 2, None, "t", "m"))
        ex.feed(done)
        runs.append(ex)
    assert_same(*runs)


def test_taken_lots_are_forgotten_as_in_the_per_message_path():
    """Lots our market order took stay hidden until the feed updates or clears them."""
    book = rows((SET, ASK, 102, 7, END), (SET, ASK, 103, 8, END), (SET, ASK, 104, 9, END),
                (SET, BID, 99, 9, END))  # fmt: skip
    later = rows((SET, ASK, 103, 6, END), (TRADE, BID, 102, 1, END), (CLEAR, BID, 0, 0, END),
                 (SET, BID, 98, 1, END))  # fmt: skip
    later["exch_ts_ns"] += 10 * 10**6
    runs = []
    for cls in (PaperExchange, PerMessageExchange):
        ex = cls({0: SPEC})
        ex.feed(book)
        ex.place(OrderRequest(0, 0, Side.BUY, 12, None, "t", "m"))
        ex.place(OrderRequest(0, 0, Side.SELL, 5, None, "t", "s"))
        ex.advance(ex.now)
        assert ex._matchers[0]._taken[ASK] and ex._matchers[0]._taken[BID]
        ex.feed(later)
        runs.append(ex)
    assert runs[0]._matchers[0]._taken == ({}, {102: 7})  # 103 updated, bids cleared
    assert_same(*runs)


def test_bad_and_timeless_messages_in_a_batch():
    msgs = rows((SET, BID, 100, 5, END), (SET, 3, 100, 5, END), (TRADE, BID, 101, 0, END),
                (CLEAR, 5, 0, 0, 0), (9, 0, 0, 0, 0), (SET, ASK, 0, 5, END),
                (SET, ASK, 0x8000_0000, 1, END), (SET, ASK, 105, 2, END),
                (HB, 0, 0, 0, END))  # fmt: skip
    msgs["exch_ts_ns"][-2:] = [0, T0 + 10**12]  # no time, then a time far ahead for a bad one
    msgs["type"][-1] = 7
    runs = []
    for cls in (PaperExchange, PerMessageExchange):
        ex = cls({0: SPEC})
        ex.feed(msgs)
        runs.append(ex)
    assert runs[0].bad_messages == 7 and runs[0].now == T0
    assert_same(*runs)


def test_merge_equals_setting_level_by_level():
    rng = np.random.default_rng(4)
    for _ in range(200):
        a, b = L2Book(), L2Book()
        for p in rng.integers(1, 60, size=int(rng.integers(0, 40))).tolist():
            a.set(BID, p, 3)
            b.set(BID, p, 3)
        ops = [(int(p), int(q)) for p, q in rng.integers(0, 60, size=(int(rng.integers(0, 50)), 2))]
        ops = [(p, q if rng.random() < 0.6 else 0) for p, q in ops if p > 0]
        cleared = bool(rng.random() < 0.2)
        if cleared:
            a.clear(BID)
        for p, q in ops:
            a.set(BID, p, q)
        final = dict(ops)
        b.merge(BID, cleared, sorted(final), [final[p] for p in sorted(final)])
        assert a.levels(BID) == b.levels(BID) and a.snapshot(BID) == b.snapshot(BID)
        assert a.best_bid() == b.best_bid() and a.depth(BID) == b.depth(BID)
