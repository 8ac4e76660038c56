"""HL2 v1 features by hand: OFI event and accumulator, trade flow, imbalances.

OFI event (step 5), with empty bids read as (0, 0) and empty asks as (0xFFFFFFFF, 0):
    e = [Pb' >= Pb]*qb' - [Pb' <= Pb]*qb - [Pa' <= Pa]*qa' + [Pa' >= Pa]*qa
"""

from __future__ import annotations

import pytest

from .rulekit import ASK, BID, BOTH, BUY, CLEAR, HB, SELL, SET, TRADE

M32 = 0xFFFFFFFF


def _events(e, *msgs):
    return [r["ofi_event"] for r in e.send(*msgs)]


# --- OFI event ------------------------------------------------------------------------


def test_ofi_event_bid_cases(engine):
    e = engine()
    assert _events(
        e,
        SET(ASK, 105, 4),  # ask (FFFFFFFF,0) -> (105,4): -[105 <= FFFFFFFF]*4 = -4
        SET(BID, 100, 5),  # bid (0,0) -> (100,5): [100 >= 0]*5 - [100 <= 0]*0 = +5
        SET(BID, 101, 3),  # bid up (100,5) -> (101,3): [T]*3 - [F]*5 = +3
        SET(BID, 101, 0),  # bid down (101,3) -> (100,5): [F]*5 - [T]*3 = -3
        SET(BID, 100, 8),  # same price: 8 - 5 = +3
        SET(BID, 100, 2),  # same price: 2 - 8 = -6
        SET(BID, 99, 7),  # below the best: best unchanged -> 0
        SET(BID, 100, 0),  # (100,2) -> (99,7): [F]*7 - [T]*2 = -2
        SET(BID, 99, 0),  # (99,7) -> (0,0): [0 >= 99]*0 - [0 <= 99]*7 = -7
    ) == [-4, 5, 3, -3, 3, -6, 0, -2, -7]


def test_ofi_event_ask_cases(engine):
    e = engine()
    assert _events(
        e,
        SET(BID, 100, 5),  # +5
        SET(ASK, 105, 4),  # empty ask -> (105,4): -4
        SET(ASK, 104, 6),  # ask down (better): -[104 <= 105]*6 + [104 >= 105]*4 = -6
        SET(ASK, 104, 0),  # ask up (104,6) -> (105,4): -[F]*4 + [T]*6 = +6
        SET(ASK, 105, 9),  # same price: -9 + 4 = -5
        SET(ASK, 105, 1),  # same price: -1 + 9 = +8
        SET(ASK, 106, 7),  # worse level: 0
        SET(ASK, 105, 0),  # (105,1) -> (106,7): -[F]*7 + [T]*1 = +1
        SET(ASK, 106, 0),  # (106,7) -> (FFFFFFFF,0): -[F]*0 + [T]*7 = +7
    ) == [5, -4, -6, 6, -5, 8, 0, 1, 7]


def test_ofi_event_extreme_prices_compare_unsigned(engine):
    e = engine()
    assert _events(
        e,
        SET(ASK, 0x7FFFFFFF, 3),  # (FFFFFFFF,0) -> (7FFFFFFF,3): -3 (as u32 7FFFFFFF < FFFFFFFF)
        SET(ASK, 0x7FFFFFFF, 0),  # back to empty: +3
        SET(BID, 0x7FFFFFFF, 2),  # (0,0) -> (7FFFFFFF,2): +2
        SET(BID, 1, 9),  # below: 0
        SET(BID, 0x7FFFFFFF, 0),  # (7FFFFFFF,2) -> (1,9): -2
    ) == [-3, 3, 2, 0, -2]


def test_ofi_event_on_clear(engine):
    e = engine()
    e.send(SET(BID, 100, 5), SET(ASK, 105, 4))
    assert _events(e, CLEAR(BOTH)) == [-5 + 4]  # bid -> (0,0): -5; ask -> (FFFFFFFF,0): +4
    e.send(SET(BID, 100, 5), SET(ASK, 105, 4))
    assert _events(e, CLEAR(BID), CLEAR(BID), CLEAR(ASK), CLEAR(ASK), CLEAR(BOTH)) == [
        -5,
        0,
        4,
        0,
        0,
    ]


def test_ofi_event_zero_when_best_unchanged(engine):
    e = engine(K=4)
    e.send(SET(BID, 100, 5), SET(BID, 99, 1), SET(ASK, 105, 4), SET(ASK, 106, 1))
    e.send(SET(BID, 98, 1), SET(BID, 97, 1), SET(ASK, 107, 1), SET(ASK, 108, 1))
    assert (
        _events(
            e,
            HB(),
            TRADE(BUY, 105, 4),
            TRADE(SELL, 100, 5),
            SET(BID, 99, 7),  # non-best replace
            SET(ASK, 106, 0),  # non-best delete
            SET(BID, 96, 1),  # DROPPED
            SET(ASK, 110, 0),  # missing level
            SET(BID, 100, 5),  # replace best with the same size: 5 - 5
            SET(ASK, 105, 4),  # -4 + 4
        )
        == [0] * 9
    )


