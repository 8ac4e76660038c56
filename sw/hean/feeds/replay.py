"""Replay a recorded ``.hl2`` stream into a feature engine, paced like the original.

The pace comes from each message's ``recv_ts_ns`` (when the gateway received it), or
``exch_ts_ns`` when the file has no receive times (a converted historical download).
At ``speed`` s, a message that arrived t seconds after the first one is fed t/s
seconds after the replay started; ``speed=None`` feeds everything as fast as the
engine takes it. Messages that are due together go to the engine as one batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from hean.engine.base import FeatureEngine
from hean.wire import MSG_DTYPE, Status

#: Longest single sleep, so the status line stays live during quiet stretches.
MAX_SLEEP_S = 0.1
#: Batch size when replaying as fast as possible.
FAST_CHUNK = 1 << 16


def pacing_times(msgs: np.ndarray) -> tuple[np.ndarray, str]:
    """Per-message times (ns) to pace by, and which field they come from.

    ``recv_ts_ns`` when every message has one, else ``exch_ts_ns`` when every message
    has one, else none (an empty array and ``"none"``): the replay then runs at full
    speed. Times that go backwards are held at the latest one seen, so a pause never
    turns negative.
    """
    for name in ("recv_ts_ns", "exch_ts_ns"):
        ts = np.asarray(msgs[name], dtype=np.uint64)
        if len(ts) and np.all(ts != 0):
            return np.maximum.accumulate(ts), name
    return np.zeros(0, dtype=np.uint64), "none"


@dataclass
class BookView:
    """Best levels of one instrument, from its latest END record."""

    bid_px: int = 0
    bid_qty: int = 0
    ask_px: int = 0xFFFFFFFF
    ask_qty: int = 0


@dataclass
class ReplayStatus:
    """Where a replay stands (passed to the status callback after every batch)."""

    messages: int = 0
    total: int = 0
    elapsed_s: float = 0.0
    books: dict[int, BookView] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Messages per second of wall time so far."""
        return self.messages / self.elapsed_s if self.elapsed_s > 0 else 0.0


def _update_books(status: ReplayStatus, records: np.ndarray) -> None:
    end = records[(records["status"] & Status.END) != 0]
    if not len(end):
        return
    # the last END record of each instrument in this batch
    inst = end["instrument"]
    _, last = np.unique(inst[::-1], return_index=True)
    for k in len(inst) - 1 - last:
        r = end[k]
        status.books[int(r["instrument"])] = BookView(
            int(r["bid_px"]), int(r["bid_qty"]), int(r["ask_px"]), int(r["ask_qty"])
        )


def replay(
    msgs: np.ndarray,
    engine: FeatureEngine,
    *,
    speed: float | None,
    on_status: Callable[[ReplayStatus], None] | None = None,
    on_records: Callable[[np.ndarray], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ReplayStatus:
    """Feed ``msgs`` to ``engine`` at ``speed`` times the recorded pace (None: at once).

    Parameters
    ----------
    msgs : numpy.ndarray
        HL2 messages (``MSG_DTYPE``), e.g. ``open_file(path).items``.
    engine : FeatureEngine
        Receives the messages in batches, in order.
    speed : float or None
        > 0; None replays as fast as possible.
    on_status, on_records : callable, optional
        Called after each batch with the status and with the batch's records.
    clock, sleep : callable
        Monotonic seconds and a sleep (tests pass fakes).

    Returns
    -------
    ReplayStatus
        The final status.

    Raises
    ------
    ValueError
        If ``speed`` is not positive or ``msgs`` are not HL2 messages.
    """
    if msgs.dtype != MSG_DTYPE:
        raise ValueError(f"replay needs HL2 messages, got {msgs.dtype}")
    if speed is not None and not speed > 0:
        raise ValueError(f"speed must be > 0, got {speed}")
    times, _ = pacing_times(msgs) if speed is not None else (np.zeros(0, np.uint64), "none")
    status = ReplayStatus(total=len(msgs))
    start = clock()
    i = 0
    while i < len(msgs):
        if len(times):
            # due: every message whose offset from the first, scaled, has passed
            now_ns = int((clock() - start) * speed * 1e9) + int(times[0])
            j = int(np.searchsorted(times, np.uint64(now_ns), side="right"))
            if j <= i:
                wait = (int(times[i]) - now_ns) / 1e9 / speed
                sleep(min(max(wait, 0.0), MAX_SLEEP_S))
                continue
        else:
            j = min(len(msgs), i + FAST_CHUNK)
        records = engine.process(msgs[i:j])
        i = j
        status.messages = i
        status.elapsed_s = clock() - start
        _update_books(status, records)
        if on_records is not None:
            on_records(records)
        if on_status is not None:
            on_status(status)
    status.elapsed_s = clock() - start
    return status
