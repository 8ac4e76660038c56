"""TWAP: a large parent order cut into child orders spread evenly over time.

Orders of at least ``min_notional`` ($10,000) are sliced rather than sent whole.
:class:`TWAPExecutor` plans ``slices`` (10) children over ``duration_ns`` (300 s): slice
``i`` is due at ``start + (i + jitter * u_i) * dt``, ``dt = duration / slices``, jitter
0.2, ``u_i`` uniform in [-1, 1] from a seeded :class:`numpy.random.Generator` (the first
slice never early; the same seed, the same schedule). The sizes come from
:func:`split_lots` and add up to the parent exactly.

The executor sends nothing itself. The caller (the router) drives it with
:meth:`SliceExecutor.due`, which returns :class:`Place` and :class:`Cancel` actions, and
reports back with :meth:`SliceExecutor.on_fill` and :meth:`SliceExecutor.on_done`. A
child still open ``ttl_ns`` after it was placed is cancelled; once the cancel is
confirmed (``on_done``) its unfilled lots are re-sliced over the slices still to come,
or, after the last one, placed at once in a replacement (``ChildOrder.replaces``).
Releasing lots only on confirmation means a fill racing the cancel can never make the
children add up to more than the parent. :mod:`hean.execution.vwap` reuses the engine.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise
from typing import NamedTuple

import numpy as np

from hean.domain import InstrumentSpec, OrderRequest, Side, TimeInForce


def split_lots(total: int, weights: Sequence[float]) -> list[int]:
    """Split ``total`` lots in proportion to ``weights``, summing exactly to ``total``.

    Slice ``i`` gets the lots between the rounded cumulative targets
    ``round(total * W_{i-1} / W)`` and ``round(total * W_i / W)``: each is within one lot
    of its exact share, and a zero weight gets zero lots. All-zero weights split evenly.

    Raises
    ------
    ValueError
        For a negative total, no weights, or a negative or non-finite weight.
    """
    if total < 0:
        raise ValueError(f"cannot split a negative size: {total}")
    if not len(weights):
        raise ValueError("no weights to split over")
    w = np.asarray(weights, dtype=np.float64)
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite and non-negative")
    if w.sum() <= 0:
        w = np.ones_like(w)
    cum = np.cumsum(w)
    bounds = [round(total * float(c) / float(cum[-1])) for c in cum]
    bounds[-1] = total  # exact, whatever the float rounding of the last sum
    return [b - a for a, b in zip([0, *bounds[:-1]], bounds, strict=True)]


def needs_slicing(
    spec: InstrumentSpec, qty_lots: int, price_ticks: int, min_notional: Decimal | float
) -> bool:
    """Whether an order's value (exact, in quote currency) reaches ``min_notional``."""
    return qty_lots * price_ticks * spec.unit_value >= Decimal(str(min_notional))


@dataclass(frozen=True, slots=True)
class ParentOrder:
    """The order to slice (ValueError for a size under one lot)."""

    instrument: int
    side: Side
    qty_lots: int
    strategy: str
    reduce_only: bool = False

    def __post_init__(self) -> None:
        if self.qty_lots < 1:
            raise ValueError(f"parent order must be at least one lot, got {self.qty_lots}")


class ChildOrder(NamedTuple):
    """One child to place: its size and times; the router chooses its price.

    ``replaces`` is the link id of the cancelled child whose remainder this one carries
    (a replacement after the last slice), else None.
    """

    link_id: str
    instrument: int
    side: Side
    qty_lots: int
    due_ns: int
    expires_ns: int
    slice: int
    strategy: str
    reduce_only: bool = False
    replaces: str | None = None

    def request(
        self, ts_ns: int, price_ticks: int | None = None, tif: TimeInForce = TimeInForce.GTC
    ) -> OrderRequest:
        """The child as an :class:`~hean.domain.OrderRequest` (market when no price)."""
        return OrderRequest(
            ts_ns, self.instrument, self.side, self.qty_lots, price_ticks, self.strategy,
            self.link_id, self.reduce_only, tif,
        )  # fmt: skip


class Place(NamedTuple):
    """Action: place ``child``."""

    child: ChildOrder


class Cancel(NamedTuple):
    """Action: cancel the open child ``link_id``, then report it with ``on_done``."""

    link_id: str
    instrument: int
    reason: str


Action = Place | Cancel


class _Live:
    __slots__ = ("cancel_sent", "child", "filled")

    def __init__(self, child: ChildOrder) -> None:
        self.child = child
        self.filled = 0
        self.cancel_sent = False


