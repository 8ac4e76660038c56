"""HL2 v1 iceberg tracking (processing step 4) and the ICEBERG status bits, by hand.

``ice_shown`` and ``ice_pending`` are not in the record; they are observed through
refills (``qty >= ice_shown`` while pending) and through the ICEBERG bits
(``ice_absorbed >= ICE_ABSORB_RATIO * ice_shown``).
"""

from __future__ import annotations

from hean.wire import Status

from .rulekit import ASK, BID, BOTH, BUY, CLEAR, HB, SELL, SET, TRADE

ICE_A, ICE_B = Status.ICEBERG_ASK, Status.ICEBERG_BID


def _book(e):
    """Bids 90x10; asks 101x10, 102x20."""
    e.send(SET(BID, 90, 10), SET(ASK, 101, 10), SET(ASK, 102, 20))


def _ask(r):
    return (r["ice_px_ask"], r["ice_absorbed_ask"], r["ice_refills_ask"])


def _bid(r):
    return (r["ice_px_bid"], r["ice_absorbed_bid"], r["ice_refills_bid"])


def test_buy_aggressor_starts_tracking_on_asks(engine):
    e = engine()
    _book(e)
    r = e.one(TRADE(BUY, 101, 4))
    assert _ask(r) == (101, 4, 0)
    assert _bid(r) == (0, 0, 0)
    assert e.book(0) == ([(90, 10)], [(101, 10), (102, 20)])


def test_sell_aggressor_starts_tracking_on_bids(engine):
    e = engine()
    _book(e)
    r = e.one(TRADE(SELL, 90, 3))
    assert _bid(r) == (90, 3, 0)
    assert _ask(r) == (0, 0, 0)


def test_no_start_when_not_at_best(engine):
    e = engine()
    _book(e)
    rs = e.send(
        TRADE(BUY, 102, 4),  # an ask level, but not the best
        TRADE(BUY, 90, 4),  # the best bid's price, but a buy hits the asks
        TRADE(SELL, 101, 4),  # the best ask's price, but a sell hits the bids
        TRADE(SELL, 89, 4),  # below the best bid
        TRADE(BUY, 100, 4),  # inside the spread
    )
    for r in rs:
        assert _ask(r) == (0, 0, 0) and _bid(r) == (0, 0, 0)


def test_no_start_on_empty_side(engine):
    e = engine()
    e.one(SET(ASK, 101, 10))
    rs = e.send(TRADE(SELL, 101, 5), TRADE(SELL, 100, 5))  # bids empty
    for r in rs:
        assert _bid(r) == (0, 0, 0) and _ask(r) == (0, 0, 0)
    e = engine()
    e.one(SET(BID, 90, 10))
    r = e.one(TRADE(BUY, 90, 5))  # asks empty
    assert _ask(r) == (0, 0, 0) and _bid(r) == (0, 0, 0)


def test_absorbed_accumulates(engine):
    e = engine()
    _book(e)
    rs = e.send(TRADE(BUY, 101, 4), TRADE(BUY, 101, 5), TRADE(BUY, 101, 0xFFFFFFFF))
    # 4; 9; 9 + 4294967295 = 4294967304 (u64)
    assert [_ask(r) for r in rs] == [(101, 4, 0), (101, 9, 0), (101, 4294967304, 0)]


def test_shown_is_the_best_qty_at_start(engine):
    e = engine()
    _book(e)
    # shown = 10: a refill needs qty >= 10
    rs = e.send(TRADE(BUY, 101, 4), SET(ASK, 101, 9))
    assert _ask(rs[-1]) == (101, 4, 0)
    e = engine()
    _book(e)
    rs = e.send(TRADE(BUY, 101, 4), SET(ASK, 101, 10))  # same size: SET changed nothing
    assert _ask(rs[-1]) == (101, 4, 1)


def test_refill_needs_pending_and_size(engine):
    e = engine()
    _book(e)
    rs = e.send(
        TRADE(BUY, 101, 4),  # start: shown 10, pending
        SET(ASK, 101, 10),  # pending, 10 >= 10: refills 1; shown 10, not pending
        SET(ASK, 101, 10),  # not pending: refills 1
        SET(ASK, 101, 15),  # not pending: refills 1; shown 15
        TRADE(BUY, 101, 1),  # same px: no restart; absorbed 5; pending
        SET(ASK, 101, 14),  # 14 < 15: no refill; shown 14; pending cleared
        SET(ASK, 101, 14),  # not pending: still 1 (were pending kept, 14 >= 14 would count)
        TRADE(BUY, 101, 1),  # absorbed 6; pending
        SET(ASK, 101, 14),  # 14 >= 14 (shown was updated to 14): refills 2
    )
    assert [r["ice_refills_ask"] for r in rs] == [0, 1, 1, 1, 1, 1, 1, 1, 2]
    assert [r["ice_absorbed_ask"] for r in rs] == [4, 4, 4, 4, 5, 5, 5, 6, 6]
    assert all(r["ice_px_ask"] == 101 for r in rs)


