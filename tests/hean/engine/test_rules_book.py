"""HL2 v1 book rules, hand-worked from the spec ("Apply", record fields, status bits).

Every expectation below was derived from the spec text, not from the mirror's output.
"""

from __future__ import annotations

from hean.wire import Status

from .rulekit import ASK, BID, BOTH, BUY, CLEAR, HB, SELL, SET, STATE_FIELDS, TRADE

END, SNAP = 1, 2  # input flag bits


def _fields(r, *names):
    return tuple(r[n] for n in names)


# --- SET: insert, replace, delete -------------------------------------------------


def test_first_set_on_empty_book(engine):
    e = engine()
    r = e.one(SET(BID, 100, 5))
    assert e.book(0) == ([(100, 5)], [])
    assert _fields(r, "bid_px", "bid_qty", "ask_px", "ask_qty") == (100, 5, 0, 0)
    assert _fields(r, "depth_bid", "depth_ask", "levels_bid", "levels_ask") == (5, 0, 1, 0)
    assert r["status"] == Status.ASK_EMPTY


def test_bid_insert_at_end_start_middle(engine):
    e = engine(K=4)
    # bids are strictly descending; i = number of levels with price > p
    r = e.one(SET(BID, 100, 1))
    assert e.book(0)[0] == [(100, 1)]
    r = e.one(SET(BID, 98, 2))  # i = 1 (100 > 98): end
    assert e.book(0)[0] == [(100, 1), (98, 2)]
    assert _fields(r, "levels_bid", "depth_bid", "bid_px", "bid_qty") == (2, 3, 100, 1)
    r = e.one(SET(BID, 102, 3))  # i = 0: new best
    assert e.book(0)[0] == [(102, 3), (100, 1), (98, 2)]
    assert _fields(r, "levels_bid", "depth_bid", "bid_px", "bid_qty") == (3, 6, 102, 3)
    r = e.one(SET(BID, 99, 4))  # i = 2 (102, 100 > 99): middle
    assert e.book(0)[0] == [(102, 3), (100, 1), (99, 4), (98, 2)]
    assert _fields(r, "levels_bid", "depth_bid", "bid_px", "bid_qty") == (4, 10, 102, 3)
    assert e.book(0)[1] == []


def test_ask_insert_at_end_start_middle(engine):
    e = engine(K=4)
    # asks are strictly ascending; i = number of levels with price < p
    e.one(SET(ASK, 100, 1))
    r = e.one(SET(ASK, 102, 2))  # i = 1: end
    assert e.book(0)[1] == [(100, 1), (102, 2)]
    assert _fields(r, "levels_ask", "depth_ask", "ask_px", "ask_qty") == (2, 3, 100, 1)
    r = e.one(SET(ASK, 98, 3))  # i = 0: new best
    assert e.book(0)[1] == [(98, 3), (100, 1), (102, 2)]
    assert _fields(r, "levels_ask", "depth_ask", "ask_px", "ask_qty") == (3, 6, 98, 3)
    r = e.one(SET(ASK, 101, 4))  # i = 2 (98, 100 < 101): middle
    assert e.book(0)[1] == [(98, 3), (100, 1), (101, 4), (102, 2)]
    assert _fields(r, "levels_ask", "depth_ask", "ask_px", "ask_qty") == (4, 10, 98, 3)
    assert e.book(0)[0] == []
    assert r["status"] == Status.BID_EMPTY


def test_replace_existing_level(engine):
    e = engine()
    e.send(SET(BID, 100, 5), SET(BID, 99, 6), SET(ASK, 101, 7))
    r = e.one(SET(BID, 100, 8))
    assert e.book(0) == ([(100, 8), (99, 6)], [(101, 7)])
    assert _fields(r, "bid_qty", "levels_bid", "depth_bid") == (8, 2, 14)
    r = e.one(SET(ASK, 101, 2))
    assert e.book(0)[1] == [(101, 2)]
    assert _fields(r, "ask_qty", "levels_ask", "depth_ask") == (2, 1, 2)
    r = e.one(SET(BID, 99, 1))  # replace a non-best level
    assert e.book(0)[0] == [(100, 8), (99, 1)]
    assert _fields(r, "bid_px", "bid_qty", "depth_bid") == (100, 8, 9)


