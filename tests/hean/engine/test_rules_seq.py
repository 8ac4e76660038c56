"""HL2 v1 sequence tracking (processing step 1, CLEAR side 2, bad messages), by hand.

Every message here gives its ``seq`` explicitly.
"""

from __future__ import annotations

from hean.wire import Status

from .rulekit import ASK, BID, BOTH, CLEAR, HB, RAW, SET

GAP = Status.GAP
EMPTY = Status.BID_EMPTY | Status.ASK_EMPTY


def _gaps(records):
    return [bool(r["status"] & GAP) for r in records]


def test_first_message_sets_has_seq_without_gap(engine):
    e = engine()
    rs = e.send(HB(seq=1000), HB(seq=1001))
    assert _gaps(rs) == [False, False]
    assert rs[0]["status"] == EMPTY
    assert e.counters().gaps == 0


def test_first_message_may_have_any_seq(engine):
    for first in (0, 1, 0xFFFFFFFF, 0x80000000):
        e = engine()
        rs = e.send(HB(seq=first), HB(seq=(first + 1) & 0xFFFFFFFF))
        assert _gaps(rs) == [False, False], first
        assert e.counters().gaps == 0


def test_jump_sets_sticky_gap(engine):
    e = engine()
    rs = e.send(HB(seq=1), HB(seq=2), HB(seq=5), HB(seq=6), SET(BID, 100, 1, seq=7), HB(seq=8))
    assert _gaps(rs) == [False, False, True, True, True, True]
    assert rs[2]["status"] == EMPTY | GAP
    assert rs[4]["status"] == Status.ASK_EMPTY | GAP
    assert e.counters().gaps == 1  # one valid message did not follow its predecessor
    rs = e.send(HB(seq=20))
    assert _gaps(rs) == [True]
    assert e.counters().gaps == 2


def test_repeat_and_backwards_are_gaps(engine):
    e = engine()
    rs = e.send(HB(seq=5), HB(seq=5))  # 5 != 5 + 1
    assert _gaps(rs) == [False, True]
    e = engine()
    rs = e.send(HB(seq=5), HB(seq=4))
    assert _gaps(rs) == [False, True]
    assert e.counters().gaps == 1


def test_wrap_is_not_a_gap(engine):
    e = engine()
    rs = e.send(HB(seq=0xFFFFFFFE), HB(seq=0xFFFFFFFF), HB(seq=0), HB(seq=1))
    assert _gaps(rs) == [False] * 4
    assert e.counters().gaps == 0


def test_wrap_skipping_zero_is_a_gap(engine):
    e = engine()
    rs = e.send(HB(seq=0xFFFFFFFF), HB(seq=1))  # (0xFFFFFFFF + 1) mod 2^32 = 0 != 1
    assert _gaps(rs) == [False, True]
    assert e.counters().gaps == 1


def test_clear_both_clears_gap(engine):
    e = engine()
    rs = e.send(HB(seq=1), HB(seq=3), CLEAR(BOTH, seq=4), HB(seq=5))
    assert _gaps(rs) == [False, True, False, False]
    assert rs[2]["status"] == EMPTY
    assert e.counters().gaps == 1


def test_clear_both_clears_gap_set_by_itself(engine):
    # step 1 sets gap (9 != 1 + 1), step 3 (CLEAR side 2) clears it again
    e = engine()
    rs = e.send(HB(seq=1), CLEAR(BOTH, seq=9), HB(seq=10))
    assert _gaps(rs) == [False, False, False]
    # The spec defines no counters; Counters.gaps is documented as "valid messages whose
    # seq did not follow the instrument's previous one", which the CLEAR was.
    assert e.counters().gaps == 1


def test_clear_one_side_keeps_gap(engine):
    e = engine()
    rs = e.send(HB(seq=1), HB(seq=3), CLEAR(BID, seq=4), CLEAR(ASK, seq=5), HB(seq=6))
    assert _gaps(rs) == [False, True, True, True, True]
    e = engine()
    rs = e.send(HB(seq=1), CLEAR(BID, seq=7), CLEAR(ASK, seq=8))  # jump on the CLEAR itself
    assert _gaps(rs) == [False, True, True]


