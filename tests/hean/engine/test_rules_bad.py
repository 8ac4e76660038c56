"""HL2 v1 validity rules: bad messages change no state and report it, by hand."""

from __future__ import annotations

import pytest

from hean.wire import Status

from .rulekit import (
    ASK,
    BID,
    BOTH,
    BUY,
    CLEAR,
    HB,
    RAW,
    SELL,
    SET,
    STATE_BITS,
    STATE_FIELDS,
    TRADE,
)

BAD = Status.BAD_MSG
END, SNAP = 1, 2


def _prefix(e):
    """Instrument 0 and 1 with book, OFI, flows, icebergs and (on 1) a gap.

    Worked by hand with the default parameters (OFI_SHIFT 6, FLOW_SHIFT 4):

    inst 0  seq 1 SET bid 100x10   e = +10            ofi = 10
            seq 2 SET bid 99x5     e = 0              ofi = 10 - (10 >> 6) = 10
            seq 3 SET ask 101x8    e = -8             ofi = 10 - 0 - 8 = 2
            seq 4 TRADE sell 100x400: bid ice px 100, shown 10, absorbed 400
                                   sell_flow 400
            seq 5 TRADE buy 101x300: ask ice px 101, shown 8, absorbed 300
                                   buy_flow 300, sell_flow 400 - (400 >> 4) = 375
            seq 6 SET bid 100x10   pending and 10 >= 10: bid refills 1;  e = 10 - 10 = 0
    inst 1  seq 1 SET ask 200x7    e = -7             ofi = -7
            seq 5 HEARTBEAT        gap;  ofi = -7 - (-7 >> 6) = -7 + 1 = -6
    """
    e.send(
        SET(BID, 100, 10),
        SET(BID, 99, 5),
        SET(ASK, 101, 8),
        TRADE(SELL, 100, 400),
        TRADE(BUY, 101, 300),
        SET(ASK, 200, 7, inst=1, seq=1),
        HB(inst=1, seq=5),
        SET(BID, 100, 10),
    )


STATE0 = {
    "bid_px": 100,
    "bid_qty": 10,
    "ask_px": 101,
    "ask_qty": 8,
    "depth_bid": 15,
    "depth_ask": 8,
    "imb_l1": 3640,  # trunc(2 * 32768 / 18) = trunc(3640.9)
    "imb_depth": 9972,  # trunc(7 * 32768 / 23) = trunc(229376 / 23) = trunc(9972.9)
    "levels_bid": 2,
    "levels_ask": 1,
    "ice_refills_bid": 1,
    "ice_refills_ask": 0,
    "ofi": 2,
    "buy_flow": 300,
    "sell_flow": 375,
    "ice_absorbed_bid": 400,
    "ice_absorbed_ask": 300,
    "ice_px_bid": 100,
    "ice_px_ask": 101,
}
STATUS0 = 0  # both sides, not crossed, no gap, refills 1 < 3: no iceberg bit

STATE1 = dict.fromkeys(STATE_FIELDS, 0) | {
    "ask_px": 200,
    "ask_qty": 7,
    "depth_ask": 7,
    "levels_ask": 1,
    "imb_l1": -32767,  # -7 * 32768 / 7 = -32768, clipped
    "imb_depth": -32767,
    "ofi": -6,
}
STATUS1 = Status.GAP | Status.BID_EMPTY


def test_prefix_is_as_worked(engine):
    e = engine(N=2)
    _prefix(e)
    r0 = e.history[-1]
    r1 = e.history[-2]
    assert {k: r0[k] for k in STATE_FIELDS} == STATE0
    assert r0["status"] == STATUS0
    assert {k: r1[k] for k in STATE_FIELDS} == STATE1
    assert r1["status"] == STATUS1


