"""The recording gateway end to end, offline: pybit's real message path -> normalizer ->
recorder, then ``hean convert bybit`` of the recording must give the very same HL2.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hean.feeds.bybit.convert import convert_file, parse_line
from hean.feeds.bybit.gateway import Gateway
from hean.feeds.bybit.normalize import Normalizer
from hean.feeds.bybit.registry import Registry
from hean.feeds.sidecar import Instrument, read_sidecar
from hean.wire import MSG_DTYPE, Flag, MsgType, open_file

from .fakes import FakeClock, PybitFactory, Stamps, answer, book, fixture_messages, trade

XRP = Instrument(id=0, symbol="XRPUSDT", tick="0.0001", lot="1")
BTC = Instrument(id=1, symbol="BTCUSDT", tick="0.1", lot="0.001")
REGISTRY = Registry((XRP, BTC))
XRP_BOOK, BTC_BOOK = "orderbook.50.XRPUSDT", "orderbook.50.BTCUSDT"

Tap = list[tuple[Any, int]]


def make_gateway(tmp_path: Path, **kw: Any) -> tuple[Gateway, PybitFactory, Tap, FakeClock]:
    """A connected gateway; ``tap`` collects every (message, recv stamp) the gateway got."""
    factory, clock = PybitFactory(), FakeClock()
    gw = Gateway(REGISTRY, tmp_path / "rec", ws_factory=factory, clock=clock, **kw)
    gw.source.wall_ns = Stamps()
    tap: Tap = []
    forward = gw.source.on_message

    def on_message(msg: dict, recv_ts_ns: int) -> None:
        tap.append((copy.deepcopy(msg), recv_ts_ns))
        forward(msg, recv_ts_ns)

    gw.source.on_message = on_message
    assert gw.source.connect()
    return gw, factory, tap, clock


def control(factory: PybitFactory, op: str, topic: str) -> dict:
    """The last ``op`` frame sent for ``topic``."""
    return [f for f in factory.ws.frames() if f["op"] == op and f["args"] == [topic]][-1]


def resubscribe(factory: PybitFactory, topic: str) -> None:
    """Bybit confirms the unsubscribe of ``topic``, then the new subscription."""
    sent = len(factory.ws.frames())
    factory.ws.feed(answer(control(factory, "unsubscribe", topic)))
    assert len(factory.ws.frames()) == sent + 1
    factory.ws.feed(answer(control(factory, "subscribe", topic)))


def play(gw: Gateway, factory: PybitFactory) -> list[dict]:
    """Feed the scenario through pybit's ``_on_message``; the market messages fed."""
    xrp = fixture_messages()
    fed: list[dict] = []
    emitted = gw.recorder

    def feed(*msgs: dict) -> int:
        before = emitted.hl2_count
        for msg in msgs:
            factory.ws.feed(msg)
            fed.append(msg)
        return emitted.hl2_count - before

    for frame in factory.ws.frames():
        factory.ws.feed(answer(frame))
    assert feed(xrp[0]) == 1 + 1000  # CLEAR, then 500 levels a side
    btc_snap = book(BTC.symbol, "snapshot", 100, 1733011200700, [["97000.5", "0.5"]], [])
    assert feed(btc_snap) == 2
    for k in range(1, 11):
        feed(xrp[k])
        if k % 3 == 0:
            feed(trade(XRP.symbol, xrp[k]["ts"] + 1, "Buy" if k % 2 else "Sell", "1.9538", "120"))
    assert feed(book(BTC.symbol, "delta", 101, 1733011200800, [["97000.5", "0"]], [])) == 1
    assert feed(trade(BTC.symbol, 1733011200801, "Sell", "97000.5", "0.012", n=2)) == 2

    # a gap in BTC's u: nothing emitted, the book topic is unsubscribed
    sent = len(factory.ws.frames())
    assert feed(book(BTC.symbol, "delta", 103, 1733011200900, [["97001.0", "1"]], [])) == 0
    assert factory.ws.frames()[sent:] == [control(factory, "unsubscribe", BTC_BOOK)]
    assert gw.normalizer.is_stale(BTC.symbol) and not gw.normalizer.is_stale(XRP.symbol)
    for k in range(11, 21):
        feed(xrp[k])
    assert feed(book(BTC.symbol, "delta", 104, 1733011201000, [["97001.0", "2"]], [])) == 0
    resubscribe(factory, BTC_BOOK)
    assert gw.source.resubscribes == 1
    btc_snap = book(
        BTC.symbol, "snapshot", 500, 1733011201100, [["97000.0", "1"]], [["97001.0", "2"]]
    )
    assert feed(btc_snap) == 3
    assert feed(book(BTC.symbol, "delta", 501, 1733011201200, [], [["97001.5", "0.3"]])) == 1

    for k in range(21, 31):
        feed(xrp[k])
    # garbage: a price that is not a whole number of ticks; rejected whole, book stale
    bad = copy.deepcopy(xrp[31])
    bad["data"]["b"][0][0] = "1.95315"
    sent = len(factory.ws.frames())
    assert feed(bad) == 0
    assert factory.ws.frames()[sent:] == [control(factory, "unsubscribe", XRP_BOOK)]
    assert gw.normalizer.is_stale(XRP.symbol)
    assert sum(feed(xrp[k]) for k in range(31, 36)) == 0
    resubscribe(factory, XRP_BOOK)
    snap = copy.deepcopy(xrp[0])  # Bybit's new snapshot, continuing at xrp[35]'s u
    snap["data"]["u"] = xrp[35]["data"]["u"]
    snap["ts"], snap["cts"] = xrp[35]["ts"] + 1, xrp[35]["cts"] + 1
    assert feed(snap) == 1001
    for k in range(36, 50):
        assert feed(xrp[k]) == len(xrp[k]["data"]["b"]) + len(xrp[k]["data"]["a"])
    feed(trade(XRP.symbol, xrp[49]["ts"] + 1, "Buy", "1.9540", "7", n=3))
    feed(book(BTC.symbol, "delta", 502, 1733011201300, [["96999.9", "4.5"]], []))
    assert gw.source.resubscribes == 2
    return fed


