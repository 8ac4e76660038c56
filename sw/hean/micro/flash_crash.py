"""The flash-crash detector: a move of more than 5 % within 10 s halts new entries.

Each mid price is kept for ``window_ns``. When the largest move from a price in the
window to the current one exceeds ``move`` (5 %), entries halt for ``halt_ns``; if the
price has also come back by ``recovery`` (3 %) of the starting price from the window's
extreme, the event is a *flash* crash (or spike), the seeds' signature. Halts extend
while the condition holds.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from hean.micro.crash_scan import scan


@dataclass(frozen=True)
class FlashCrashConfig:
    window_ns: int = 10_000_000_000  # seed: < 10 s
    move: float = 0.05  # seed: > 5 %
    recovery: float = 0.03  # seed: 3 % recovery
    halt_ns: int = 60_000_000_000  # ours: a minute without new entries

    def __post_init__(self) -> None:
        if self.window_ns <= 0 or self.halt_ns < 0 or not 0 < self.recovery < self.move < 1:
            raise ValueError("flash crash: window_ns > 0, halt_ns >= 0, 0 < recovery < move < 1")


@dataclass(frozen=True)
class CrashEvent:
    ts_ns: int
    move: float  # signed, from the window's start to its extreme
    flash: bool  # recovered by at least ``recovery``


class FlashCrashDetector:
    """Mid prices in; :meth:`halted` says whether new entries must wait."""

    def __init__(self, config: FlashCrashConfig | None = None) -> None:
        self.config = config or FlashCrashConfig()
        self._prices: deque[tuple[int, float]] = deque()
        self._lo: deque[tuple[int, float]] = deque()  # increasing prices: the window's min first
        self._hi: deque[tuple[int, float]] = deque()  # decreasing prices: the window's max first
        self.halt_until = -1
        self.events: list[CrashEvent] = []

    def update(self, ts_ns: int, price: float) -> CrashEvent | None:
        c = self.config
        point = (ts_ns, price)
        self._prices.append(point)
        lows, highs = self._lo, self._hi
        while lows and lows[-1][1] >= price:
            lows.pop()
        lows.append(point)
        while highs and highs[-1][1] <= price:
            highs.pop()
        highs.append(point)
        oldest = ts_ns - c.window_ns
        prices, lows, highs = self._prices, self._lo, self._hi
        while prices[0][0] < oldest:
            prices.popleft()
        while lows[0][0] < oldest:
            lows.popleft()
        while highs[0][0] < oldest:
            highs.popleft()
        start, lo, hi = prices[0][1], lows[0][1], highs[0][1]
        down, up = (start - lo) / start, (hi - start) / start
        if down <= c.move and up <= c.move:
            return None
        if down >= up:
            move, flash = -down, (price - lo) / start >= c.recovery
        else:
            move, flash = up, (hi - price) / start >= c.recovery
        event = CrashEvent(ts_ns, move, flash)
        if ts_ns > self.halt_until:
            self.events.append(event)  # a new event, not the same one held open
        self.halt_until = ts_ns + c.halt_ns
        return event

    def halted(self, ts_ns: int) -> bool:
        return ts_ns <= self.halt_until

    def update_many(self, ts_ns: np.ndarray, prices: np.ndarray) -> np.ndarray:
        """:meth:`update` for each point of a batch, in order (numba,
        :mod:`hean.micro.crash_scan`); returns :meth:`halted` at each point's time.

        The detector ends in the same state as after the same calls of :meth:`update`.
        """
        ts = np.asarray(ts_ns, dtype=np.int64)
        px = np.asarray(prices, dtype=np.float64)
        if len(ts) == 0:
            return np.zeros(0, dtype=bool)
        c = self.config
        old = list(self._prices)
        at = {id(point): k for k, point in enumerate(old)}  # the queues share the points
        all_ts = np.concatenate([np.array([t for t, _ in old], dtype=np.int64), ts])
        all_px = np.concatenate([np.array([q for _, q in old], dtype=np.float64), px])
        lo = np.array([at[id(q)] for q in self._lo], dtype=np.int64)
        hi = np.array([at[id(q)] for q in self._hi], dtype=np.int64)
        halted, ev_ts, ev_move, ev_flash, ev_new, front, lo, hi, self.halt_until = scan(
            all_ts, all_px, len(old), lo, hi, 0, c.window_ns, c.move, c.recovery, c.halt_ns,
            self.halt_until,
        )  # fmt: skip
        self.halt_until = int(self.halt_until)
        points = list(zip(all_ts[front:].tolist(), all_px[front:].tolist(), strict=True))
        self._prices = deque(points)
        self._lo = deque(points[k - front] for k in lo.tolist())
        self._hi = deque(points[k - front] for k in hi.tolist())
        for t, m, f, new in zip(ev_ts.tolist(), ev_move.tolist(), ev_flash.tolist(),
                                ev_new.tolist(), strict=True):  # fmt: skip
            if new:
                self.events.append(CrashEvent(t, m, f))
        return halted