# Each bad message is chosen so that, were it wrongly applied, it would change state.
BAD_ON_0 = {
    "type 0": RAW(0, BID, 100, 0),
    "type 5": RAW(5, BID, 100, 0),
    "type 255": RAW(255, ASK, 101, 0),
    "SET side 2": SET(2, 100, 0),
    "SET side 3": SET(3, 101, 0),
    "SET side 255": SET(255, 101, 0),
    "TRADE side 2": TRADE(2, 100, 50),
    "TRADE side 255": TRADE(255, 101, 50),
    "SET price 0": SET(BID, 0, 5),
    "SET price 0x80000000": SET(ASK, 0x80000000, 5),
    "SET price 0xFFFFFFFF": SET(ASK, 0xFFFFFFFF, 5),
    "SET bid price 0x80000001": SET(BID, 0x80000001, 5),
    "TRADE price 0": TRADE(BUY, 0, 5),
    "TRADE price 0x80000000": TRADE(SELL, 0x80000000, 5),
    "TRADE price 0xFFFFFFFF": TRADE(BUY, 0xFFFFFFFF, 5),
    "TRADE qty 0 at best ask": TRADE(BUY, 101, 0),
    "TRADE qty 0 at best bid": TRADE(SELL, 100, 0),
    "CLEAR side 3": CLEAR(3),
    "CLEAR side 255": CLEAR(255),
}


@pytest.mark.parametrize("bad", BAD_ON_0.values(), ids=BAD_ON_0.keys())
def test_bad_message_record(engine, bad):
    e = engine(N=2)
    _prefix(e)
    r = e.one({**bad, "seq": 7, "flags": END | SNAP, "recv": 987654321, "hold": True})
    assert (r["seq"], r["instrument"], r["type"], r["recv_ts_ns"]) == (7, 0, bad["type"], 987654321)
    assert r["status"] == STATUS0 | BAD | Status.END | Status.SNAPSHOT
    assert {k: r[k] for k in STATE_FIELDS} == STATE0
    assert r["ofi_event"] == 0
    assert e.counters().bad == 1


@pytest.mark.parametrize("bad", BAD_ON_0.values(), ids=BAD_ON_0.keys())
def test_bad_message_changes_no_state(engine, bad):
    # After the bad message (which reuses seq 7: tracking must not have moved), every
    # instrument behaves exactly as in a run without it.
    suffix = (
        SET(BID, 100, 12),  # would be a refill check on the bid iceberg
        SET(ASK, 101, 8),  # ask refill: pending from the trade, 8 >= 8
        TRADE(BUY, 101, 1),
        HB(inst=1),
        SET(BID, 150, 1, inst=1),
        CLEAR(BID),
    )
    with_bad, without = engine(N=2), engine(N=2)
    _prefix(with_bad)
    _prefix(without)
    with_bad.one({**bad, "hold": True})
    a = with_bad.send(*suffix)
    b = without.send(*suffix)
    assert a == b
    for inst in (0, 1):
        assert with_bad.book(inst) == without.book(inst)
    ca, cb = with_bad.counters(), without.counters()
    assert (ca.bad, ca.messages, ca.gaps, ca.dropped) == (1, cb.messages + 1, cb.gaps, cb.dropped)
    assert cb.bad == 0
    # and the hand-worked start of the suffix: ofi 2 - 0 + (12 - 10) = 4
    assert a[0]["ofi"] == 4 and a[0]["status"] == 0
    assert a[1]["ice_refills_ask"] == 1


@pytest.mark.parametrize("bad", [RAW(0), SET(2, 100, 1), CLEAR(3), TRADE(BUY, 50, 0)])
def test_bad_message_reports_its_own_instrument(engine, bad):
    e = engine(N=2)
    _prefix(e)  # the last message was instrument 0's
    r = e.one({**bad, "inst": 1, "seq": 6, "hold": True})
    assert r["instrument"] == 1
    assert r["status"] == STATUS1 | BAD
    assert {k: r[k] for k in STATE_FIELDS} == STATE1
    assert r["ofi_event"] == 0


@pytest.mark.parametrize("inst", [2, 3, 200, 255])
@pytest.mark.parametrize("bad", [SET(BID, 100, 5), HB(), RAW(0), TRADE(BUY, 101, 1), CLEAR(2)])
def test_instrument_out_of_range(engine, inst, bad):
    e = engine(N=2)
    _prefix(e)
    book0, book1 = e.book(0), e.book(1)
    r = e.one({**bad, "inst": inst, "seq": 42, "flags": END | SNAP, "recv": 5})
    assert (r["seq"], r["instrument"], r["type"], r["recv_ts_ns"]) == (42, inst, bad["type"], 5)
    assert {k: r[k] for k in STATE_FIELDS} == dict.fromkeys(STATE_FIELDS, 0)
    assert r["ofi_event"] == 0
    # Our chosen reading: the spec says state-derived bits 0..5 "describe the
    # instrument's state if it is valid" and is silent otherwise; with every state
    # field zero we take bits 0..5 as zero too (not BID_EMPTY | ASK_EMPTY).
    assert r["status"] == BAD | Status.END | Status.SNAPSHOT
    assert e.book(0) == book0 and e.book(1) == book1
    assert e.counters().bad == 1
    r = e.one(HB())  # instrument 0 goes on: seq 7 follows 6, ofi 2 - (2 >> 6) = 2
    assert r["status"] == 0 and r["ofi"] == 2


