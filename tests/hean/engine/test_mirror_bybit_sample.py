"""The mirror on real Bybit data: XRPUSDT order book, 1 snapshot (500 levels) + 49 deltas.

The gateway that converts Bybit messages comes later; this test builds the HL2 stream
itself, following the normalization rules (CLEAR both + one SET per level for a
snapshot, one SET per entry for a delta, END on the last message of each update, exact
decimal conversion to ticks and lots).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from hean.engine import Mirror
from hean.wire import Flag, MsgType, Params, Side, Status, messages

from .reference import reference

SAMPLE = Path(__file__).parents[2] / "fixtures" / "bybit_XRPUSDT_2024-12-01_ob500_head.jsonl"
TICK, LOT = Decimal("0.0001"), Decimal("1")


def exact(value: str, step: Decimal) -> int:
    units = Decimal(value) / step
    assert units == units.to_integral_value(), f"{value} is not a multiple of {step}"
    return int(units)


def to_hl2(lines: list[dict]) -> np.ndarray:
    rows = []
    for msg in lines:
        data = msg["data"]
        ts = int(msg.get("cts", msg["ts"])) * 1_000_000
        snapshot = msg["type"] == "snapshot" or data["u"] == 1
        base = Flag.SNAPSHOT if snapshot else 0
        update = [(MsgType.CLEAR, Side.BOTH, 0, 0)] if snapshot else []
        for side, key in ((Side.BID, "b"), (Side.ASK, "a")):
            update += [(MsgType.SET, side, exact(p, TICK), exact(q, LOT)) for p, q in data[key]]
        for k, (mtype, side, price, qty) in enumerate(update):
            flags = base | (Flag.END if k == len(update) - 1 else 0)
            rows.append((mtype, side, flags, 0, len(rows) + 1, price, qty, ts, 0))
    return messages(rows)


@pytest.fixture(scope="module")
def sample() -> tuple[list[dict], np.ndarray]:
    lines = [json.loads(line) for line in SAMPLE.read_text().splitlines()]
    return lines, to_hl2(lines)


def full_book(lines: list[dict]) -> list[dict[int, int]]:
    """The whole 500-level book, applied with plain dicts."""
    sides: list[dict[int, int]] = [{}, {}]
    for msg in lines:
        if msg["type"] == "snapshot":
            sides = [{}, {}]
        for s, key in ((0, "b"), (1, "a")):
            for p, q in msg["data"][key]:
                if exact(q, LOT):
                    sides[s][exact(p, TICK)] = exact(q, LOT)
                else:
                    sides[s].pop(exact(p, TICK), None)
    return sides


def test_sample_is_what_the_fixture_says(sample) -> None:
    lines, msgs = sample
    assert len(lines) == 50
    assert [m["data"]["u"] for m in lines] == list(range(20254869, 20254919))
    assert lines[0]["type"] == "snapshot" and len(lines[0]["data"]["b"]) == 500
    # one END per exchange update, SNAPSHOT on every message of the snapshot
    assert np.count_nonzero(msgs["flags"] & Flag.END) == 50
    assert np.count_nonzero(msgs["flags"] & Flag.SNAPSHOT) == 1001


@pytest.mark.parametrize("K", [4, 32, 64])
def test_snapshot_keeps_the_best_k_levels(sample, K: int) -> None:
    lines, msgs = sample
    engine = Mirror(Params(K=K, N=1))
    recs = engine.process(msgs[:1001])
    snap = lines[0]["data"]
    bids = [(exact(p, TICK), exact(q, LOT)) for p, q in snap["b"][:K]]
    asks = [(exact(p, TICK), exact(q, LOT)) for p, q in snap["a"][:K]]
    assert engine.book(0) == (bids, asks)
    last = recs[-1]
    assert (last["bid_px"], last["ask_px"]) == (19531, 19532)  # "1.9531" / "1.9532"
    assert last["depth_bid"] == sum(q for _, q in bids)
    assert last["depth_ask"] == sum(q for _, q in asks)
    # levels arrive best first: once a side holds K levels, each further one is worse
    # than all of them and is dropped, the 500th ask (the last message) included
    assert last["status"] == Status.END | Status.SNAPSHOT | Status.DROPPED
    assert engine.counters().dropped == 2 * (500 - K)
    assert engine.counters().bad == 0


@pytest.mark.parametrize("K", [8, 32, 64])
def test_whole_sample_through_the_mirror(sample, K: int) -> None:
    lines, msgs = sample
    p = Params(K=K, N=1)
    engine = Mirror(p)
    recs = engine.process(msgs)
    c = engine.counters()
    assert (c.messages, c.bad, c.gaps) == (len(msgs), 0, 0)
    assert not (recs["status"] & (Status.GAP | Status.BAD_MSG)).any()
    # Bybit sends an update's bids before its asks, so a bid that moves up can cross an
    # ask that the same update deletes a few messages later: the book may be crossed
    # inside an update, but never at its END, where a strategy reads it.
    end = (recs["status"] & Status.END) != 0
    assert (recs["status"][~end] & Status.CROSSED).any()
    assert not (recs["status"][end] & Status.CROSSED).any()
    # the best levels agree with the whole 500-level book applied independently
    bids, asks = full_book(lines)
    assert (recs[-1]["bid_px"], recs[-1]["bid_qty"]) == (max(bids), bids[max(bids)])
    assert (recs[-1]["ask_px"], recs[-1]["ask_qty"]) == (min(asks), asks[min(asks)])
    # and every record, byte for byte, with the reference reading of the spec
    want = reference(msgs, p)
    assert recs.view(np.uint8).reshape(-1, 128)[:, :112].tobytes() == (
        want.view(np.uint8).reshape(-1, 128)[:, :112].tobytes()
    )
    # the OFI accumulator is the decayed sum of the events, record by record
    acc = 0
    for r in recs:
        acc = acc - (acc >> p.ofi_shift) + int(r["ofi_event"])
        assert acc == r["ofi"]