def test_gap_then_snapshot_rebuild(engine):
    e = engine()
    rs = e.send(
        SET(BID, 100, 1, seq=1),
        SET(BID, 101, 1, seq=3),
        CLEAR(BOTH, seq=4, flags=2),
        SET(BID, 99, 2, seq=5, flags=2),
        SET(ASK, 102, 2, seq=6, flags=3),
    )
    assert _gaps(rs) == [False, True, False, False, False]
    assert rs[-1]["status"] == Status.SNAPSHOT | Status.END


def test_bad_message_does_not_advance_seq(engine):
    # good 1, bad 2, good 2: last_seq stays 1 through the bad one, so 2 follows 1
    e = engine()
    rs = e.send(HB(seq=1), SET(BID, 0, 1, seq=2), HB(seq=2))
    assert rs[1]["status"] & Status.BAD_MSG
    assert _gaps(rs) == [False, False, False]
    assert e.counters().gaps == 0


def test_bad_message_seq_is_not_consumed(engine):
    # good 1, bad 2, good 3: last_seq is still 1, and 3 != 2 -> gap
    e = engine()
    rs = e.send(HB(seq=1), RAW(0, seq=2), HB(seq=3))
    assert _gaps(rs) == [False, False, True]
    assert e.counters().gaps == 1


def test_bad_message_with_a_jump_sets_no_gap(engine):
    e = engine()
    rs = e.send(HB(seq=1), RAW(9, seq=50), HB(seq=2))
    assert _gaps(rs) == [False, False, False]
    assert rs[1]["status"] == EMPTY | Status.BAD_MSG
    assert e.counters().gaps == 0


def test_bad_first_message_does_not_set_has_seq(engine):
    # the bad one is ignored entirely, so seq 1 is the first message: no gap
    e = engine()
    rs = e.send(RAW(0, seq=77), HB(seq=1), HB(seq=2))
    assert _gaps(rs) == [False, False, False]
    assert e.counters().gaps == 0


def test_bad_message_reports_existing_gap(engine):
    e = engine()
    rs = e.send(HB(seq=1), HB(seq=3), RAW(0, seq=4), HB(seq=4))
    assert _gaps(rs) == [False, True, True, True]
    assert rs[2]["status"] == EMPTY | GAP | Status.BAD_MSG


def test_bad_clear_does_not_clear_gap(engine):
    e = engine()
    rs = e.send(HB(seq=1), HB(seq=3), CLEAR(3, seq=4), HB(seq=4))
    assert _gaps(rs) == [False, True, True, True]
    assert rs[2]["status"] & Status.BAD_MSG


def test_instruments_are_independent(engine):
    e = engine(N=3)
    rs = e.send(
        HB(inst=0, seq=1),
        HB(inst=1, seq=100),
        HB(inst=0, seq=2),
        HB(inst=1, seq=101),
        HB(inst=2, seq=0xFFFFFFFF),
        HB(inst=0, seq=3),
    )
    assert _gaps(rs) == [False] * 6
    rs = e.send(HB(inst=0, seq=10), HB(inst=1, seq=102), HB(inst=2, seq=0))
    assert _gaps(rs) == [True, False, False]
    assert e.counters().gaps == 1
    # CLEAR side 2 on instrument 1 does not clear instrument 0's gap
    rs = e.send(CLEAR(BOTH, inst=1, seq=103), HB(inst=0, seq=11))
    assert _gaps(rs) == [False, True]
    rs = e.send(CLEAR(BOTH, inst=0, seq=12), HB(inst=0, seq=13), HB(inst=1, seq=104))
    assert _gaps(rs) == [False, False, False]


def test_bad_message_of_other_instrument_does_not_touch_seq(engine):
    e = engine(N=2)
    # instrument 1's bad message (side 2 on a SET) and an out-of-range instrument
    rs = e.send(
        HB(inst=0, seq=1),
        SET(2, 100, 1, inst=1, seq=5),
        HB(inst=1, seq=8),
        HB(inst=7, seq=3),
        HB(inst=0, seq=2),
        HB(inst=1, seq=9),
    )
    assert _gaps(rs) == [False, False, False, False, False, False]
    assert e.counters().bad == 2