def test_delete_level_moves_worse_levels_up(engine):
    e = engine()
    e.send(SET(BID, 100, 5), SET(BID, 99, 6), SET(BID, 98, 7), SET(ASK, 101, 1), SET(ASK, 102, 2))
    r = e.one(SET(BID, 100, 0))  # delete best: 99 becomes best
    assert e.book(0)[0] == [(99, 6), (98, 7)]
    assert _fields(r, "bid_px", "bid_qty", "levels_bid", "depth_bid") == (99, 6, 2, 13)
    r = e.one(SET(ASK, 101, 0))
    assert e.book(0)[1] == [(102, 2)]
    assert _fields(r, "ask_px", "ask_qty", "levels_ask", "depth_ask") == (102, 2, 1, 2)
    r = e.one(SET(BID, 98, 0))  # delete the last (worst) level
    assert e.book(0)[0] == [(99, 6)]
    assert _fields(r, "levels_bid", "depth_bid") == (1, 6)


def test_delete_missing_level_changes_nothing(engine):
    e = engine()
    before = e.send(SET(BID, 100, 5), SET(BID, 98, 6), SET(ASK, 101, 7))[-1]
    book = e.book(0)
    for m in (SET(BID, 99, 0), SET(BID, 101, 0), SET(ASK, 100, 0), SET(ASK, 200, 0)):
        r = e.one(m)
        assert e.book(0) == book
        assert r["status"] == 0  # in particular not DROPPED
        assert r["ofi_event"] == 0
        for name in ("bid_px", "bid_qty", "ask_px", "ask_qty", "depth_bid", "depth_ask"):
            assert r[name] == before[name]
    assert e.counters().dropped == 0


def test_delete_on_empty_side_changes_nothing(engine):
    e = engine()
    r = e.one(SET(ASK, 50, 0))
    assert e.book(0) == ([], [])
    assert r["status"] == Status.BID_EMPTY | Status.ASK_EMPTY
    assert r["levels_ask"] == 0 and r["ofi_event"] == 0


# --- K levels: discard past K-1, DROPPED at i == K -----------------------------------


def test_bid_insert_on_full_side_discards_worst(engine):
    e = engine(K=4)
    e.send(SET(BID, 110, 1), SET(BID, 108, 2), SET(BID, 106, 3), SET(BID, 104, 4))
    assert e.book(0)[0] == [(110, 1), (108, 2), (106, 3), (104, 4)]
    # i = 3 (= K-1): (104, 4) pushed to index 4 and discarded; depth 10 - 4 + 5 = 11
    r = e.one(SET(BID, 105, 5))
    assert e.book(0)[0] == [(110, 1), (108, 2), (106, 3), (105, 5)]
    assert _fields(r, "levels_bid", "depth_bid") == (4, 11)
    assert not r["status"] & Status.DROPPED
    # i = 1: (105, 5) discarded; depth 11 - 5 + 6 = 12
    r = e.one(SET(BID, 109, 6))
    assert e.book(0)[0] == [(110, 1), (109, 6), (108, 2), (106, 3)]
    assert _fields(r, "levels_bid", "depth_bid") == (4, 12)
    # i = 0: (106, 3) discarded; depth 12 - 3 + 1 = 10 (drops)
    r = e.one(SET(BID, 111, 1))
    assert e.book(0)[0] == [(111, 1), (110, 1), (109, 6), (108, 2)]
    assert _fields(r, "levels_bid", "depth_bid", "bid_px", "bid_qty") == (4, 10, 111, 1)
    assert e.counters().dropped == 0


def test_ask_insert_on_full_side_discards_worst(engine):
    e = engine(K=4)
    e.send(SET(ASK, 10, 1), SET(ASK, 12, 2), SET(ASK, 14, 3), SET(ASK, 16, 4))
    r = e.one(SET(ASK, 15, 5))  # i = 3: (16, 4) discarded; depth 10 - 4 + 5 = 11
    assert e.book(0)[1] == [(10, 1), (12, 2), (14, 3), (15, 5)]
    assert _fields(r, "levels_ask", "depth_ask") == (4, 11)
    r = e.one(SET(ASK, 9, 1))  # i = 0: (15, 5) discarded; depth 11 - 5 + 1 = 7
    assert e.book(0)[1] == [(9, 1), (10, 1), (12, 2), (14, 3)]
    assert _fields(r, "levels_ask", "depth_ask", "ask_px", "ask_qty") == (4, 7, 9, 1)
    assert not r["status"] & Status.DROPPED


