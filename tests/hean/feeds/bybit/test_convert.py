"""File conversion: historical and recorded lines, garbage, and adversarial variants."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hean.feeds.bybit.convert import convert_file, parse_line
from hean.feeds.bybit.normalize import Normalizer
from hean.feeds.bybit.registry import Registry
from hean.feeds.recorder import event_line, raw_line
from hean.feeds.sidecar import Instrument
from hean.wire import open_file
from tests.hean.engine.test_mirror_bybit_sample import SAMPLE

XRP = Instrument(id=0, symbol="XRPUSDT", tick="0.0001", lot="1")
BTC = Instrument(id=1, symbol="BTCUSDT", tick="0.1", lot="0.001")
REG = Registry((XRP, BTC))


def sample_lines() -> list[dict]:
    return [json.loads(line) for line in SAMPLE.read_text().splitlines()]


def write(path: Path, lines: list[str | bytes]) -> Path:
    path.write_bytes(b"\n".join(x if isinstance(x, bytes) else x.encode() for x in lines) + b"\n")
    return path


def test_parse_line() -> None:
    assert parse_line('{"topic": "x"}') == ({"topic": "x"}, 0, None)
    assert parse_line(raw_line({"topic": "x"}, 123)) == ({"topic": "x"}, 123, None)
    assert parse_line(event_line("disconnect", 9)) == (None, 9, "disconnect")
    for bad in ("{", "[1,", '{"raw": {}, "recv_ts_ns": -1}', '{"raw": {}, "recv_ts_ns": "5"}',
                '{"raw": {}}', '{"event": "reboot", "recv_ts_ns": 1}'):  # fmt: skip
        with pytest.raises(ValueError):
            parse_line(bad)


def test_recorded_lines_keep_their_receive_time(tmp_path: Path) -> None:
    msgs = sample_lines()[:5]
    src = write(tmp_path / "rec.jsonl", [raw_line(m, 1_000 + k) for k, m in enumerate(msgs)])
    convert_file(src, tmp_path / "out.hl2", REG)
    out = open_file(tmp_path / "out.hl2").items
    norm = Normalizer(REG.instruments)
    want = np.concatenate([norm.feed(m, 1_000 + k) for k, m in enumerate(msgs)])
    assert out.tobytes() == want.tobytes()
    assert set(out["recv_ts_ns"].tolist()) == {1000, 1001, 1002, 1003, 1004}


def test_adversarial_file(tmp_path: Path) -> None:
    """Garbage between good lines: counted with line numbers, nothing else disturbed."""
    lines = sample_lines()
    bad_delta = json.loads(json.dumps(lines[3]))
    bad_delta["data"]["a"].append(["1.95385", "10"])  # off the 0.0001 grid
    trade = {"topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": 1, "data": [
        {"T": 5, "s": "BTCUSDT", "S": "Sell", "v": "0.010", "p": "97000.1"}]}  # fmt: skip
    text = [
        json.dumps(lines[0]),  # 1 snapshot
        "",  # 2 blank: skipped, not counted
        "this is not json",  # 3
        json.dumps(lines[1]),  # 4
        b"\xff\xfe garbage",  # 5 not UTF-8
        json.dumps({**lines[2], "topic": "orderbook.500.DOGEUSDT"}),  # 6 unknown symbol
        json.dumps(trade),  # 7 another symbol's trade, while its book is stale
        json.dumps(bad_delta),  # 8 rejected: the book goes stale
        json.dumps(lines[2]),  # 9 ignored (stale)
        json.dumps(lines[0]),  # 10 the snapshot again: fresh
        json.dumps(lines[1]),  # 11 u follows the snapshot: applied
        json.dumps(lines[5]),  # 12 u jumps: a gap
    ]
    report = convert_file(write(tmp_path / "adv.jsonl", text), tmp_path / "adv.hl2", REG)
    c = report.counters
    assert report.lines == 11
    assert (c.messages, c.rejected, c.gaps, c.snapshots, c.ignored, c.trades) == (11, 4, 1, 2, 1,
                                                                                   1)  # fmt: skip
    assert [n for n, _ in report.errors] == [3, 5, 6, 8]
    assert "not JSON" in report.errors[0][1] and "DOGEUSDT" in report.errors[2][1]
    assert "not a multiple of 0.0001" in report.errors[3][1]
    out = open_file(tmp_path / "adv.hl2").items
    assert c.hl2 == len(out)
    norm = Normalizer(REG.instruments)
    want = np.concatenate([norm.feed(m) for m in (lines[0], lines[1], trade, lines[0], lines[1])])
    assert out.tobytes() == want.tobytes()


def test_recorded_disconnect_makes_every_book_stale(tmp_path: Path) -> None:
    lines = sample_lines()
    text = [raw_line(lines[0], 1), raw_line(lines[1], 2), event_line("disconnect", 3),
            raw_line(lines[2], 4), raw_line(lines[0], 5)]  # fmt: skip
    report = convert_file(write(tmp_path / "d.jsonl", text), tmp_path / "d.hl2", REG)
    c = report.counters
    assert (c.messages, c.ignored, c.snapshots, c.rejected) == (4, 1, 2, 0)
    norm = Normalizer(REG.instruments)
    want = np.concatenate([norm.feed(lines[0], 1), norm.feed(lines[1], 2), norm.feed(lines[0], 5)])
    assert open_file(tmp_path / "d.hl2").items.tobytes() == want.tobytes()


def test_progress_reaches_the_file_size(tmp_path: Path) -> None:
    seen: list[int] = []
    convert_file(SAMPLE, tmp_path / "x.hl2", REG, progress=seen.append, chunk=100)
    assert len(seen) > 2 and seen == sorted(seen) and seen[-1] == SAMPLE.stat().st_size
