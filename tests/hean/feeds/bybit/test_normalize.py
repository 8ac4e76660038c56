"""The normalizer, rule by rule, on synthetic Bybit V5 messages."""

from __future__ import annotations

import numpy as np
import pytest

from hean.feeds.bybit.normalize import BybitInputError, Normalizer, parse_topic, to_units
from hean.feeds.sidecar import Instrument
from hean.wire import Flag, MsgType, Side

BTC = Instrument(id=0, symbol="BTCUSDT", tick="0.1", lot="0.001")
ETH = Instrument(id=3, symbol="ETHUSDT", tick="0.01", lot="0.01")
SNAP = int(Flag.SNAPSHOT)
END = int(Flag.END)


def book(kind: str, u: int, b=(), a=(), symbol="BTCUSDT", ts=1_700_000_000_000, **extra):
    msg = {
        "topic": f"orderbook.50.{symbol}",
        "type": kind,
        "ts": ts,
        "data": {"s": symbol, "b": [list(x) for x in b], "a": [list(x) for x in a], "u": u,
                 "seq": 7},
    }  # fmt: skip
    msg.update(extra)
    return msg


def trades(*entries, symbol="BTCUSDT"):
    data = [{"T": t, "s": symbol, "S": s, "v": v, "p": p, "L": "PlusTick", "i": "x", "BT": False}
            for s, p, v, t in entries]  # fmt: skip
    return {"topic": f"publicTrade.{symbol}", "type": "snapshot", "ts": 1, "data": data}


def rows(out: np.ndarray) -> list[tuple[int, ...]]:
    """(type, side, flags, instrument, seq, price, qty, exch_ts_ns, recv_ts_ns) per message."""
    return [tuple(int(x) for x in r) for r in out.tolist()]


@pytest.fixture
def norm() -> tuple[Normalizer, list]:
    calls: list = []
    n = Normalizer([BTC, ETH], on_stale=lambda s, r: calls.append((s, r)))
    return n, calls


# --- conversion of values ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "step", "units"),
    [("1.9531", "0.0001", 19531), ("65000.5", "0.1", 650005), ("0.001", "0.001", 1),
     ("12", "1", 12), ("0", "0.1", 0), ("2.50000000", "0.5", 5), ("0.075", "0.025", 3)],
)  # fmt: skip
def test_exact_units(text: str, step: str, units: int) -> None:
    from decimal import Decimal

    assert to_units(text, Decimal(step), "x") == units


@pytest.mark.parametrize(
    "text",
    ["1.95315", "0.05", "1e3", "-1", "+1", " 1", "1.", ".5", "NaN", "inf", "1_0", "", 1, 1.5],
)
def test_off_grid_or_malformed_values_are_rejected(text: object) -> None:
    from decimal import Decimal

    with pytest.raises(BybitInputError):
        to_units(text, Decimal("0.1"), "price")


def test_topics() -> None:
    assert parse_topic("orderbook.50.BTCUSDT") == ("orderbook", "BTCUSDT")
    assert parse_topic("publicTrade.ETHUSDT") == ("publicTrade", "ETHUSDT")
    for bad in ("tickers.BTCUSDT", "orderbook.BTCUSDT", "orderbook.x.BTCUSDT", "publicTrade.", 5):
        with pytest.raises(BybitInputError):
            parse_topic(bad)


# --- snapshots and deltas ---------------------------------------------------------


def test_snapshot_then_delta_every_field(norm) -> None:
    n, calls = norm
    ts = 1_700_000_000_123
    snap = n.feed(book("snapshot", 100, b=[("100.1", "0.5"), ("100.0", "1")], a=[("100.2", "2")],
                       ts=ts), recv_ts_ns=42)  # fmt: skip
    e = ts * 1_000_000
    assert rows(snap) == [
        (MsgType.CLEAR, Side.BOTH, SNAP, 0, 1, 0, 0, e, 42),
        (MsgType.SET, Side.BID, SNAP, 0, 2, 1001, 500, e, 42),
        (MsgType.SET, Side.BID, SNAP, 0, 3, 1000, 1000, e, 42),
        (MsgType.SET, Side.ASK, SNAP | END, 0, 4, 1002, 2000, e, 42),
    ]
    delta = n.feed(book("delta", 101, b=[("100.1", "0")], a=[("100.3", "0.25")], ts=ts + 5,
                        cts=ts + 3))  # fmt: skip
    e = (ts + 3) * 1_000_000  # cts wins over ts
    assert rows(delta) == [
        (MsgType.SET, Side.BID, 0, 0, 5, 1001, 0, e, 0),
        (MsgType.SET, Side.ASK, END, 0, 6, 1003, 250, e, 0),
    ]
    c = n.counters
    assert (c.messages, c.hl2, c.snapshots, c.rejected, c.gaps) == (2, 6, 1, 0, 0)
    assert calls == []