def assert_same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype == MSG_DTYPE and len(a) == len(b)
    for name in MSG_DTYPE.names or ():
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def read_jsonl(path: Path) -> Tap:
    """A recorded part's message lines as (message, recv stamp); events are left out."""
    lines = [parse_line(text) for text in path.read_text().splitlines()]
    return [(msg, recv) for msg, recv, event in lines if event is None]


def normalize_all(msgs: Tap, norm: Normalizer | None = None) -> np.ndarray:
    norm = norm or Normalizer(REGISTRY.instruments)
    out = [norm.feed(msg, recv) for msg, recv in msgs]
    return np.concatenate(out) if out else np.zeros(0, dtype=MSG_DTYPE)


def test_recording_converts_back_to_the_same_hl2(tmp_path: Path) -> None:
    gw, factory, tap, _ = make_gateway(tmp_path)
    fed = play(gw, factory)
    gw.close()
    assert factory.ws.ws.closed and gw.source.ws is None
    with pytest.raises(RuntimeError, match="closed"):
        gw.recorder.write(fed[0], 1, np.zeros(0, dtype=MSG_DTYPE))

    # what the gateway got is exactly what Bybit sent, each with its own stamp
    assert [m for m, _ in tap] == fed
    stamps = [r for _, r in tap]
    assert len(set(stamps)) == len(stamps) and stamps == sorted(stamps)
    counters = gw.normalizer.counters
    assert counters.as_dict() == {
        "messages": len(fed),
        "hl2": gw.recorder.hl2_count,
        "rejected": 1,
        "gaps": 1,
        "snapshots": 4,
        "ignored": 6,
        "trades": 5,  # 3 XRP + 1 BTC + 1 XRP
    }

    (part,) = gw.recorder.parts
    jsonl = part.with_suffix(".jsonl")
    assert read_jsonl(jsonl) == tap  # every raw line, control messages excluded
    assert gw.recorder.raw_count == len(fed)
    recorded = open_file(part).items
    assert len(recorded) == counters.hl2 == gw.recorder.hl2_count

    report = convert_file(jsonl, tmp_path / "converted.hl2", REGISTRY)
    assert report.lines == len(fed)
    bad_line = next(n for n, m in enumerate(fed, 1) if "1.95315" in json.dumps(m))
    assert [n for n, _ in report.errors] == [bad_line]
    assert "not a multiple of 0.0001" in report.errors[0][1]
    assert report.counters.as_dict() == counters.as_dict()
    assert_same(open_file(tmp_path / "converted.hl2").items, recorded)
    direct = Normalizer(REGISTRY.instruments)
    assert_same(normalize_all(tap, direct), recorded)
    assert direct.counters.as_dict() == counters.as_dict()

    # the stream itself: per-instrument seq 1..n, recv stamps from the tap, 4 CLEARs
    for inst in REGISTRY.instruments:
        seq = recorded["seq"][recorded["instrument"] == inst.id]
        np.testing.assert_array_equal(seq, np.arange(1, len(seq) + 1))
    assert set(recorded["recv_ts_ns"].tolist()) <= set(stamps)
    clears = recorded[recorded["type"] == MsgType.CLEAR]
    assert clears["instrument"].tolist() == [0, 1, 1, 0]
    assert (clears["flags"] & Flag.SNAPSHOT).all()
    assert read_sidecar(part).instruments == REGISTRY.instruments


