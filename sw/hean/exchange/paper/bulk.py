"""Vectorized pieces of the paper exchange's bulk feed path.

While no order of ours rests and no request is due, an HL2 message only moves the
clock, the counters and the books (plus the CLEAR/END rebuild state and the lots our
taking hid, see :mod:`~hean.exchange.paper.matching`). Those effects are all "last
write wins" or counts, so a run of messages can be applied at once with numpy instead
of one Python call per message, with exactly the per-message path's result:

* :func:`valid_mask` is :func:`~hean.exchange.paper.checks.valid_message` on an array;
* :func:`first_due` finds the message before which a request in flight must run;
* :func:`rebuild_marks` says which CLEARs leave a rebuild open at the end of a run;
* :func:`level_updates` folds a run of one instrument's SET/CLEAR into final levels;
* :func:`apply_idle` hands each instrument's messages of a run to its matcher.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from hean.exchange.paper.book import MAX_PRICE
from hean.wire import Flag, MsgType
from hean.wire import Side as BookSide

if TYPE_CHECKING:  # matching imports this module
    from hean.exchange.paper.matching import Matcher


# plain ints: enum attribute access costs more than a numpy comparison of a short run
_SET, _TRADE, _CLEAR = int(MsgType.SET), int(MsgType.TRADE), int(MsgType.CLEAR)
_HEARTBEAT, _END = int(MsgType.HEARTBEAT), int(Flag.END)
_BID, _ASK, _BOTH = int(BookSide.BID), int(BookSide.ASK), int(BookSide.BOTH)

#: Messages applied one by one, while orders rest, between looks at whether they still do.
SLOW_RUN = 64

#: Shortest run the bulk path takes: below it, its fixed cost (a few numpy passes per
#: instrument) is more than applying the messages one by one.
BULK_MIN = 128

#: First window :func:`first_due` scans; it doubles, so a due request found near the
#: start of a long batch costs a short scan, not one over the whole batch.
_WINDOW = 1024


def valid_mask(msgs: np.ndarray) -> np.ndarray:
    """Which messages of a ``MSG_DTYPE`` array pass the HL2 validity rules of their fields.

    The same rules as :func:`~hean.exchange.paper.checks.valid_message`, element-wise.
    """
    # contiguous copies first: comparisons on strided structured fields are much slower
    mtype, side, price, qty = (
        np.ascontiguousarray(msgs[f]) for f in ("type", "side", "price", "qty")
    )
    book_msg = (mtype == _SET) | (mtype == _TRADE)
    priced = (side <= 1) & (price > 0) & (price <= MAX_PRICE)
    ok_book = book_msg & priced & ((mtype == _SET) | (qty > 0))
    ok_clear = (mtype == _CLEAR) & (side <= 2)
    return ok_book | ok_clear | (mtype == _HEARTBEAT)


def first_due(valid: np.ndarray, exch: np.ndarray, start: int, t_ns: int) -> int:
    """Index of the first valid message at or after ``start`` stamped after ``t_ns``.

    That message runs a request arriving at ``t_ns`` before itself (arrival strictly
    before the message's time; a message without a time, or a bad one, runs nothing).

    Returns
    -------
    int
        The index, or ``len(valid)`` when no such message comes.
    """
    n = valid.size
    if t_ns >= 2**64 - 1:  # no u64 exchange time is later (and numpy could not hold it)
        return n
    lo, window = start, _WINDOW
    t = np.uint64(t_ns)
    while lo < n:
        hi = min(n, lo + window)
        hits = np.flatnonzero(valid[lo:hi] & (exch[lo:hi] > t))
        if hits.size:
            return lo + int(hits[0])
        lo, window = hi, window * 2
    return n


def _touches(sides: np.ndarray, side: int) -> np.ndarray:
    return (sides == side) | (sides == _BOTH)


def rebuild_marks(
    types: np.ndarray, sides: np.ndarray, flags: np.ndarray
) -> tuple[bool, tuple[int, int]]:
    """Where a run of one instrument's valid messages leaves the CLEAR rebuild state.

    A rebuild ends at a TRADE (before it) or at a message flagged END (after it); a
    CLEAR saves a side's levels on the first CLEAR of that side since the last end.

    Returns
    -------
    finished : bool
        Whether some message of the run ended the rebuild open before it.
    opened : tuple of (int, int)
        Per book side (BID, ASK), the index of the first CLEAR of that side after the
        last end (or in the whole run when none ended), -1 when there is none.
    """
    ends = np.flatnonzero((types == _TRADE) | ((flags & _END) != 0))
    last_end = int(ends[-1]) if ends.size else -1
    clears = types == _CLEAR
    clears[: last_end + 1] = False  # a CLEAR flagged END saves and ends at once
    opened = []
    for s in (_BID, _ASK):
        idx = np.flatnonzero(clears & _touches(sides, s))
        opened.append(int(idx[0]) if idx.size else -1)
    return bool(ends.size), (opened[0], opened[1])


def level_updates(
    types: np.ndarray, sides: np.ndarray, prices: np.ndarray, qtys: np.ndarray, side: int
) -> tuple[bool, list[int], list[int]]:
    """Fold one instrument's run of valid messages into final levels of ``side``.

    Returns
    -------
    cleared : bool
        Whether a CLEAR of the side came in the run: the side starts empty.
    prices, qtys : list of int
        The last size SET at each price after the last such CLEAR (0 deletes), as
        Python ints, in ascending price.
    """
    mine = _touches(sides, side)
    clear_idx = np.flatnonzero((types == _CLEAR) & mine)
    sets = (types == _SET) & (sides == side)
    if clear_idx.size:
        sets[: int(clear_idx[-1]) + 1] = False  # a CLEAR undoes every SET before it
    idx = np.flatnonzero(sets)
    if not idx.size:
        return bool(clear_idx.size), [], []
    # last write wins: the first occurrence in the reversed run is the last one
    rev = idx[::-1]
    uniq, first = np.unique(prices[rev], return_index=True)
    return bool(clear_idx.size), uniq.tolist(), qtys[rev[first]].tolist()


def apply_idle(
    run: np.ndarray, valid: np.ndarray, matchers: Mapping[int, Matcher]
) -> tuple[int, int, int]:
    """Apply a run of messages at once, while no matcher has an order resting.

    Each instrument's valid messages go to its matcher's
    :meth:`~hean.exchange.paper.matching.Matcher.apply_run`; no request may be due
    inside the run (see :func:`first_due`).

    Returns
    -------
    bad : int
        Messages that fail the validity rules (ignored, their time too).
    latest : int
        The latest exchange time of a valid message, ns (0 if none has one).
    foreign : int
        Valid messages of instruments not traded, which change nothing but the clock.
    """
    # a clean run (the usual) needs no copy; fields as contiguous arrays, since numpy
    # selects from those several times faster than from strided structured fields
    good = run if valid.all() else run[valid]
    if not good.size:
        return run.size, 0, 0
    inst, types, sides, flags, prices, qtys = (
        np.ascontiguousarray(good[f])
        for f in ("instrument", "type", "side", "flags", "price", "qty")
    )
    counts = np.bincount(inst, minlength=256)
    mine = 0
    for i in np.flatnonzero(counts).tolist():
        matcher = matchers.get(i)
        if matcher is None:
            continue
        mine += int(counts[i])
        if counts[i] == good.size:  # one instrument only: no selection to make
            matcher.apply_run(types, sides, flags, prices, qtys)
            continue
        sel = np.flatnonzero(inst == i)
        matcher.apply_run(types[sel], sides[sel], flags[sel], prices[sel], qtys[sel])
    return run.size - good.size, int(good["exch_ts_ns"].max()), good.size - mine