def test_out_of_range_instrument_n1(engine):
    e = engine(N=1)
    r = e.one(SET(BID, 100, 5, inst=1))
    assert r["status"] == BAD
    assert e.book(0) == ([], [])


def test_bad_counter_counts_every_bad(engine):
    e = engine(N=2)
    e.send(RAW(0), SET(BID, 0, 1), HB(), TRADE(BUY, 5, 0), CLEAR(3), SET(BID, 5, 1, inst=9))
    c = e.counters()
    assert (c.bad, c.messages, c.records) == (5, 6, 6)


# --- limits that are still valid ------------------------------------------------------


def test_price_0x7fffffff_is_valid(engine):
    e = engine()
    r = e.one(SET(ASK, 0x7FFFFFFF, 3))
    assert not r["status"] & BAD
    assert (r["ask_px"], r["ask_qty"]) == (0x7FFFFFFF, 3)
    r = e.one(SET(BID, 0x7FFFFFFF, 2))
    assert r["status"] == Status.CROSSED
    r = e.one(TRADE(BUY, 0x7FFFFFFF, 1))  # at the best ask: ice tracking starts
    assert not r["status"] & BAD
    assert (r["buy_flow"], r["ice_px_ask"], r["ice_absorbed_ask"]) == (1, 0x7FFFFFFF, 1)
    assert e.counters().bad == 0


def test_price_one_is_valid(engine):
    e = engine()
    r = e.one(SET(BID, 1, 1))
    assert r["status"] == Status.ASK_EMPTY and r["bid_px"] == 1


def test_set_qty_0_is_valid(engine):
    e = engine()
    r = e.one(SET(BID, 100, 0))
    assert r["status"] == Status.BID_EMPTY | Status.ASK_EMPTY
    assert e.counters().bad == 0


def test_clear_side_2_and_heartbeat_sides_are_valid(engine):
    e = engine()
    rs = e.send(CLEAR(BOTH), HB(side=2), HB(side=3), HB(side=255))
    assert all(not r["status"] & BAD for r in rs)
    assert e.counters().bad == 0


def test_price_and_qty_are_not_checked_on_clear_and_heartbeat(engine):
    e = engine()
    rs = e.send(
        CLEAR(BID, price=0, qty=0),
        CLEAR(ASK, price=0xFFFFFFFF, qty=7),
        HB(price=0x80000000, qty=0),
        HB(price=0, qty=0xFFFFFFFF),
    )
    assert all(not r["status"] & BAD for r in rs)
    assert e.counters().bad == 0


def test_other_flag_bits_are_not_bad(engine):
    # Flags bits 2..7 "zero" is the writer's duty; the validity list (which is
    # exhaustive: "bad when any of these holds") does not include them, and only
    # bits 0 and 1 are echoed.
    e = engine()
    r = e.one(SET(BID, 100, 1, flags=0xFC))
    assert r["status"] == Status.ASK_EMPTY
    r = e.one(HB(flags=0xFF))
    assert r["status"] == Status.ASK_EMPTY | Status.END | Status.SNAPSHOT
    assert e.counters().bad == 0


def test_bad_record_masks_only_state_bits(engine):
    # A DROPPED SET followed by a bad message: DROPPED is not state, so it is not repeated.
    e = engine(K=4)
    e.send(*(SET(BID, p, 1) for p in (10, 9, 8, 7)))
    assert e.one(SET(BID, 6, 1))["status"] & Status.DROPPED
    r = e.one(RAW(0))
    assert r["status"] == Status.ASK_EMPTY | BAD
    assert int(STATE_BITS) == 0x3F


def test_instrument_255_is_valid_with_n_256(engine):
    e = engine(N=256)
    r = e.one(SET(BID, 100, 5, inst=255))
    assert r["status"] == Status.ASK_EMPTY and r["instrument"] == 255
    assert e.book(255) == ([(100, 5)], [])
    assert e.counters().bad == 0