def test_empty_snapshot_is_clear_with_end(norm) -> None:
    n, _ = norm
    assert rows(n.feed(book("snapshot", 5)))[0][:5] == (MsgType.CLEAR, Side.BOTH, SNAP | END, 0, 1)


def test_empty_delta_emits_nothing_but_counts_its_u(norm) -> None:
    n, calls = norm
    n.feed(book("snapshot", 10, b=[("1", "1")]))
    assert len(n.feed(book("delta", 11))) == 0
    assert len(n.feed(book("delta", 12, a=[("2", "1")]))) == 1  # 12 follows 11: no gap
    assert n.counters.gaps == 0 and calls == []


def test_u_equal_1_restarts_the_book(norm) -> None:
    n, _ = norm
    n.feed(book("snapshot", 500, b=[("1", "1")]))
    out = rows(n.feed(book("delta", 1, b=[("2", "3")])))
    assert [r[0] for r in out] == [MsgType.CLEAR, MsgType.SET]
    assert [r[2] for r in out] == [SNAP, SNAP | END]
    assert rows(n.feed(book("delta", 2, a=[("3", "1")])))[0][2] == END  # u continues from 1
    assert n.counters.snapshots == 2


def test_gap_makes_stale_asks_for_snapshot_and_ignores_deltas(norm) -> None:
    n, calls = norm
    n.feed(book("snapshot", 10, b=[("1", "1")]))
    seq_before = 2
    assert len(n.feed(book("delta", 12, b=[("1", "2")]))) == 0  # 11 is missing
    assert n.is_stale("BTCUSDT") and n.counters.gaps == 1
    assert calls == [("BTCUSDT", "gap: u 12 after 10")]
    assert len(n.feed(book("delta", 13, b=[("1", "3")]))) == 0  # stale: ignored
    assert n.counters.ignored == 1 and n.counters.gaps == 1 and len(calls) == 1
    out = rows(n.feed(book("snapshot", 20, b=[("1", "4")])))
    assert out[0][4] == seq_before + 1  # gateway seq has no hole: nothing was emitted
    assert not n.is_stale("BTCUSDT")
    assert len(n.feed(book("delta", 21, b=[("1", "5")]))) == 1


def test_duplicate_u_is_a_gap(norm) -> None:
    n, _ = norm
    n.feed(book("snapshot", 10))
    n.feed(book("delta", 11, b=[("1", "1")]))
    assert len(n.feed(book("delta", 11, b=[("1", "1")]))) == 0
    assert n.counters.gaps == 1


def test_instrument_is_stale_until_its_first_snapshot(norm) -> None:
    n, calls = norm
    assert n.is_stale("BTCUSDT")
    assert len(n.feed(book("delta", 7, b=[("1", "1")]))) == 0
    assert n.counters.ignored == 1 and n.counters.gaps == 0 and calls == []


def test_mark_stale(norm) -> None:
    n, _ = norm
    n.feed(book("snapshot", 1))
    n.mark_stale("BTCUSDT")
    assert len(n.feed(book("delta", 2, b=[("1", "1")]))) == 0


def test_symbols_interleaved_have_their_own_seq_and_u(norm) -> None:
    n, _ = norm
    a = n.feed(book("snapshot", 10, b=[("1", "1")]))
    b = n.feed(book("snapshot", 77, a=[("2.00", "0.01")], symbol="ETHUSDT"))
    c = n.feed(book("delta", 11, b=[("1", "2")]))
    d = n.feed(book("delta", 78, a=[("2.01", "0.02")], symbol="ETHUSDT"))
    assert [r[3:5] for r in rows(a) + rows(c)] == [(0, 1), (0, 2), (0, 3)]
    assert [r[3:5] for r in rows(b) + rows(d)] == [(3, 1), (3, 2), (3, 3)]
    assert rows(b)[1][5:7] == (200, 1) and rows(d)[0][5:7] == (201, 2)


def test_seq_wraps_at_2_pow_32(norm) -> None:
    n, _ = norm
    n._state["BTCUSDT"].seq = 0xFFFFFFFE
    out = rows(n.feed(book("snapshot", 1, b=[("1", "1"), ("0.9", "1")])))
    assert [r[4] for r in out] == [0xFFFFFFFF, 0, 1]


# --- trades -------------------------------------------------------------------------


def test_trades_buy_sell_and_end(norm) -> None:
    n, _ = norm
    out = rows(n.feed(trades(("Buy", "100.1", "0.002", 5), ("Sell", "100.0", "1.5", 6)), 9))
    assert out == [
        (MsgType.TRADE, Side.BID, 0, 0, 1, 1001, 2, 5_000_000, 9),
        (MsgType.TRADE, Side.ASK, END, 0, 2, 1000, 1500, 6_000_000, 9),
    ]
    assert n.counters.trades == 1