class SliceExecutor:
    """Places a parent order as timed children; TTL cancel and re-slicing of remainders.

    Parameters
    ----------
    parent : ParentOrder
    due_ns, weights : sequence
        When each slice is due (non-decreasing) and its share of the parent (and of
        any remainder re-sliced later).
    ttl_ns : int
        How long a child may stay open after it was placed before it is cancelled.
    link_id_factory : callable
        Returns a fresh ``orderLinkId`` for each child (the router owns them).

    Raises
    ------
    ValueError
        For times and weights of different lengths, times going backwards, a TTL < 1.
    """

    def __init__(
        self,
        parent: ParentOrder,
        due_ns: Sequence[int],
        weights: Sequence[float],
        ttl_ns: int,
        link_id_factory: Callable[[], str],
    ) -> None:
        if len(due_ns) != len(weights) or not len(due_ns):
            raise ValueError("one slice time per weight, at least one slice")
        if any(b < a for a, b in pairwise(due_ns)):
            raise ValueError("slice times must not go backwards")
        if ttl_ns <= 0:
            raise ValueError(f"child TTL must be positive, got {ttl_ns}")
        self.parent = parent
        self.ttl_ns = int(ttl_ns)
        self._new_id = link_id_factory
        self._due = [int(t) for t in due_ns]
        self._weights = [float(w) for w in weights]
        self._lots = split_lots(parent.qty_lots, self._weights)
        self._next = 0  # first slice not placed yet
        self._carry = 0  # released lots with no slice left to take them
        self._carry_from: str | None = None
        self._live: dict[str, _Live] = {}
        self._finished: set[str] = set()
        self.filled_lots = 0
        self.excess_lots = 0  # fills beyond the parent (a late fill nothing could absorb)
        self.aborted = False

    @property
    def schedule(self) -> list[tuple[int, int]]:
        """``(due_ns, lots)`` of every slice, as planned now (remainders included)."""
        return list(zip(self._due, self._lots, strict=True))

    @property
    def open_lots(self) -> int:
        """Lots in children placed and not yet filled or finished."""
        return sum(c.child.qty_lots - c.filled for c in self._live.values())

    @property
    def unplaced_lots(self) -> int:
        """Lots not yet in any child: later slices and released remainders."""
        return sum(self._lots[self._next :]) + self._carry

    @property
    def remaining_lots(self) -> int:
        """Lots of the parent not filled yet."""
        return max(0, self.parent.qty_lots - self.filled_lots)

    @property
    def done(self) -> bool:
        """Nothing open and nothing left to place."""
        return not self._live and (self.aborted or not self.unplaced_lots)

    def due(self, now_ns: int) -> list[Action]:
        """The actions to take at ``now_ns``: cancels of expired children, then placements.

        Slices that fell due since the last call are merged into one child: sending
        several at the same instant would defeat the slicing.
        """
        actions: list[Action] = []
        for link_id, live in self._live.items():
            if not live.cancel_sent and now_ns >= live.child.expires_ns:
                live.cancel_sent = True
                actions.append(Cancel(link_id, self.parent.instrument, "ttl"))
        if self.aborted:
            return actions
        lots, index = 0, None
        while self._next < len(self._due) and self._due[self._next] <= now_ns:
            lots += self._lots[self._next]
            index = self._next
            self._next += 1
        if index is not None and lots:
            actions.append(Place(self._child(lots, now_ns, index, None)))
        if self._next == len(self._due) and self._carry:
            child = self._child(self._carry, now_ns, len(self._due) - 1, self._carry_from)
            self._carry, self._carry_from = 0, None
            actions.append(Place(child))
        return actions

    def _child(self, lots: int, now_ns: int, index: int, replaces: str | None) -> ChildOrder:
        p = self.parent
        child = ChildOrder(
            self._new_id(), p.instrument, p.side, lots, now_ns, now_ns + self.ttl_ns, index,
            p.strategy, p.reduce_only, replaces,
        )  # fmt: skip
        if child.link_id in self._live or child.link_id in self._finished:
            raise ValueError(f"link_id_factory returned {child.link_id!r} twice")
        self._live[child.link_id] = _Live(child)
        return child

    def on_fill(self, link_id: str, lots: int) -> None:
        """A child filled ``lots`` (one execution).

        A fill for a child already finished (it raced the cancel) is taken off the lots
        still to place; what cannot be absorbed so is counted in ``excess_lots``.

        Raises
        ------
        KeyError
            For a link id this executor never placed.
        ValueError
            For a size under one lot, or more than the open child has left.
        """
        if lots < 1:
            raise ValueError(f"a fill is at least one lot, got {lots}")
        live = self._live.get(link_id)
        if live is None:
            if link_id not in self._finished:
                raise KeyError(f"{link_id!r} is not a child of this executor")
            self.filled_lots += lots
            self.excess_lots += self._absorb(lots)
            return
        if live.filled + lots > live.child.qty_lots:
            raise ValueError(
                f"fill of {lots} lots overfills child {link_id} "
                f"({live.filled} of {live.child.qty_lots} filled)"
            )
        live.filled += lots
        self.filled_lots += lots
        if live.filled == live.child.qty_lots:
            del self._live[link_id]
            self._finished.add(link_id)

    def on_done(self, link_id: str) -> int:
        """A child is finished (cancelled, expired, rejected or filled); return lots freed.

        Its unfilled lots are spread over the slices still to come by their weights, or
        kept for a replacement child when no slice is left. Repeated reports of a
        finished child free nothing.

        Raises
        ------
        KeyError
            For a link id this executor never placed.
        """
        live = self._live.pop(link_id, None)
        if live is None:
            if link_id in self._finished:
                return 0
            raise KeyError(f"{link_id!r} is not a child of this executor")
        self._finished.add(link_id)
        left = live.child.qty_lots - live.filled
        if left and not self.aborted:
            self._release(left, link_id)
        return left

    def abort(self) -> list[Cancel]:
        """Stop: cancels for every open child; nothing more will be placed."""
        self.aborted = True
        self._lots[self._next :] = [0] * (len(self._lots) - self._next)
        self._carry = 0
        cancels = []
        for link_id, live in self._live.items():
            if not live.cancel_sent:
                live.cancel_sent = True
                cancels.append(Cancel(link_id, self.parent.instrument, "abort"))
        return cancels

    def _release(self, lots: int, link_id: str) -> None:
        rest = range(self._next, len(self._due))
        if not rest:
            self._carry += lots
            self._carry_from = link_id
            return
        extra = split_lots(lots, [self._weights[i] for i in rest])
        for i, more in zip(rest, extra, strict=True):
            self._lots[i] += more

    def _absorb(self, lots: int) -> int:
        """Take ``lots`` off what is still to place (latest first); return what is left."""
        take = min(lots, self._carry)
        self._carry -= take
        lots -= take
        for i in range(len(self._lots) - 1, self._next - 1, -1):
            if not lots:
                break
            take = min(lots, self._lots[i])
            self._lots[i] -= take
            lots -= take
        return lots


