"""Exits: take-profit, stop-loss and the time stop, found over a batch."""

from __future__ import annotations

import numpy as np
import pytest

from hean.strategy.exits import ExitConfig, ExitWatch, OpenPosition, WholeUpdates
from hean.wire import REC_DTYPE, Status

END = int(Status.END)


def batch(rows: list[tuple[int, int, int, int, int]]) -> np.ndarray:
    """(instrument, status, bid, ask, recv_ts) rows as records."""
    recs = np.zeros(len(rows), REC_DTYPE)
    for k, (inst, status, bid, ask, ts) in enumerate(rows):
        recs[k]["instrument"], recs[k]["status"] = inst, status
        recs[k]["bid_px"], recs[k]["ask_px"], recs[k]["recv_ts_ns"] = bid, ask, ts
    return recs


def long_at(price: float, **kw) -> OpenPosition:
    return OpenPosition(0, 5, price, 0, kw.get("tp", 20.0), kw.get("sl", 10.0))


def test_a_long_is_judged_on_the_bid_and_a_short_on_the_ask() -> None:
    # bid reaches 10020 (+20 bps) at row 2; the ask stays above it
    recs = batch([(0, END, 10000, 10001, 1), (0, END, 10010, 10011, 2), (0, END, 10020, 10021, 3)])
    upd = WholeUpdates(recs)
    w = ExitWatch(ExitConfig())
    w.watch(long_at(10000.0))
    due = w.first_due(upd, 0, 3)
    assert due is not None and (due.index, due.reason) == (2, "take-profit")
    # a short entered at 10015: asks from -14 to +6 bps, inside its -20/+10 bps exits
    w.watch(OpenPosition(0, -5, 10015.0, 0, 20.0, 10.0))
    assert w.first_due(upd, 0, 3) is None
    w.watch(OpenPosition(0, -5, 10000.0, 0, 20.0, 10.0))  # ask 10011 is +11 bps: stop-loss
    due = w.first_due(upd, 0, 3)
    assert due is not None and (due.index, due.reason) == (1, "stop-loss")


def test_only_whole_two_sided_updates_of_the_instrument_count() -> None:
    recs = batch([
        (0, 0, 9000, 9001, 1),  # not END: a part of an update
        (0, END | int(Status.ASK_EMPTY), 9000, 0, 2),  # one-sided
        (1, END, 9000, 9001, 3),  # another instrument
        (0, END, 9989, 9990, 4),  # -11 bps: the stop
    ])  # fmt: skip
    w = ExitWatch(ExitConfig())
    w.watch(long_at(10000.0))
    due = w.first_due(WholeUpdates(recs), 0, 4)
    assert due is not None and (due.index, due.reason) == (3, "stop-loss")


def test_the_time_stop_and_the_governors_ttl() -> None:
    recs = batch([(0, END, 10000, 10001, t * 10**9) for t in range(10)])
    upd = WholeUpdates(recs)
    w = ExitWatch(ExitConfig(max_hold_s=5.0), position_ttl_s=3.0)  # the shorter one wins
    w.watch(long_at(10000.0))
    due = w.first_due(upd, 0, 10)
    assert due is not None and (due.index, due.reason) == (3, "time")


def test_windows_and_forgetting() -> None:
    recs = batch([(0, END, 10000 + 10 * k, 10001 + 10 * k, k) for k in range(6)])
    upd = WholeUpdates(recs)
    w = ExitWatch(ExitConfig())
    w.watch(long_at(10000.0))  # +20 bps at row 2
    assert w.first_due(upd, 0, 2) is None  # not yet within [0, 2)
    assert w.first_due(upd, 2, 6).index == 2
    w.forget(0)
    assert w.first_due(upd, 2, 6) is None
    off = ExitWatch(ExitConfig(enabled=False))
    off.watch(long_at(10000.0))
    assert off.first_due(upd, 0, 6) is None


def test_bad_config() -> None:
    with pytest.raises(ValueError, match="max_hold_s"):
        ExitConfig(max_hold_s=0)