def test_rotated_parts_hold_the_same_messages(tmp_path: Path) -> None:
    gw, factory, tap, _ = make_gateway(tmp_path, rotate_bytes=4000)
    play(gw, factory)
    gw.close()
    parts = gw.recorder.parts
    assert len(parts) >= 5
    assert sorted(tmp_path.glob("rec/*.hl2")) == parts
    assert sorted(tmp_path.glob("rec/*.jsonl")) == [p.with_suffix(".jsonl") for p in parts]
    # HL2 seq numbers (and each book's staleness and last u) run on across parts, so a
    # part converted on its own cannot match: its seq would restart at 1 and its leading
    # deltas be dropped as stale. The parts are one stream: ONE normalizer over all
    # parts' raw lines in order must give, part by part, exactly that part's HL2.
    norm = Normalizer(REGISTRY.instruments)
    lines: Tap = []
    for part in parts:
        raw = read_jsonl(part.with_suffix(".jsonl"))
        assert raw, f"{part.name} has no raw line"
        assert_same(normalize_all(raw, norm), open_file(part).items)
        assert read_sidecar(part).instruments == REGISTRY.instruments
        lines += raw
    assert lines == tap
    assert norm.counters.as_dict() == gw.normalizer.counters.as_dict()
    # and `hean convert bybit` of the concatenated raw parts is the concatenated HL2
    whole = tmp_path / "all.jsonl"
    whole.write_text("".join(p.with_suffix(".jsonl").read_text() for p in parts))
    convert_file(whole, tmp_path / "all.hl2", REGISTRY)
    assert_same(
        open_file(tmp_path / "all.hl2").items, np.concatenate([open_file(p).items for p in parts])
    )


def test_parts_rotate_on_time(tmp_path: Path) -> None:
    gw, factory, tap, clock = make_gateway(tmp_path, rotate_s=60.0)
    xrp = fixture_messages()
    for k, msg in enumerate(xrp[:6]):
        factory.ws.feed(msg)
        clock.advance(30.0 if k % 2 else 0.5)
    gw.close()
    sizes = [len(read_jsonl(p.with_suffix(".jsonl"))) for p in gw.recorder.parts]
    assert sizes == [4, 2]
    items = np.concatenate([open_file(p).items for p in gw.recorder.parts])
    assert_same(items, normalize_all(tap))


def test_disconnect_marks_every_instrument_stale(tmp_path: Path) -> None:
    gw, factory, tap, clock = make_gateway(tmp_path)
    xrp = fixture_messages()
    first = factory.ws
    first.feed(xrp[0])
    first.feed(book(BTC.symbol, "snapshot", 9, 1733011200700, [["97000.5", "0.5"]], []))
    first.feed(xrp[1])
    assert not gw.normalizer.is_stale(XRP.symbol) and not gw.normalizer.is_stale(BTC.symbol)

    first.drop()
    dropped = len(tap)
    gw.source.step()
    assert gw.normalizer.is_stale(XRP.symbol) and gw.normalizer.is_stale(BTC.symbol)
    assert first.ws.closed and len(factory.sockets) == 1  # not before the backoff delay
    clock.advance(gw.source.backoff.initial)
    gw.source.step()
    second = factory.ws
    assert second is not first and gw.source.connects == 2
    assert [f["args"][0] for f in second.frames()] == [
        XRP_BOOK,
        "publicTrade.XRPUSDT",
        BTC_BOOK,
        "publicTrade.BTCUSDT",
    ]

    before = gw.recorder.hl2_count
    second.feed(xrp[2])  # u follows, but the book may have moved while disconnected
    assert gw.recorder.hl2_count == before and gw.normalizer.counters.ignored == 1
    second.feed(trade(XRP.symbol, xrp[2]["ts"], "Buy", "1.9538", "1"))  # trades still flow
    assert gw.recorder.hl2_count == before + 1
    snap = copy.deepcopy(xrp[0])
    snap["data"]["u"] = xrp[2]["data"]["u"]
    second.feed(snap)
    second.feed(xrp[3])
    assert not gw.normalizer.is_stale(XRP.symbol) and gw.normalizer.is_stale(BTC.symbol)
    n3 = len(xrp[3]["data"]["b"]) + len(xrp[3]["data"]["a"])
    assert gw.recorder.hl2_count == before + 1 + 1001 + n3
    gw.close()
    # The recording has a line for the disconnect, so converting the .jsonl alone marks
    # the books stale at the same point and reproduces the live stream exactly.
    lines = gw.recorder.parts[0].with_suffix(".jsonl").read_text().splitlines()
    events = [parse_line(t)[2] for t in lines]
    assert events.count("disconnect") == 1 and events.index("disconnect") == dropped
    report = convert_file(gw.recorder.parts[0].with_suffix(".jsonl"), tmp_path / "c.hl2", REGISTRY)
    assert report.counters.ignored == 1 and report.counters.rejected == 0
    assert_same(open_file(tmp_path / "c.hl2").items, open_file(gw.recorder.parts[0]).items)
    # and a normalizer that is not told of the disconnect would differ (it emits xrp[2])
    norm = Normalizer(REGISTRY.instruments)
    plain = np.concatenate([norm.feed(m, r) for m, r in tap])
    assert len(plain) == len(open_file(gw.recorder.parts[0]).items) + len(
        xrp[2]["data"]["b"]
    ) + len(xrp[2]["data"]["a"])
