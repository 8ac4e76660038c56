"""Latencies of the paper exchange: the feed's, measured, and the order path's, modelled.

* **Feed latency** is how late the gateway saw each exchange update:
  ``recv_ts_ns - exch_ts_ns`` of every message that has an exchange time.
  :class:`FeedLatency` collects it and summarizes it.
* **Entry latency** (strategy -> matching engine) delays every place, amend and
  cancel; **response latency** (matching engine -> strategy) delays every report.
  Each is a :class:`Constant` or an :class:`Empirical` distribution drawn from recorded
  samples, combined in a :class:`LatencyModel`.

Draws take a ``numpy.random.Generator`` from the caller, so a paper exchange made with
the same seed draws the same latencies in the same order.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np


class Distribution(ABC):
    """A latency distribution, in nanoseconds."""

    @abstractmethod
    def draw(self, rng: np.random.Generator) -> int:
        """One latency, ns (>= 0)."""


@dataclass(frozen=True, slots=True)
class Constant(Distribution):
    """The same latency every time.

    Raises
    ------
    ValueError
        For a negative or non-integer latency.
    """

    ns: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.ns, bool) or not isinstance(self.ns, (int, np.integer)):
            raise ValueError(f"latency must be an integer number of ns, got {self.ns!r}")
        if self.ns < 0:
            raise ValueError(f"latency must be >= 0 ns, got {self.ns}")

    def draw(self, rng: np.random.Generator) -> int:
        # no draw: a constant model must not move the generator, so adding one
        # constant leg leaves the other leg's draws as they were
        return int(self.ns)


class Empirical(Distribution):
    """Latencies drawn uniformly, with replacement, from recorded samples.

    Parameters
    ----------
    samples : array-like of int
        Recorded latencies in ns (at least one, all >= 0), e.g. the round trips of a
        live session or :meth:`FeedLatency.samples`.

    Raises
    ------
    ValueError
        For no samples, non-integer or negative samples.
    """

    __slots__ = ("samples",)

    def __init__(self, samples: np.ndarray | list[int]) -> None:
        arr = np.asarray(samples)
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(f"need a 1-d array of at least one sample, got shape {arr.shape}")
        if arr.dtype.kind not in "iu":
            raise ValueError(f"latency samples must be integers (ns), got dtype {arr.dtype}")
        if arr.dtype.kind == "i" and int(arr.min()) < 0:
            raise ValueError(f"latency samples must be >= 0 ns, got minimum {int(arr.min())}")
        self.samples = arr.astype(np.int64)
        self.samples.setflags(write=False)

    def draw(self, rng: np.random.Generator) -> int:
        return int(self.samples[rng.integers(self.samples.size)])

    def __repr__(self) -> str:
        s = self.samples
        return f"Empirical({s.size} samples, {int(s.min())}..{int(s.max())} ns)"


def _distribution(value: Distribution | int, what: str) -> Distribution:
    if isinstance(value, Distribution):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return Constant(int(value))
    raise ValueError(f"{what} latency must be ns (int) or a Distribution, got {value!r}")


class LatencyModel:
    """Entry and response latency of the order path.

    Parameters
    ----------
    entry : Distribution or int
        Strategy -> matching engine, for place, amend and cancel (an int is constant ns).
    response : Distribution or int
        Matching engine -> strategy, for every execution report.

    Raises
    ------
    ValueError
        For a value that is neither ns nor a :class:`Distribution`.

    Examples
    --------
    >>> model = LatencyModel(entry=Empirical([800_000, 1_200_000]), response=500_000)
    >>> model.response_ns(np.random.default_rng(0))
    500000
    """

    __slots__ = ("entry", "response")

    def __init__(self, entry: Distribution | int = 0, response: Distribution | int = 0) -> None:
        self.entry = _distribution(entry, "entry")
        self.response = _distribution(response, "response")

    def entry_ns(self, rng: np.random.Generator) -> int:
        """One entry latency, ns."""
        return self.entry.draw(rng)

    def response_ns(self, rng: np.random.Generator) -> int:
        """One response latency, ns."""
        return self.response.draw(rng)

    def __repr__(self) -> str:
        return f"LatencyModel(entry={self.entry!r}, response={self.response!r})"


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """Feed latency statistics, ns (all 0 when no message had an exchange time)."""

    count: int
    min_ns: int
    mean_ns: float
    p50_ns: int
    p99_ns: int
    max_ns: int


class FeedLatency:
    """Collects ``recv_ts_ns - exch_ts_ns`` of the messages seen.

    Messages without an exchange time (``exch_ts_ns`` 0) are skipped. A receive time
    before the exchange time (clocks out of sync) is kept as a negative latency, since
    hiding it would hide the clock problem.
    """

    __slots__ = ("_chunks", "_pending")

    def __init__(self) -> None:
        self._chunks: list[np.ndarray] = []
        self._pending: list[int] = []

    def observe(self, exch_ts_ns: int, recv_ts_ns: int) -> None:
        """Record one message's times."""
        if exch_ts_ns:
            self._pending.append(recv_ts_ns - exch_ts_ns)

    def observe_messages(self, msgs: np.ndarray) -> None:
        """Record every message of an HL2 array at once."""
        exch = msgs["exch_ts_ns"].astype(np.int64)
        recv = msgs["recv_ts_ns"].astype(np.int64)
        known = exch != 0
        self._flush()
        if known.any():
            self._chunks.append(recv[known] - exch[known])

    def _flush(self) -> None:
        if self._pending:
            self._chunks.append(np.array(self._pending, dtype=np.int64))
            self._pending = []

    def samples(self) -> np.ndarray:
        """Every latency recorded so far, ns, in the order seen."""
        self._flush()
        if not self._chunks:
            return np.zeros(0, dtype=np.int64)
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        return self._chunks[0].copy()

    def summary(self) -> LatencySummary:
        """Count, min, mean, median, 99th percentile and max of the latencies."""
        s = self.samples()
        if s.size == 0:
            return LatencySummary(0, 0, 0.0, 0, 0, 0)
        p50, p99 = np.percentile(s, [50, 99], method="nearest")
        return LatencySummary(
            count=int(s.size),
            min_ns=int(s.min()),
            mean_ns=float(s.mean()),
            p50_ns=int(p50),
            p99_ns=int(p99),
            max_ns=int(s.max()),
        )
