"""Slippage estimates, precomputed off the order path and read in O(log n).

Placing an order must never wait on a slippage computation, so the work is split:

- :meth:`SlippageCache.refresh` (called by :class:`SlippageRefresher` on a thread, or
  directly by a backtest) turns a book into a *ladder* per side: the cumulative size
  and cost at the end of each level, walked from the touch outwards. Between two rungs
  the cost grows linearly with size (every extra lot pays that level's price), so
  interpolating the ladder gives exactly the book walk's cost for any size.
- :meth:`SlippageCache.estimate` only reads the latest ladder: one dictionary lookup and
  one binary search, no lock. Ladders are immutable and replaced whole, so a reader sees
  either the old book or the new one, never a mix.

The estimate for ``qty`` lots taking liquidity on ``side``:

- ``book_bps = sign * (avg - touch) / touch * 10^4`` (``vs_mid_bps`` the same against
  the mid), ``avg`` the size-weighted price of the walk, ``sign`` +1 for a buy;
- blended ``0.7 * book_bps + 0.3 * history_bps`` when fills of that symbol and side
  have been recorded (the implementation plan's 70/30);
- ``thin_book_bps`` (50 bps) when the visible side cannot fill the size, or is empty
  (or what taking the whole visible side costs, if that is more: ours, so that the
  estimate never falls as the size grows);
- ``fallback_bps`` (also 50 bps: the audit's 0.005) for a symbol never refreshed or,
  given ``now_ns``, a book older than ``max_age_ns`` (100 ms).

``history_bps`` is the plain mean of the last ``history_len`` (100) realized slippages
recorded by :meth:`SlippageCache.record` for that symbol and side: a window rather than
an EWMA so that one bad fill leaves the estimate after exactly 100 fills.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from hean.domain import Side

logger = logging.getLogger(__name__)

_BPS = 10_000.0

#: One book level: price in ticks, size in lots.
Level = tuple[int, int]


@dataclass(frozen=True, slots=True)
class SlippageConfig:
    """Settings of :class:`SlippageCache` (the defaults are in the module's docstring).

    ``book_weight`` is the book walk's share of a blend; ``thin_book_bps`` the estimate
    when the visible book cannot fill the size; ``fallback_bps`` the estimate without a
    usable book; ``history_len`` the realized slippages kept per symbol and side;
    ``max_age_ns`` the age past which a book is stale; ``refresh_interval_s`` how often
    :class:`SlippageRefresher` polls its source (0.05 s: the audit's 50 ms).

    Raises
    ------
    ValueError
        For a weight outside [0, 1], a negative or non-finite bps value, or a length,
        age or interval that is not positive.
    """

    book_weight: float = 0.7
    thin_book_bps: float = 50.0
    fallback_bps: float = 50.0
    history_len: int = 100
    max_age_ns: int = 100_000_000
    refresh_interval_s: float = 0.05

    def __post_init__(self) -> None:
        if not 0.0 <= self.book_weight <= 1.0:
            raise ValueError(f"slippage: book_weight must be within [0, 1], got {self.book_weight}")
        for name in ("thin_book_bps", "fallback_bps"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f"slippage: {name} must be >= 0, got {value}")
        if self.history_len < 1:
            raise ValueError(f"slippage: history_len must be >= 1, got {self.history_len}")
        if self.max_age_ns <= 0:
            raise ValueError(f"slippage: max_age_ns must be positive, got {self.max_age_ns}")
        if not (math.isfinite(self.refresh_interval_s) and self.refresh_interval_s > 0):
            raise ValueError(
                f"slippage: refresh_interval_s must be positive, got {self.refresh_interval_s}"
            )


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """One instrument's visible book: levels best first, each ``(price_ticks, qty_lots)``.

    ``ts_ns`` is the book's time, against which ``estimate(now_ns=...)`` judges staleness.
    """

    bids: Sequence[Level]
    asks: Sequence[Level]
    ts_ns: int = 0


class SlippageEstimate(NamedTuple):
    """An estimate for one order size.

    ``bps`` is the one to use (adverse slippage against the touch, blended with history
    when there is some). ``source`` says where it came from: ``"book"``, ``"blend"``,
    ``"thin"`` (the book cannot fill the size), ``"stale"`` or ``"no book"``. The parts
    are None where they do not exist.
    """

    bps: float
    source: str
    book_bps: float | None = None
    vs_mid_bps: float | None = None
    history_bps: float | None = None
    avg_price_ticks: float | None = None


class _Ladder(NamedTuple):
    touch: int
    prices: tuple[int, ...]
    cum_qty: tuple[int, ...]  # lots up to and including each level
    cum_cost: tuple[int, ...]  # tick-lots up to and including each level


class _Entry(NamedTuple):
    ts_ns: int
    mid: float | None
    bids: _Ladder  # what a sell takes
    asks: _Ladder  # what a buy takes


def _ladder(levels: Sequence[Level], side: Side) -> _Ladder:
    """Cumulative size and cost of ``levels`` (the side ``side`` takes), touch first.

    Raises
    ------
    ValueError
        For a non-positive price, a negative size, or prices that do not move away
        from the touch (asks rising, bids falling): such a book is corrupt.
    """
    prices: list[int] = []
    cum_qty: list[int] = []
    cum_cost: list[int] = []
    qty_sum = cost_sum = 0
    last = None
    for price, qty in levels:
        if price <= 0 or qty < 0:
            raise ValueError(f"book level ({price}, {qty}): price must be > 0, size >= 0")
        if last is not None and (price - last) * side.sign <= 0:
            raise ValueError(f"book levels must move away from the touch: {last} then {price}")
        last = price
        if qty == 0:  # a level being removed: nothing to take there
            continue
        qty_sum += qty
        cost_sum += qty * price
        prices.append(price)
        cum_qty.append(qty_sum)
        cum_cost.append(cost_sum)
    touch = prices[0] if prices else 0
    return _Ladder(touch, tuple(prices), tuple(cum_qty), tuple(cum_cost))


class SlippageCache:
    """Per-symbol slippage ladders and realized history; thread-safe.

    Writers (:meth:`refresh`, :meth:`record`) serialize on a lock held only to swap a
    reference or append a sample; :meth:`estimate` takes no lock at all, so it cannot
    wait on a refresh in progress.

    Parameters
    ----------
    config : SlippageConfig, optional
    """

    def __init__(self, config: SlippageConfig | None = None) -> None:
        self.config = config or SlippageConfig()
        self._lock = threading.Lock()
        self._books: dict[str, _Entry] = {}
        self._samples: dict[tuple[str, Side], deque[float]] = {}
        self._means: dict[tuple[str, Side], float] = {}

    def refresh(self, symbol: str, book: BookSnapshot) -> None:
        """Rebuild ``symbol``'s ladders from ``book`` (synchronous: backtests call this).

        The ladders are built before the lock is taken; only the swap happens under it.

        Raises
        ------
        ValueError
            For a corrupt book; the previous ladders stay in place.
        """
        bids = _ladder(book.bids, Side.SELL)
        asks = _ladder(book.asks, Side.BUY)
        mid = 0.5 * (bids.touch + asks.touch) if bids.touch and asks.touch else None
        entry = _Entry(book.ts_ns, mid, bids, asks)
        with self._lock:
            self._books[symbol] = entry

    def forget(self, symbol: str) -> None:
        """Drop ``symbol``'s book (its estimates fall back until the next refresh)."""
        with self._lock:
            self._books.pop(symbol, None)

    def symbols(self) -> list[str]:
        """Symbols with a book, in no particular order."""
        with self._lock:  # iterating while a writer inserts would raise
            return list(self._books)

    def estimate(
        self, symbol: str, side: Side, qty_lots: int, now_ns: int | None = None
    ) -> SlippageEstimate:
        """The expected slippage of ``qty_lots`` taking liquidity on ``side``.

        Parameters
        ----------
        symbol : str
        side : Side
            The order's side: a buy walks the asks.
        qty_lots : int
        now_ns : int, optional
            When given, a book older than ``max_age_ns`` is stale.

        Returns
        -------
        SlippageEstimate

        Raises
        ------
        ValueError
            For a size under one lot.
        """
        if qty_lots < 1:
            raise ValueError(f"order size must be at least one lot, got {qty_lots}")
        c = self.config
        entry = self._books.get(symbol)  # one atomic read: the whole book or none
        if entry is None:
            return SlippageEstimate(c.fallback_bps, "no book")
        if now_ns is not None and now_ns - entry.ts_ns > c.max_age_ns:
            return SlippageEstimate(c.fallback_bps, "stale")
        ladder = entry.asks if side is Side.BUY else entry.bids
        cum_qty = ladder.cum_qty
        if not cum_qty:
            return SlippageEstimate(c.thin_book_bps, "thin")
        if qty_lots > cum_qty[-1]:
            # Never less than taking the whole visible side already costs, so that the
            # estimate does not fall as the size grows past the book.
            whole = side.sign * (ladder.cum_cost[-1] / cum_qty[-1] - ladder.touch)
            return SlippageEstimate(max(c.thin_book_bps, whole / ladder.touch * _BPS), "thin")
        k = bisect_left(cum_qty, qty_lots)
        before_qty = cum_qty[k - 1] if k else 0
        before_cost = ladder.cum_cost[k - 1] if k else 0
        avg = (before_cost + (qty_lots - before_qty) * ladder.prices[k]) / qty_lots
        sign = side.sign
        book_bps = sign * (avg - ladder.touch) / ladder.touch * _BPS
        mid = entry.mid
        vs_mid = sign * (avg - mid) / mid * _BPS if mid else None
        hist = self._means.get((symbol, side))
        if hist is None:
            return SlippageEstimate(book_bps, "book", book_bps, vs_mid, None, avg)
        blended = c.book_weight * book_bps + (1.0 - c.book_weight) * hist
        return SlippageEstimate(blended, "blend", book_bps, vs_mid, hist, avg)

    def record(self, symbol: str, side: Side, expected: float, realized: float) -> float:
        """Record a fill's realized slippage; return it in bps.

        Parameters
        ----------
        symbol : str
        side : Side
            The fill's side.
        expected : float
            The price the estimate referred to (the touch when the order was decided),
            in ticks, so that history and book walk measure the same thing.
        realized : float
            The fill's (average) price in ticks.

        Returns
        -------
        float
            ``sign * (realized - expected) / expected * 10^4``: positive when the fill
            was worse than expected, negative for a price improvement (kept, so that
            the mean is not biased upwards).

        Raises
        ------
        ValueError
            For a price that is not positive and finite.
        """
        if not (math.isfinite(expected) and expected > 0 and math.isfinite(realized)):
            raise ValueError(f"prices must be positive and finite, got {expected}, {realized}")
        if realized <= 0:
            raise ValueError(f"realized price must be positive, got {realized}")
        bps = side.sign * (realized - expected) / expected * _BPS
        key = (symbol, side)
        with self._lock:
            samples = self._samples.get(key)
            if samples is None:
                samples = self._samples[key] = deque(maxlen=self.config.history_len)
            samples.append(bps)
            # A fresh sum over at most history_len samples: no drift of a running sum.
            self._means[key] = math.fsum(samples) / len(samples)
        return bps

    def history(self, symbol: str, side: Side) -> float | None:
        """Mean realized slippage (bps) of the recorded window, or None without fills."""
        return self._means.get((symbol, side))


class SlippageRefresher:
    """Keeps a :class:`SlippageCache` fresh on a background thread.

    Books reach it two ways: pushed on every book update with :meth:`submit` (only the
    latest book per symbol is kept: a refresh of a superseded book is wasted work), and
    pulled every ``interval_s`` from ``source`` when one is given. Errors (a corrupt
    book, a failing source) are counted and logged, and the thread carries on: a stale
    estimate falls back by itself.

    Parameters
    ----------
    cache : SlippageCache
    source : callable, optional
        Returns the current books, ``{symbol: BookSnapshot}``.
    interval_s : float, optional
        Polling period of ``source``; the cache config's ``refresh_interval_s`` by default.
    """

    def __init__(
        self,
        cache: SlippageCache,
        source: Callable[[], Mapping[str, BookSnapshot]] | None = None,
        interval_s: float | None = None,
    ) -> None:
        self.cache = cache
        self.source = source
        self.interval_s = cache.config.refresh_interval_s if interval_s is None else interval_s
        if not self.interval_s > 0:
            raise ValueError(f"refresh interval must be positive, got {self.interval_s}")
        self.errors = 0
        self.last_error: BaseException | None = None
        self.refreshes = 0
        self._pending: dict[str, BookSnapshot] = {}
        self._pending_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread.

        Raises
        ------
        RuntimeError
            If it is running already.
        """
        if self.running:
            raise RuntimeError("the slippage refresher is running already")
        self._stop.clear()
        # A daemon: a refresher left running must not keep the process alive.
        self._thread = threading.Thread(target=self._run, name="slippage-refresher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the thread and wait for it (at most ``timeout`` seconds)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def submit(self, symbol: str, book: BookSnapshot) -> None:
        """Hand a new book to the thread (returns at once; the latest book wins)."""
        with self._pending_lock:
            self._pending[symbol] = book
        self._wake.set()

    def __enter__(self) -> SlippageRefresher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        next_poll = time.monotonic()
        while not self._stop.is_set():
            # Cleared before the pending books are taken: a submit after this point
            # sets the event again and the wait below returns at once.
            self._wake.clear()
            if self.source is not None and time.monotonic() >= next_poll:
                next_poll = time.monotonic() + self.interval_s
                try:
                    books = dict(self.source())
                except Exception as exc:
                    self._failed(exc, "book source")
                    books = {}
                for symbol, book in books.items():
                    self._refresh(symbol, book)
            self._drain()
            wait = max(0.0, next_poll - time.monotonic()) if self.source else self.interval_s
            self._wake.wait(wait)
        self._drain()  # books pushed just before stop are still applied

    def _drain(self) -> None:
        with self._pending_lock:
            pending, self._pending = self._pending, {}
        for symbol, book in pending.items():
            self._refresh(symbol, book)

    def _refresh(self, symbol: str, book: BookSnapshot) -> None:
        try:
            self.cache.refresh(symbol, book)
            self.refreshes += 1
        except Exception as exc:
            self._failed(exc, f"book of {symbol}")

    def _failed(self, exc: BaseException, what: str) -> None:
        self.errors += 1
        self.last_error = exc
        # Log the 1st, 2nd, 4th, 8th ... error: a source broken for an hour must not
        # write 72,000 lines, and the count says how often it happened.
        if self.errors & (self.errors - 1) == 0:
            logger.warning("slippage refresh of %s failed (%d so far): %s", what, self.errors, exc)