# --- OFI accumulator ------------------------------------------------------------------


def _ofis(e, *msgs):
    return [r["ofi"] for r in e.send(*msgs)]


def test_ofi_decay_shift_6_positive(engine):
    e = engine(ofi_shift=6)
    # 1000; 1000 - 15 = 985 (1000 >> 6 = 15); 985 - 15 = 970; then e = +500 (1000 -> 1500
    # at the same price): 970 - 15 + 500 = 1455
    assert _ofis(e, SET(BID, 100, 1000), HB(), HB(), SET(BID, 100, 1500)) == [1000, 985, 970, 1455]


def test_ofi_decay_shift_6_negative(engine):
    e = engine(ofi_shift=6)
    # -1000 >> 6 = floor(-15.625) = -16: -1000 + 16 = -984; -984 >> 6 = floor(-15.375) = -16:
    # -968; (trunc would give -985, -970)
    assert _ofis(e, SET(ASK, 105, 1000), HB(), HB()) == [-1000, -984, -968]


def test_ofi_minus_one_decays_to_zero(engine):
    e = engine(ofi_shift=6)
    # -1 >> 6 == -1, so -1 - (-1) = 0; +1 >> 6 == 0, so +1 stays
    assert _ofis(e, SET(ASK, 105, 1), HB(), HB()) == [-1, 0, 0]
    e = engine(ofi_shift=6)
    assert _ofis(e, SET(BID, 100, 1), HB(), HB()) == [1, 1, 1]


def test_ofi_decay_shift_1(engine):
    e = engine(ofi_shift=1)
    # 7; 7 - 3 = 4; 4 - 2 = 2; 2 - 1 = 1; 1 - 0 = 1
    assert _ofis(e, SET(BID, 100, 7), HB(), HB(), HB(), HB()) == [7, 4, 2, 1, 1]
    e = engine(ofi_shift=1)
    # -7; -7 >> 1 = -4: -3; -3 >> 1 = -2: -1; -1 >> 1 = -1: 0
    assert _ofis(e, SET(ASK, 105, 7), HB(), HB(), HB()) == [-7, -3, -1, 0]


def test_ofi_decay_and_event_in_one_step(engine):
    e = engine(ofi_shift=1)
    # -7; then e = +7 (bid empty -> (100,7)): -7 - (-4) + 7 = 4; then e = -4 (ask):
    # 4 - 2 - 4 = -2; then CLEAR both: e = -7 + 4 = -3: -2 - (-1) - 3 = -4
    assert _ofis(e, SET(ASK, 105, 7), SET(BID, 100, 7), SET(ASK, 104, 4), CLEAR(BOTH)) == [
        -7,
        4,
        -2,
        -4,
    ]


def test_ofi_large_values(engine):
    e = engine(ofi_shift=16)
    # e = +0xFFFFFFFF, then decay: 4294967295 >> 16 = 65535 -> 4294901760;
    # then e = -(0xFFFFFFFF) (bid emptied): 4294901760 >> 16 = 65535 (65535 * 65536 =
    # 4294901760 exactly), so 4294901760 - 65535 - 4294967295 = -131070
    assert _ofis(e, SET(BID, 100, M32), HB(), SET(BID, 100, 0)) == [
        4294967295,
        4294901760,
        -131070,
    ]


def test_ofi_is_per_instrument(engine):
    e = engine(N=2)
    rs = e.send(SET(BID, 100, 50, inst=0), SET(ASK, 100, 30, inst=1), HB(inst=0))
    assert [r["ofi"] for r in rs] == [50, -30, 50]  # 50 - (50 >> 6) = 50


# --- trade flow -----------------------------------------------------------------------


def test_trade_flow_shift_4(engine):
    e = engine(flow_shift=4)
    rs = e.send(
        TRADE(BUY, 100, 100),  # buy 100, sell 0
        TRADE(SELL, 100, 50),  # buy 100 - 6 = 94; sell 50
        TRADE(BUY, 100, 10),  # buy 94 - 5 + 10 = 99; sell 50 - 3 = 47
        HB(),
        SET(BID, 100, 5),
        CLEAR(BOTH),
        SET(ASK, 101, 5),
    )
    flows = [(r["buy_flow"], r["sell_flow"]) for r in rs]
    assert flows == [(100, 0), (94, 50), (99, 47)] + [(99, 47)] * 4


def test_trade_flow_shift_1(engine):
    e = engine(flow_shift=1)
    rs = e.send(TRADE(BUY, 7, 100), TRADE(BUY, 7, 100), TRADE(SELL, 7, 8), TRADE(SELL, 7, 1))
    # buy: 100; 100 - 50 + 100 = 150; 150 - 75 = 75; 75 - 37 = 38
    # sell: 0; 0; 8; 8 - 4 + 1 = 5
    assert [(r["buy_flow"], r["sell_flow"]) for r in rs] == [(100, 0), (150, 0), (75, 8), (38, 5)]