def test_set_worse_than_full_side_is_dropped(engine):
    e = engine(K=4)
    e.send(SET(BID, 111, 1), SET(BID, 110, 1), SET(BID, 109, 6), SET(BID, 108, 2))
    e.send(SET(ASK, 120, 3))
    book = e.book(0)
    r = e.one(SET(BID, 107, 9))  # i = 4 == K
    assert e.book(0) == book
    assert r["status"] == Status.DROPPED
    assert _fields(r, "levels_bid", "depth_bid", "ofi_event") == (4, 10, 0)
    assert e.counters().dropped == 1
    r = e.one(SET(BID, 1, 9))
    assert r["status"] == Status.DROPPED and e.book(0) == book
    assert e.counters().dropped == 2
    # DROPPED is per record, not sticky
    r = e.one(HB())
    assert r["status"] == 0
    # no level at p and q == 0 comes first: nothing changes, and it is NOT a drop
    r = e.one(SET(BID, 107, 0))
    assert r["status"] == 0 and e.book(0) == book
    assert e.counters().dropped == 2
    # replacing the worst level of a full side is fine
    r = e.one(SET(BID, 108, 7))
    assert r["status"] == 0
    assert e.book(0)[0] == [(111, 1), (110, 1), (109, 6), (108, 7)]
    # after a delete there is room again: i = 3 < K
    e.one(SET(BID, 110, 0))
    r = e.one(SET(BID, 107, 9))
    assert r["status"] == 0
    assert e.book(0)[0] == [(111, 1), (109, 6), (108, 7), (107, 9)]
    assert _fields(r, "levels_bid", "depth_bid") == (4, 23)  # 1 + 6 + 7 + 9
    assert e.counters().dropped == 2


def test_ask_set_worse_than_full_side_is_dropped(engine):
    e = engine(K=4)
    e.send(SET(ASK, 10, 1), SET(ASK, 12, 2), SET(ASK, 14, 3), SET(ASK, 16, 4))
    r = e.one(SET(ASK, 17, 5, flags=END))
    assert r["status"] == Status.DROPPED | Status.BID_EMPTY | Status.END
    assert e.book(0)[1] == [(10, 1), (12, 2), (14, 3), (16, 4)]
    assert e.counters().dropped == 1


# --- ordering ------------------------------------------------------------------------


def test_sides_are_ordered(engine):
    e = engine(K=8)
    for px, q in ((5, 1), (9, 2), (1, 3), (7, 4), (3, 5)):
        e.one(SET(BID, px, q))
        e.one(SET(ASK, 100 + px, q))
    bids, asks = e.book(0)
    assert bids == [(9, 2), (7, 4), (5, 1), (3, 5), (1, 3)]
    assert asks == [(101, 3), (103, 5), (105, 1), (107, 4), (109, 2)]


# --- CLEAR, HEARTBEAT, TRADE -------------------------------------------------------


def _book_with_icebergs(e):
    """Bids 100x10, 99x20; asks 101x10, 102x20; one refill tracked on each side."""
    e.send(SET(BID, 100, 10), SET(BID, 99, 20), SET(ASK, 101, 10), SET(ASK, 102, 20))
    e.send(TRADE(SELL, 100, 3), SET(BID, 100, 10))  # bid: px 100, absorbed 3, refills 1
    r = e.send(TRADE(BUY, 101, 4), SET(ASK, 101, 10))[-1]  # ask: px 101, absorbed 4, refills 1
    assert _fields(r, "ice_px_bid", "ice_absorbed_bid", "ice_refills_bid") == (100, 3, 1)
    assert _fields(r, "ice_px_ask", "ice_absorbed_ask", "ice_refills_ask") == (101, 4, 1)
    # flows: sell 3 -> buy 4, sell 3 - (3 >> 4) = 3
    assert _fields(r, "buy_flow", "sell_flow") == (4, 3)
    return r


