"""VWAP: a large parent order sliced by minute, each minute sized by its usual volume.

Trade more when the market usually trades more (the impact of a slice is smaller when
it is a smaller share of the minute's volume), less when it is quiet. The profile is
an array of volume per minute of a period, e.g. the 60 minutes of an hour or the 1,440
of a day, built from recorded trades with :func:`profile_from_trades`.

:class:`VWAPExecutor` plans one slice per ``bucket_ns`` (a minute) over ``duration_ns``
(60 minutes, the audit's numbers). Slice ``i`` covers the profile's bucket
``(start // bucket + i) mod len(profile)``, is due at ``start + i * bucket`` (moved by
up to ``jitter`` of a bucket, 0 by default: the audit's VWAP keeps the minute), and its
weight is that bucket's volume; the sizes add up to the parent exactly
(:func:`hean.execution.twap.split_lots`). Cancels on TTL, re-slicing of remainders and
the caller's protocol are those of :class:`hean.execution.twap.SliceExecutor`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from hean.execution.twap import (
    ParentOrder,
    SliceExecutor,
    jittered_times,
    make_rng,
    validate_slicing,
)

_MINUTE_NS = 60_000_000_000


def profile_from_trades(
    ts_ns: Sequence[int] | np.ndarray,
    qty: Sequence[float] | np.ndarray,
    buckets: int = 60,
    bucket_ns: int = _MINUTE_NS,
) -> np.ndarray:
    """Volume per bucket of the period (``buckets * bucket_ns``) from recorded trades.

    Trade ``k`` adds ``qty[k]`` to bucket ``(ts_ns[k] // bucket_ns) mod buckets``: with
    the defaults, volume by minute of the hour, summed over every hour recorded.

    Raises
    ------
    ValueError
        For arrays of different lengths, a negative size, or fewer than one bucket.
    """
    ts = np.asarray(ts_ns, dtype=np.int64)
    q = np.asarray(qty, dtype=np.float64)
    if ts.shape != q.shape or ts.ndim != 1:
        raise ValueError("one size per trade time, in flat arrays")
    if buckets < 1 or bucket_ns < 1:
        raise ValueError("at least one bucket of at least 1 ns")
    if np.any(q < 0):
        raise ValueError("trade sizes must be non-negative")
    return np.bincount((ts // bucket_ns) % buckets, weights=q, minlength=buckets)


@dataclass(frozen=True, slots=True)
class VWAPConfig:
    """Settings of :class:`VWAPExecutor`.

    Parameters
    ----------
    duration_ns : int
        Time over which the slices are spread (60 minutes).
    bucket_ns : int
        One slice per bucket, and the profile's resolution (a minute).
    jitter : float
        Slice times move by up to this fraction of a bucket (0: on the minute).
    min_notional : float
        Orders of at least this value in quote currency are sliced (10,000).
    child_ttl_ns : int, optional
        A child's time to live; by default ``(1 - 2 * jitter) * bucket_ns``.

    Raises
    ------
    ValueError
        For a duration shorter than a bucket, a jitter outside [0, 0.5), a negative
        threshold or a TTL that is not positive.
    """

    duration_ns: int = 60 * _MINUTE_NS
    bucket_ns: int = _MINUTE_NS
    jitter: float = 0.0
    min_notional: float = 10_000.0
    child_ttl_ns: int | None = None

    def __post_init__(self) -> None:
        if self.bucket_ns < 1 or self.duration_ns < self.bucket_ns:
            raise ValueError("VWAP: bucket_ns >= 1 and duration_ns of at least one bucket")
        validate_slicing(self.jitter, self.min_notional, self.child_ttl_ns, "VWAP")

    @property
    def slices(self) -> int:
        """One slice per bucket started within the duration."""
        return math.ceil(self.duration_ns / self.bucket_ns)

    @property
    def ttl_ns(self) -> int:
        if self.child_ttl_ns is not None:
            return self.child_ttl_ns
        return max(1, int((1.0 - 2.0 * self.jitter) * self.bucket_ns))


class VWAPExecutor(SliceExecutor):
    """Slices sized by a volume profile, one per bucket.

    Parameters
    ----------
    parent : ParentOrder
    start_ns : int
        When the first slice is due; also fixes which bucket of the profile it is.
    profile : array of float
        Volume per bucket of the period (see :func:`profile_from_trades`).
    link_id_factory : callable
        Returns a fresh ``orderLinkId`` for each child.
    config : VWAPConfig, optional
    rng : numpy.random.Generator or int, optional
        Source of the jitter (unused at jitter 0).

    Raises
    ------
    ValueError
        For an empty profile, a negative or non-finite volume, or a profile with no
        volume at all in the buckets the order spans (there is nothing to weight by:
        use TWAP).
    """

    def __init__(
        self,
        parent: ParentOrder,
        start_ns: int,
        profile: Sequence[float] | np.ndarray,
        link_id_factory: Callable[[], str],
        config: VWAPConfig | None = None,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        self.config = c = config or VWAPConfig()
        vol = np.asarray(profile, dtype=np.float64)
        if vol.ndim != 1 or not len(vol):
            raise ValueError("the volume profile is a non-empty flat array")
        if not np.all(np.isfinite(vol)) or np.any(vol < 0):
            raise ValueError("profile volumes must be finite and non-negative")
        first = start_ns // c.bucket_ns
        weights = [float(vol[(first + i) % len(vol)]) for i in range(c.slices)]
        if not sum(weights) > 0:
            raise ValueError("the profile has no volume in the buckets this order spans")
        times = jittered_times(start_ns, c.bucket_ns, c.slices, c.jitter, make_rng(rng))
        self.weights = weights
        super().__init__(parent, times, weights, c.ttl_ns, link_id_factory)