def test_trade_flow_beyond_32_bits(engine):
    e = engine(flow_shift=4)
    rs = e.send(TRADE(SELL, 9, M32), TRADE(SELL, 9, M32))
    # 4294967295 - (4294967295 >> 4 = 268435455) + 4294967295 = 8321499135
    assert [r["sell_flow"] for r in rs] == [4294967295, 8321499135]
    assert [r["buy_flow"] for r in rs] == [0, 0]


def test_trade_flow_is_per_instrument(engine):
    e = engine(N=2)
    rs = e.send(TRADE(BUY, 9, 10, inst=0), TRADE(SELL, 9, 20, inst=1), HB(inst=0))
    assert [(r["buy_flow"], r["sell_flow"]) for r in rs] == [(10, 0), (0, 20), (10, 0)]


# --- imbalance ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("b", "a", "want"),
    [
        (1, 2, -10922),  # trunc(-32768 / 3) = trunc(-10922.67); floor would give -10923
        (2, 1, 10922),
        (5, 7, -5461),  # trunc(-65536 / 12) = trunc(-5461.33)
        (7, 5, 5461),
        (3, 1, 16384),  # exact
        (1, 3, -16384),
        (4, 4, 0),
        (1, 0, 32767),  # 32768 clipped
        (0, 1, -32767),  # -32768 clipped
        (M32, 1, 32767),  # (2^32 - 2) * 32768 / 2^32 = 32767.99..., sum needs 33 bits
        (1, M32, -32767),
        (M32, M32 - 1, 0),  # 32768 / (2^33 - 3)
        (M32, 0x7FFFFFFF, 10922),  # 2^31 * 32768 / (3 * 2^31 - 2) = 10922.67
    ],
)
def test_imb_l1(engine, b, a, want):
    e = engine()
    e.send(*([SET(BID, 100, b)] if b else []), *([SET(ASK, 101, a)] if a else []))
    r = e.one(HB())
    assert r["imb_l1"] == want
    assert r["imb_depth"] == want  # one level per side: depth == best size


def test_imb_empty_book(engine):
    e = engine()
    r = e.one(HB())
    assert (r["imb_l1"], r["imb_depth"]) == (0, 0)


def test_imb_depth_differs_from_l1(engine):
    e = engine()
    r = e.send(SET(BID, 100, 1), SET(BID, 99, 4), SET(ASK, 101, 2))[-1]
    assert r["imb_l1"] == -10922  # imb(1, 2)
    assert r["imb_depth"] == 14043  # imb(5, 2) = trunc(98304 / 7) = trunc(14043.43)
    r = e.one(SET(ASK, 102, 10))
    # imb(5, 12) = trunc(-229376 / 17); 17 * 13492 = 229364, rest 12: trunc(-13492.7)
    assert r["imb_depth"] == -13492


def test_imb_depth_above_32_bits(engine):
    e = engine(K=4)
    e.send(*(SET(BID, 100 - i, M32) for i in range(4)))
    r = e.send(*(SET(ASK, 200 + i, M32) for i in range(3)))[-1]
    assert (r["depth_bid"], r["depth_ask"]) == (4 * M32, 3 * M32)  # 17179869180, 12884901885
    assert r["imb_depth"] == 4681  # M32 * 32768 / (7 * M32) = 32768 / 7 = 4681.14
    assert r["imb_l1"] == 0
    r = e.one(SET(ASK, 200, 5))  # asks: 5 + 2 * M32 = 8589934595
    # (4M - 2M - 5) * 32768 / (6M + 5) with M = 2^32 - 1:
    # (8589934585 * 32768) / 25769803775 = 10922.66... -> 10922
    assert r["imb_depth"] == (8589934585 * 32768) // 25769803775 == 10922
    assert r["imb_l1"] == 32767  # imb(M32, 5) = trunc(32767.99...)


def test_imb_depth_negative_above_32_bits(engine):
    e = engine(K=4)
    e.one(SET(BID, 100, M32))
    r = e.send(*(SET(ASK, 200 + i, M32) for i in range(4)))[-1]
    # -3 * 32768 / 5 = -19660.8 -> trunc -19660 (floor would be -19661)
    assert r["imb_depth"] == -19660
    e = engine(K=4)
    e.send(*(SET(ASK, 200 + i, M32) for i in range(4)))
    r = e.one(SET(BID, 100, 5))
    # (5 - 17179869180) * 32768 / 17179869185 = -32767.99998... -> trunc -32767
    assert r["imb_depth"] == -32767


def test_depth_sum_with_k64(engine):
    e = engine(K=64)
    r = e.send(*(SET(BID, 1000 - i, M32) for i in range(64)), SET(ASK, 2000, 1))[-1]
    assert r["depth_bid"] == 64 * M32 == 274877906880
    assert r["levels_bid"] == 64
    # (64M - 1) * 32768 / (64M + 1) = 32767.99... -> 32767
    assert r["imb_depth"] == 32767