def test_clear_bid_side(engine):
    e = engine()
    _book_with_icebergs(e)
    r = e.one(CLEAR(BID))
    assert e.book(0) == ([], [(101, 10), (102, 20)])
    assert _fields(r, "bid_px", "bid_qty", "depth_bid", "levels_bid") == (0, 0, 0, 0)
    assert _fields(r, "ask_px", "ask_qty", "depth_ask", "levels_ask") == (101, 10, 30, 2)
    assert _fields(r, "ice_px_bid", "ice_absorbed_bid", "ice_refills_bid") == (0, 0, 0)
    assert _fields(r, "ice_px_ask", "ice_absorbed_ask", "ice_refills_ask") == (101, 4, 1)
    assert _fields(r, "buy_flow", "sell_flow") == (4, 3)
    assert r["status"] == Status.BID_EMPTY
    # the old tracked price is gone: a SET there is not a refill
    r = e.one(SET(BID, 100, 10))
    assert _fields(r, "ice_px_bid", "ice_refills_bid") == (0, 0)


def test_clear_ask_side(engine):
    e = engine()
    _book_with_icebergs(e)
    r = e.one(CLEAR(ASK))
    assert e.book(0) == ([(100, 10), (99, 20)], [])
    assert _fields(r, "ask_px", "ask_qty", "depth_ask", "levels_ask") == (0, 0, 0, 0)
    assert _fields(r, "bid_px", "bid_qty", "depth_bid", "levels_bid") == (100, 10, 30, 2)
    assert _fields(r, "ice_px_ask", "ice_absorbed_ask", "ice_refills_ask") == (0, 0, 0)
    assert _fields(r, "ice_px_bid", "ice_absorbed_bid", "ice_refills_bid") == (100, 3, 1)
    assert r["status"] == Status.ASK_EMPTY


def test_clear_both_sides(engine):
    e = engine()
    _book_with_icebergs(e)
    r = e.one(CLEAR(BOTH))
    assert e.book(0) == ([], [])
    for name in ("bid_px", "bid_qty", "ask_px", "ask_qty", "depth_bid", "depth_ask"):
        assert r[name] == 0
    for name in ("ice_px_bid", "ice_px_ask", "ice_absorbed_bid", "ice_absorbed_ask"):
        assert r[name] == 0
    assert r["ice_refills_bid"] == r["ice_refills_ask"] == 0
    assert _fields(r, "buy_flow", "sell_flow") == (4, 3)  # CLEAR leaves flows alone
    assert r["status"] == Status.BID_EMPTY | Status.ASK_EMPTY


def test_clear_touches_only_its_instrument(engine):
    e = engine(N=2)
    e.send(SET(BID, 100, 1, inst=0), SET(BID, 200, 2, inst=1))
    e.one(CLEAR(BOTH, inst=0))
    assert e.book(0) == ([], [])
    assert e.book(1) == ([(200, 2)], [])


def test_heartbeat_changes_nothing_but_ofi_decay(engine):
    e = engine()
    prev = e.send(SET(BID, 100, 64), SET(ASK, 101, 0), TRADE(BUY, 100, 16))[-1]
    # ofi: +64 -> 64; e=0 -> 64 - (64 >> 6) = 63; trade e=0 -> 63 - (63 >> 6) = 63
    assert prev["ofi"] == 63
    book = e.book(0)
    r = e.one(HB(side=7, price=5, qty=9))  # side/price/qty ignored for HEARTBEAT
    assert e.book(0) == book
    for name in STATE_NO_OFI:
        assert r[name] == prev[name], name
    assert r["ofi_event"] == 0
    assert r["ofi"] == 63 - (63 >> 6)  # 63: decay still runs on a HEARTBEAT
    assert r["status"] == Status.ASK_EMPTY


STATE_NO_OFI = tuple(f for f in STATE_FIELDS if f != "ofi")


def test_trade_does_not_change_book(engine):
    e = engine()
    e.send(SET(BID, 100, 10), SET(ASK, 101, 10))
    book = e.book(0)
    r = e.one(TRADE(SELL, 100, 10))  # the whole best bid traded: still there
    assert e.book(0) == book
    assert _fields(r, "bid_px", "bid_qty", "ask_px", "ask_qty") == (100, 10, 101, 10)
    r = e.one(TRADE(BUY, 95, 3))  # a price not in the book
    assert e.book(0) == book and r["ofi_event"] == 0


