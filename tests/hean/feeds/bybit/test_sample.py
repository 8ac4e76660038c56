"""The real Bybit XRPUSDT sample (a 500-level snapshot and 49 deltas) through the gateway."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hean.engine import Mirror
from hean.feeds.bybit.convert import convert_file
from hean.feeds.bybit.registry import Registry
from hean.feeds.sidecar import Instrument, read_sidecar
from hean.wire import Flag, MsgType, Params, Status, open_file
from tests.hean.engine.test_mirror_bybit_sample import LOT, SAMPLE, TICK, exact, to_hl2

XRP = Instrument(id=0, symbol="XRPUSDT", tick="0.0001", lot="1")


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> tuple[list[dict], np.ndarray, object]:
    dst = tmp_path_factory.mktemp("xrp") / "xrp.hl2"
    report = convert_file(SAMPLE, dst, Registry((XRP,)))
    lines = [json.loads(line) for line in SAMPLE.read_text().splitlines()]
    return lines, open_file(dst).items, report


def test_counts(converted) -> None:
    lines, msgs, report = converted
    c = report.counters
    entries = sum(len(m["data"]["b"]) + len(m["data"]["a"]) for m in lines)
    assert (report.lines, c.messages, c.rejected, c.gaps, c.snapshots) == (50, 50, 0, 0, 1)
    assert c.hl2 == len(msgs) == entries + 1 == 3967  # + the snapshot's CLEAR
    assert np.count_nonzero(msgs["flags"] & Flag.END) == 50
    assert np.count_nonzero(msgs["flags"] & Flag.SNAPSHOT) == 1001


def test_every_field_equals_an_independent_conversion(converted) -> None:
    lines, msgs, _ = converted
    assert msgs.tobytes() == to_hl2(lines).tobytes()
    assert msgs["seq"].tolist() == list(range(1, len(msgs) + 1))
    assert msgs[0]["type"] == MsgType.CLEAR and msgs[0]["side"] == 2
    assert msgs[0]["exch_ts_ns"] == lines[0]["cts"] * 1_000_000  # cts, not ts
    assert not msgs["recv_ts_ns"].any()  # a historical file has no receive times


def test_sidecar_written(converted, tmp_path: Path) -> None:
    dst = tmp_path / "x.hl2"
    convert_file(SAMPLE, dst, Registry((XRP,)))
    side = read_sidecar(dst)
    assert side is not None and side.instruments == (XRP,)
    assert open_file(dst).params == Params(N=1)


@pytest.mark.parametrize("K", [4, 32, 64])
def test_book_after_snapshot_is_its_best_k_levels(converted, K: int) -> None:
    lines, msgs, _ = converted
    engine = Mirror(Params(K=K, N=1))
    engine.process(msgs[:1001])
    snap = lines[0]["data"]
    want = tuple([(exact(p, TICK), exact(q, LOT)) for p, q in snap[s][:K]] for s in ("b", "a"))
    assert engine.book(0) == want


@pytest.mark.parametrize("K", [8, 64])
def test_every_delta_applied_as_bybit_says(converted, K: int) -> None:
    """After each update, each kept level is in Bybit's full book with the same size."""
    lines, msgs, _ = converted
    engine = Mirror(Params(K=K, N=1))
    ends = np.flatnonzero(msgs["flags"] & Flag.END)
    full: list[dict[int, int]] = [{}, {}]
    start = 0
    for msg, end in zip(lines, ends, strict=True):
        for s, key in ((0, "b"), (1, "a")):
            for p, q in msg["data"][key]:
                price, qty = exact(p, TICK), exact(q, LOT)
                if qty == 0:
                    full[s].pop(price, None)  # size 0 deletes
                else:
                    full[s][price] = qty  # unknown price inserts, known price updates
        recs = engine.process(msgs[start : end + 1])
        start = end + 1
        assert not (recs["status"] & Status.BAD_MSG).any()
        for s, levels in enumerate(engine.book(0)):
            assert levels, "a side emptied out"
            assert all(full[s].get(p) == q for p, q in levels)
            best = max(full[s]) if s == 0 else min(full[s])
            assert levels[0] == (best, full[s][best])