def test_set_on_other_price_or_side_is_ignored(engine):
    e = engine()
    _book(e)
    rs = e.send(
        TRADE(BUY, 101, 4),  # ask px 101, pending
        SET(ASK, 102, 25),  # other price: nothing
        SET(BID, 101, 50),  # same price on the other side: not the ask's tracking
        SET(BID, 101, 0),  # (a qty 0 there does not reset the ask side either)
        SET(ASK, 101, 10),  # still pending: refill
    )
    assert [_ask(r) for r in rs] == [(101, 4, 0)] * 4 + [(101, 4, 1)]


def test_set_qty_0_at_ice_px_resets_side(engine):
    e = engine()
    _book(e)
    rs = e.send(
        TRADE(SELL, 90, 2),  # bid tracking, untouched below
        TRADE(BUY, 101, 4),
        SET(ASK, 101, 10),  # refills 1
        TRADE(BUY, 101, 3),  # absorbed 7
        SET(ASK, 101, 0),  # level deleted; ask iceberg state reset
    )
    assert _ask(rs[3]) == (101, 7, 1)
    assert _ask(rs[4]) == (0, 0, 0)
    assert _bid(rs[4]) == (90, 2, 0)
    assert e.book(0)[1] == [(102, 20)]
    r = e.one(TRADE(BUY, 102, 2))  # a fresh start on the new best
    assert _ask(r) == (102, 2, 0)


def test_trade_at_new_best_restarts(engine):
    e = engine()
    _book(e)
    rs = e.send(
        TRADE(BUY, 101, 4),
        SET(ASK, 101, 10),  # refills 1
        TRADE(BUY, 101, 6),  # absorbed 10
        SET(ASK, 100, 7),  # new best ask; tracking untouched
        TRADE(BUY, 101, 5),  # 101 is no longer the best: nothing at all
        TRADE(BUY, 100, 3),  # restart: px 100, shown 7, absorbed 0 + 3, refills 0
        SET(ASK, 100, 7),  # 7 >= shown 7: refills 1
    )
    assert [_ask(r) for r in rs] == [
        (101, 4, 0),
        (101, 4, 1),
        (101, 10, 1),
        (101, 10, 1),
        (101, 10, 1),
        (100, 3, 0),
        (100, 3, 1),
    ]


def test_refill_counted_on_dropped_set_and_reset_on_missing_level(engine):
    e = engine(K=4)
    e.send(SET(BID, 90, 10), *(SET(ASK, p, 10) for p in (101, 102, 103, 104)))
    e.one(TRADE(BUY, 101, 4))  # ask px 101, shown 10, pending
    e.send(*(SET(ASK, p, 1) for p in (97, 98, 99, 100)))  # 101 pushed out of the book
    assert e.book(0)[1] == [(97, 1), (98, 1), (99, 1), (100, 1)]
    # i == K: DROPPED and the book is unchanged, but step 4 still runs: a refill
    r = e.one(SET(ASK, 101, 10))
    assert r["status"] & Status.DROPPED
    assert _ask(r) == (101, 4, 1)
    # no level at 101 and qty 0: the book does not change, but the side is reset
    r = e.one(SET(ASK, 101, 0))
    assert not r["status"] & Status.DROPPED
    assert _ask(r) == (0, 0, 0)
    assert e.book(0)[1] == [(97, 1), (98, 1), (99, 1), (100, 1)]


def test_refills_saturate_at_255(engine):
    e = engine(ice_min_refills=255, ice_absorb_ratio=1)
    _book(e)
    refills, bits = [], []
    for _ in range(257):
        e.one(TRADE(BUY, 101, 1))
        r = e.one(SET(ASK, 101, 10))
        refills.append(r["ice_refills_ask"])
        bits.append(bool(r["status"] & ICE_A))
    assert refills[:3] == [1, 2, 3]
    assert refills[253:] == [254, 255, 255, 255]
    # absorbed (n >= 10) >= 1 * 10 from n = 10; refills >= 255 from the 255th
    assert bits[253:] == [False, True, True, True]
    assert r["ice_absorbed_ask"] == 257


def test_iceberg_ask_bit_boundaries(engine):
    e = engine(ice_min_refills=2, ice_absorb_ratio=3)
    _book(e)
    rs = e.send(
        TRADE(BUY, 101, 10),  # shown 10, absorbed 10, refills 0
        SET(ASK, 101, 10),  # refills 1
        TRADE(BUY, 101, 10),  # absorbed 20
        SET(ASK, 101, 10),  # refills 2 (>= 2), but 20 < 3 * 10
        TRADE(BUY, 101, 9),  # 29 < 30
        TRADE(BUY, 101, 1),  # 30 >= 30: ON
        HB(),  # still ON: state-derived
        SET(ASK, 101, 11),  # refills 3, shown 11: 30 < 33: OFF
        SET(ASK, 101, 10),  # not pending; shown 10: 30 >= 30: ON
        SET(ASK, 101, 0),  # reset: OFF
    )
    assert [bool(r["status"] & ICE_A) for r in rs] == [
        False,
        False,
        False,
        False,
        False,
        True,
        True,
        False,
        True,
        False,
    ]
    assert [r["ice_refills_ask"] for r in rs] == [0, 1, 1, 2, 2, 2, 2, 3, 3, 0]
    assert rs[5]["status"] == ICE_A  # and nothing else: both sides present, not crossed
    assert not any(r["status"] & ICE_B for r in rs)