# --- best-level fields and status bits --------------------------------------------


def test_initial_record_is_all_zero(engine):
    e = engine()
    r = e.one(HB(seq=7, recv=12345))
    for name, v in r.items():
        if name == "status":
            assert v == Status.BID_EMPTY | Status.ASK_EMPTY
        elif name == "seq":
            assert v == 7
        elif name == "type":
            assert v == 4
        elif name == "recv_ts_ns":
            assert v == 12345
        else:
            assert v == 0, name


def test_empty_ask_reads_zero_in_record(engine):
    e = engine()
    e.send(SET(BID, 100, 5), SET(ASK, 101, 4))
    r = e.one(SET(ASK, 101, 0))
    # the record says 0 for an empty ask, although OFI read it as (0xFFFFFFFF, 0):
    # e = -[0xFFFFFFFF <= 101]*0 + [0xFFFFFFFF >= 101]*4 = +4
    assert _fields(r, "ask_px", "ask_qty", "levels_ask", "depth_ask") == (0, 0, 0, 0)
    assert r["ofi_event"] == 4
    assert r["status"] == Status.ASK_EMPTY  # bid 100 >= ask_px 0 but NOT crossed


def test_crossed(engine):
    e = engine()
    assert e.one(SET(BID, 100, 1))["status"] == Status.ASK_EMPTY
    assert e.one(SET(ASK, 101, 1))["status"] == 0
    assert e.one(SET(ASK, 100, 1))["status"] == Status.CROSSED  # bid_px == ask_px
    assert e.one(SET(ASK, 99, 2))["status"] == Status.CROSSED  # bid_px > ask_px
    e.one(SET(ASK, 99, 0))
    assert e.one(SET(ASK, 100, 0))["status"] == 0  # asks [(101, 1)]
    assert e.one(SET(ASK, 101, 0))["status"] == Status.ASK_EMPTY
    e.one(CLEAR(BID))
    assert e.one(SET(ASK, 5, 1))["status"] == Status.BID_EMPTY


def test_empty_bits(engine):
    e = engine()
    assert e.one(HB())["status"] == Status.BID_EMPTY | Status.ASK_EMPTY
    assert e.one(SET(ASK, 7, 1))["status"] == Status.BID_EMPTY
    assert e.one(SET(BID, 6, 1))["status"] == 0
    assert e.one(SET(ASK, 7, 0))["status"] == Status.ASK_EMPTY


def test_end_and_snapshot_echo(engine):
    e = engine()
    r = e.one(SET(BID, 100, 1, flags=END))
    assert r["status"] == Status.ASK_EMPTY | Status.END
    r = e.one(SET(BID, 100, 1, flags=SNAP))
    assert r["status"] == Status.ASK_EMPTY | Status.SNAPSHOT
    r = e.one(CLEAR(BOTH, flags=END | SNAP))
    assert r["status"] == Status.BID_EMPTY | Status.ASK_EMPTY | Status.END | Status.SNAPSHOT
    r = e.one(HB(flags=END))
    assert r["status"] == Status.BID_EMPTY | Status.ASK_EMPTY | Status.END
    r = e.one(TRADE(BUY, 5, 1, flags=SNAP))
    assert r["status"] == Status.BID_EMPTY | Status.ASK_EMPTY | Status.SNAPSHOT


def test_echo_fields(engine):
    e = engine(N=3)
    r = e.one(SET(BID, 100, 1, inst=2, seq=0xDEADBEEF, recv=2**63 + 5, exch=77))
    assert _fields(r, "seq", "instrument", "type", "recv_ts_ns") == (0xDEADBEEF, 2, 1, 2**63 + 5)


def test_snapshot_rebuild(engine):
    e = engine()
    e.send(SET(BID, 100, 5), SET(BID, 99, 1), SET(ASK, 103, 2))
    rs = e.send(
        CLEAR(BOTH, flags=SNAP),
        SET(BID, 98, 4, flags=SNAP),
        SET(ASK, 102, 6, flags=SNAP | END),
    )
    assert e.book(0) == ([(98, 4)], [(102, 6)])
    assert rs[-1]["status"] == Status.SNAPSHOT | Status.END
    assert _fields(rs[-1], "bid_px", "bid_qty", "ask_px", "ask_qty") == (98, 4, 102, 6)