@dataclass(frozen=True, slots=True)
class TWAPConfig:
    """Settings of :class:`TWAPExecutor`.

    Parameters
    ----------
    duration_ns, slices : int
        The slices are spread over ``duration_ns`` (300 s); ``slices`` of them (10).
    jitter : float
        Slice times move by up to this fraction of the interval either way (0.2); below
        0.5 so that slices never swap order.
    min_notional : float
        Orders of at least this value in quote currency are sliced (10,000).
    child_ttl_ns : int, optional
        A child's time to live; by default the shortest gap between two slices,
        ``(1 - 2 * jitter) * dt``, so a child is cancelled before the next is due.

    Raises
    ------
    ValueError
        For a duration or slice count under one, a jitter outside [0, 0.5), a negative
        threshold or a TTL that is not positive.
    """

    duration_ns: int = 300_000_000_000
    slices: int = 10
    jitter: float = 0.2
    min_notional: float = 10_000.0
    child_ttl_ns: int | None = None

    def __post_init__(self) -> None:
        if self.duration_ns < 1 or self.slices < 1:
            raise ValueError("TWAP: duration_ns and slices must be at least 1")
        validate_slicing(self.jitter, self.min_notional, self.child_ttl_ns, "TWAP")

    @property
    def interval_ns(self) -> float:
        return self.duration_ns / self.slices

    @property
    def ttl_ns(self) -> int:
        """The child TTL in force (given, or the shortest gap between slices)."""
        if self.child_ttl_ns is not None:
            return self.child_ttl_ns
        return max(1, int((1.0 - 2.0 * self.jitter) * self.interval_ns))


def validate_slicing(jitter: float, min_notional: float, ttl: int | None, what: str) -> None:
    """Check the settings TWAP and VWAP share; ``what`` names the algorithm in errors."""
    if not 0.0 <= jitter < 0.5:
        raise ValueError(f"{what}: jitter must be within [0, 0.5), got {jitter}")
    if not (math.isfinite(min_notional) and min_notional >= 0):
        raise ValueError(f"{what}: min_notional must be >= 0, got {min_notional}")
    if ttl is not None and ttl < 1:
        raise ValueError(f"{what}: child_ttl_ns must be positive, got {ttl}")


def jittered_times(
    start_ns: int, interval_ns: float, count: int, jitter: float, rng: np.random.Generator
) -> list[int]:
    """``start + i * interval`` moved by up to ``jitter * interval``; the first never early."""
    u = rng.uniform(-1.0, 1.0, size=count)
    u[0] = abs(u[0])
    return [start_ns + round((i + jitter * float(u[i])) * interval_ns) for i in range(count)]


def make_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    """``rng`` itself, a generator seeded with it, or (None) one from fresh entropy."""
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


class TWAPExecutor(SliceExecutor):
    """Equal slices at jittered, evenly spaced times.

    Parameters
    ----------
    parent : ParentOrder
    start_ns : int
        When the first slice is due (at the earliest).
    link_id_factory : callable
        Returns a fresh ``orderLinkId`` for each child.
    config : TWAPConfig, optional
    rng : numpy.random.Generator or int, optional
        The jitter's source; an int seeds one. The same seed gives the same schedule.
    """

    def __init__(
        self,
        parent: ParentOrder,
        start_ns: int,
        link_id_factory: Callable[[], str],
        config: TWAPConfig | None = None,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        self.config = c = config or TWAPConfig()
        times = jittered_times(start_ns, c.interval_ns, c.slices, c.jitter, make_rng(rng))
        super().__init__(parent, times, [1.0] * c.slices, c.ttl_ns, link_id_factory)
