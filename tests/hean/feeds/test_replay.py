"""Replay pacing on a fake clock, and records equal to one pass of the engine."""

from __future__ import annotations

import numpy as np
import pytest

from hean.engine import Mirror
from hean.feeds.replay import pacing_times, replay
from hean.wire import Flag, MsgType, Params, Side, messages

S = 1_000_000_000  # ns


def stream(times_ns: list[int], field: str = "recv_ts_ns") -> np.ndarray:
    rows = []
    for k in range(len(times_ns)):
        rows.append((MsgType.SET, Side.BID if k % 2 else Side.ASK, Flag.END, 0, k + 1,
                     100 + (k % 2) * -10, 5))  # fmt: skip
    m = messages(rows)
    m[field] = times_ns
    return m


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


class Recorder:
    """An engine wrapper that notes when (fake time) each batch arrived."""

    def __init__(self, t: FakeTime) -> None:
        self.t, self.inner, self.batches = t, Mirror(Params(N=1)), []

    def process(self, msgs: np.ndarray) -> np.ndarray:
        self.batches.append((self.t.now, len(msgs)))
        return self.inner.process(msgs)


def test_pacing_field_choice() -> None:
    assert pacing_times(stream([5, 6]))[1] == "recv_ts_ns"
    assert pacing_times(stream([5, 6], "exch_ts_ns"))[1] == "exch_ts_ns"
    assert pacing_times(stream([0, 0]))[1] == "none"
    ts, _ = pacing_times(stream([5, 9, 7, 10]))
    assert ts.tolist() == [5, 9, 9, 10]  # never backwards


@pytest.mark.parametrize("speed", [1.0, 10.0])
def test_messages_arrive_at_their_scaled_times(speed: float) -> None:
    t = FakeTime()
    times = [10 * S, 10 * S, 11 * S, 13 * S, 13 * S + 500_000_000]
    eng = Recorder(t)
    status = replay(stream(times), eng, speed=speed, clock=t.clock, sleep=t.sleep)
    assert status.messages == 5 and sum(n for _, n in eng.batches) == 5
    fed = []
    for when, n in eng.batches:
        fed += [when] * n
    for when, ts in zip(fed, times, strict=True):
        due = 100.0 + (ts - times[0]) / S / speed
        assert due <= when < due + 0.1 + 1e-9  # never early, late by at most one sleep
    assert max(t.sleeps) <= 0.1


def test_max_speed_never_sleeps_and_equals_one_pass() -> None:
    t = FakeTime()
    msgs = stream([k * S for k in range(1, 2000)])
    eng = Recorder(t)
    seen: list[np.ndarray] = []
    status = replay(msgs, eng, speed=None, clock=t.clock, sleep=t.sleep, on_records=seen.append)
    assert t.sleeps == [] and status.messages == len(msgs)
    assert np.concatenate(seen).tobytes() == Mirror(Params(N=1)).process(msgs).tobytes()
    book = status.books[0]
    assert (book.bid_px, book.ask_px) == (90, 100)


def test_status_callback_and_errors() -> None:
    t = FakeTime()
    statuses = []
    replay(stream([S, 2 * S]), Recorder(t), speed=1.0, clock=t.clock, sleep=t.sleep,
           on_status=lambda s: statuses.append(s.messages))  # fmt: skip
    assert statuses == [1, 2]
    with pytest.raises(ValueError):
        replay(stream([S]), Recorder(t), speed=0)
    with pytest.raises(ValueError):
        replay(np.zeros(3, dtype=np.uint8), Recorder(t), speed=None)