def test_trades_are_emitted_while_the_book_is_stale(norm) -> None:
    n, _ = norm
    assert n.is_stale("BTCUSDT")
    assert len(n.feed(trades(("Buy", "1", "1", 1)))) == 1


def test_rejected_trade_does_not_make_the_book_stale(norm) -> None:
    n, calls = norm
    n.feed(book("snapshot", 1))
    assert len(n.feed(trades(("Buy", "1.05", "1", 1)))) == 0  # off the 0.1 grid
    assert not n.is_stale("BTCUSDT") and calls == [] and n.counters.rejected == 1


# --- rejections ---------------------------------------------------------------------

BAD_BOOK = {
    "off-grid price": book("delta", 11, b=[("100.05", "1")]),
    "off-grid size": book("delta", 11, a=[("100", "0.0005")]),
    "zero price": book("delta", 11, b=[("0", "1")]),
    "price above 2^31-1 ticks": book("delta", 11, b=[("214748364.8", "1")]),
    "size above 2^32-1 lots": book("delta", 11, b=[("1", "4294967.296")]),
    "number instead of string": book("delta", 11, b=[(100.1, "1")]),
    "entry of 3": book("delta", 11, b=[("1", "1", "1")]),
    "missing u": {**book("delta", 11), "data": {"s": "BTCUSDT", "b": [], "a": []}},
    "missing b": {**book("delta", 11), "data": {"s": "BTCUSDT", "a": [], "u": 11}},
    "bool u": book("delta", True),
    "missing ts": {k: v for k, v in book("delta", 11).items() if k != "ts"},
    "bad type": book("update", 11),
    "data not an object": {**book("delta", 11), "data": []},
    "data.s differs": {**book("delta", 11), "data": {"s": "ETHUSDT", "b": [], "a": [], "u": 11}},
}


@pytest.mark.parametrize("case", list(BAD_BOOK))
def test_bad_book_message_is_rejected_whole_and_makes_stale(norm, case: str) -> None:
    n, calls = norm
    n.feed(book("snapshot", 10, b=[("1", "1")]))
    # a good entry before the bad one: nothing at all may come out
    msg = BAD_BOOK[case]
    if isinstance(msg.get("data"), dict) and isinstance(msg["data"].get("b"), list):
        msg["data"]["b"].insert(0, ["1", "2"])
    assert len(n.feed(msg)) == 0
    assert n.counters.rejected == 1 and n.last_error
    assert n.is_stale("BTCUSDT")
    assert calls and calls[-1][0] == "BTCUSDT" and calls[-1][1].startswith("rejected")
    assert rows(n.feed(book("snapshot", 50)))[0][4] == 3  # seq continues with no hole


BAD_TRADES = {
    "side": trades(("Short", "1", "1", 1)),
    "zero size": trades(("Buy", "1", "0", 1)),
    "missing T": {**trades(), "data": [{"S": "Buy", "p": "1", "v": "1"}]},
    "missing p": {**trades(), "data": [{"S": "Buy", "v": "1", "T": 1}]},
    "data not a list": {**trades(), "data": {}},
    "entry not an object": {**trades(), "data": ["x"]},
    "other symbol inside": {
        **trades(),
        "data": [{"S": "Buy", "p": "1", "v": "1", "T": 1, "s": "ETHUSDT"}],
    },
}


@pytest.mark.parametrize("case", list(BAD_TRADES))
def test_bad_trade_message_is_rejected_whole(norm, case: str) -> None:
    n, _ = norm
    msg = BAD_TRADES[case]
    if isinstance(msg["data"], list) and msg["data"] and isinstance(msg["data"][0], dict):
        msg["data"].insert(0, {"S": "Buy", "p": "1", "v": "1", "T": 1})  # a good one first
    assert len(n.feed(msg)) == 0
    assert n.counters.rejected == 1 and n.counters.hl2 == 0


@pytest.mark.parametrize(
    "msg",
    [None, "text", [1, 2], {"topic": "orderbook.50.DOGEUSDT", "type": "snapshot", "ts": 1,
                            "data": {"b": [], "a": [], "u": 1}},
     {"topic": "tickers.BTCUSDT", "data": {}}, {"op": "subscribe", "success": True}],
)  # fmt: skip
def test_garbage_and_unknown_symbols(norm, msg: object) -> None:
    n, calls = norm
    assert len(n.feed(msg)) == 0
    assert n.counters.rejected == 1 and calls == []


def test_duplicate_instruments_refused() -> None:
    with pytest.raises(ValueError):
        Normalizer([BTC, Instrument(id=1, symbol="BTCUSDT", tick="1", lot="1")])
    with pytest.raises(ValueError):
        Normalizer([BTC, Instrument(id=0, symbol="XRPUSDT", tick="1", lot="1")])
