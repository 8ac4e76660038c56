"""Exits of open positions: take-profit, stop-loss and a time stop, over feature records.

The impulse engine opens positions and names their exits in its signal (take-profit and
stop-loss in bps of the entry price); this module watches them. A long position is
judged on the bid, a short one on the ask: the price a market order closing it would
meet first. An exit is due at the first whole, two-sided update of the instrument where

* that price has moved ``take_profit_bps`` in the position's favour from its average
  entry price, or ``stop_loss_bps`` against it, or
* the position has been open ``max_hold_s`` (or the risk governor's ``position_ttl_s``,
  whichever is shorter).

:meth:`ExitWatch.first_due` finds that record over a batch with numpy (the batch's whole
updates indexed once by :class:`WholeUpdates`), so a position held over a million
records costs a few array passes, not a million Python calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hean.wire import Status

_END = int(Status.END)
_ONE_SIDED = int(Status.BID_EMPTY | Status.ASK_EMPTY)


@dataclass(frozen=True)
class ExitConfig:
    """When to close a position.

    ``enabled=False`` leaves positions open (only the risk governor's limits apply), as
    a study of entries alone would want. ``max_hold_s`` is the impulse strategy's time
    stop: a microstructure signal's edge is spent within minutes.
    """

    enabled: bool = True
    max_hold_s: float = 300.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.max_hold_s) and self.max_hold_s > 0):
            raise ValueError(f"exits.max_hold_s must be a number of seconds > 0, got "
                             f"{self.max_hold_s}")  # fmt: skip


@dataclass(frozen=True, slots=True)
class OpenPosition:
    """What the watch needs of one instrument's position."""

    instrument: int
    lots: int  # signed: + long
    avg_ticks: float  # average entry price, ticks
    opened_ns: int
    take_profit_bps: float
    stop_loss_bps: float

    def bounds(self) -> tuple[float, float]:
        """(upper, lower) prices in ticks: crossing either closes the position."""
        up = 1.0 + (self.take_profit_bps if self.lots > 0 else self.stop_loss_bps) * 1e-4
        down = 1.0 - (self.stop_loss_bps if self.lots > 0 else self.take_profit_bps) * 1e-4
        return self.avg_ticks * up, self.avg_ticks * down


@dataclass(frozen=True, slots=True)
class Due:
    """An exit that is due: at which record of the batch, and why."""

    index: int
    instrument: int
    reason: str  # "take-profit", "stop-loss" or "time"


class WholeUpdates:
    """The whole, two-sided updates of a batch of records, by instrument.

    Built once per batch; :meth:`last` and :class:`ExitWatch` then look records up by
    binary search instead of scanning the batch again.
    """

    def __init__(self, recs: np.ndarray) -> None:
        status = recs["status"]
        idx = np.flatnonzero(((status & _END) != 0) & ((status & _ONE_SIDED) == 0))
        inst = recs["instrument"][idx]
        order = np.argsort(inst, kind="stable")  # stable: each instrument's in stream order
        ids, starts = np.unique(inst[order], return_index=True)
        bounds = [*starts.tolist(), len(order)]
        self.index: dict[int, np.ndarray] = {}
        self.bid: dict[int, np.ndarray] = {}
        self.ask: dict[int, np.ndarray] = {}
        self.ts: dict[int, np.ndarray] = {}
        for n, i in enumerate(ids.tolist()):
            at = idx[order[bounds[n] : bounds[n + 1]]]
            self.index[i] = at
            self.bid[i] = recs["bid_px"][at].astype(np.float64)
            self.ask[i] = recs["ask_px"][at].astype(np.float64)
            self.ts[i] = recs["recv_ts_ns"][at].astype(np.int64)

    def last(self, instrument: int, k: int) -> int | None:
        """The position of the instrument's latest whole update at or before ``k``."""
        at = self.index.get(instrument)
        if at is None:
            return None
        j = int(np.searchsorted(at, k, "right")) - 1
        return int(at[j]) if j >= 0 else None

    def span(self, instrument: int, lo: int, hi: int) -> tuple[int, int]:
        """The instrument's updates in ``[lo, hi)`` as a slice of its arrays."""
        at = self.index.get(instrument)
        if at is None:
            return 0, 0
        return int(np.searchsorted(at, lo, "left")), int(np.searchsorted(at, hi, "left"))


_UNKNOWN = Due(-1, -1, "")  # "not searched yet in this batch" (None: searched, none due)


class ExitWatch:
    """The exits of the open positions, found over batches of records.

    Parameters
    ----------
    config : ExitConfig
    position_ttl_s : float
        The risk governor's longest holding time; the shorter of it and
        ``config.max_hold_s`` applies.
    """

    def __init__(self, config: ExitConfig, position_ttl_s: float = math.inf) -> None:
        self.config = config
        self.hold_ns = int(min(config.max_hold_s, position_ttl_s) * 1e9)
        self.positions: dict[int, OpenPosition] = {}
        self._updates: WholeUpdates | None = None
        self._due: dict[int, Due | None] = {}  # instrument -> its first trigger this batch

    def watch(self, position: OpenPosition) -> None:
        """Watch ``position`` (replacing what was watched for its instrument)."""
        if self.config.enabled and position.lots:
            self.positions[position.instrument] = position
            self._due.pop(position.instrument, None)

    def forget(self, instrument: int) -> None:
        """Stop watching the instrument (its position is closed, or being closed)."""
        self.positions.pop(instrument, None)
        self._due.pop(instrument, None)

    def first_due(self, updates: WholeUpdates, lo: int, hi: int) -> Due | None:
        """The first exit due among the batch's records ``lo..hi-1``, or None.

        The calls of one batch are expected in stream order (``lo`` never goes back).
        Each position's first trigger is searched once per batch and kept: its bounds
        do not move while it is watched.
        """
        if updates is not self._updates:
            self._updates, self._due = updates, {}
        best: Due | None = None
        for inst, pos in self.positions.items():
            due = self._due.get(inst, _UNKNOWN)
            if due is _UNKNOWN or (due is not None and due.index < lo):
                due = self._due[inst] = self._scan(pos, updates, lo)
            if due is not None and due.index < hi and (best is None or due.index < best.index):
                best = due
        return best

    def _scan(self, pos: OpenPosition, updates: WholeUpdates, lo: int) -> Due | None:
        a, b = updates.span(pos.instrument, lo, 1 << 62)
        if a >= b:
            return None
        prices = (updates.bid if pos.lots > 0 else updates.ask)[pos.instrument]
        price = prices[a:b]
        up, down = pos.bounds()
        late = updates.ts[pos.instrument][a:b] >= pos.opened_ns + self.hold_ns
        hit = np.flatnonzero((price >= up) | (price <= down) | late)
        if hit.size == 0:
            return None
        k = int(hit[0])
        if price[k] >= up:
            reason = "take-profit" if pos.lots > 0 else "stop-loss"
        elif price[k] <= down:
            reason = "stop-loss" if pos.lots > 0 else "take-profit"
        else:
            reason = "time"
        return Due(int(updates.index[pos.instrument][a + k]), pos.instrument, reason)