def test_iceberg_refills_boundary(engine):
    e = engine(ice_min_refills=3, ice_absorb_ratio=1)
    _book(e)
    rs = e.send(
        TRADE(BUY, 101, 100),  # absorbed 100 >= 1 * 10 throughout
        SET(ASK, 101, 10),  # 1
        TRADE(BUY, 101, 1),
        SET(ASK, 101, 10),  # 2: still below 3
        TRADE(BUY, 101, 1),
        SET(ASK, 101, 10),  # 3: ON
    )
    assert [bool(r["status"] & ICE_A) for r in rs] == [False] * 5 + [True]


def test_iceberg_bid_bit(engine):
    e = engine(ice_min_refills=1, ice_absorb_ratio=1)
    _book(e)
    rs = e.send(
        TRADE(SELL, 90, 9),  # absorbed 9, refills 0 < 1
        SET(BID, 90, 10),  # refills 1, shown 10: 9 < 10
        TRADE(SELL, 90, 1),  # 10 >= 10: ON
        TRADE(BUY, 101, 10),  # ask: absorbed 10, refills 0
        SET(ASK, 101, 10),  # ask refills 1, 10 >= 10: both ON
    )
    assert [r["status"] for r in rs] == [0, 0, ICE_B, ICE_B, ICE_B | ICE_A]


def test_iceberg_bit_with_other_status_bits(engine):
    e = engine(ice_min_refills=1, ice_absorb_ratio=1)
    e.send(SET(BID, 90, 10), TRADE(SELL, 90, 10), SET(BID, 90, 10))
    r = e.one(HB(flags=1))
    assert r["status"] == Status.ASK_EMPTY | ICE_B | Status.END


def test_clear_resets_iceberg_state(engine):
    e = engine(ice_min_refills=1, ice_absorb_ratio=1)
    _book(e)
    e.send(TRADE(SELL, 90, 10), SET(BID, 90, 10), TRADE(BUY, 101, 10), SET(ASK, 101, 10))
    r = e.one(CLEAR(ASK))
    assert _ask(r) == (0, 0, 0) and _bid(r) == (90, 10, 1)
    assert r["status"] == ICE_B | Status.ASK_EMPTY
    e.send(SET(ASK, 101, 10))
    r = e.one(CLEAR(BOTH))
    assert _ask(r) == (0, 0, 0) and _bid(r) == (0, 0, 0)
    assert r["status"] == Status.BID_EMPTY | Status.ASK_EMPTY
    # rebuilt at the old prices: no refill, no tracking until a new trade
    rs = e.send(SET(BID, 90, 10), SET(ASK, 101, 10), TRADE(BUY, 101, 3))
    assert _bid(rs[0]) == (0, 0, 0)
    assert _ask(rs[1]) == (0, 0, 0)
    assert _ask(rs[2]) == (101, 3, 0)


def test_iceberg_is_per_instrument(engine):
    e = engine(N=2)
    e.send(SET(ASK, 101, 10, inst=0), SET(ASK, 101, 10, inst=1))
    rs = e.send(TRADE(BUY, 101, 4, inst=0), SET(ASK, 101, 10, inst=1), HB(inst=1))
    assert _ask(rs[0]) == (101, 4, 0)
    assert _ask(rs[1]) == (0, 0, 0) and _ask(rs[2]) == (0, 0, 0)


def test_iceberg_bit_product_needs_more_than_32_bits(engine):
    # ICE_ABSORB_RATIO * ice_shown = 16 * 0xFFFFFFFF = 68719476720 (> 2^32; in 32 bits it
    # would wrap to 0xFFFFFFF0 and the bit would come on after the first trade)
    m = 0xFFFFFFFF
    e = engine(ice_min_refills=1, ice_absorb_ratio=16)
    e.send(SET(BID, 90, 1), SET(ASK, 101, m))
    rs = e.send(TRADE(BUY, 101, m), SET(ASK, 101, m))  # absorbed M, refills 1
    assert _ask(rs[-1]) == (101, m, 1)
    assert not rs[-1]["status"] & ICE_A
    rs = e.send(*(TRADE(BUY, 101, m) for _ in range(15)))  # absorbed 2M .. 16M
    assert [bool(r["status"] & ICE_A) for r in rs] == [False] * 14 + [True]
    assert rs[-1]["ice_absorbed_ask"] == 16 * m == 68719476720
