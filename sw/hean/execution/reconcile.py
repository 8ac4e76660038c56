"""After a restart: the journal against the exchange, what differs, and what may be fixed.

The journal holds what HEAN did and saw before it stopped; the exchange holds what
happened. :func:`reconcile` brings in only what the exchange proves, and reports
everything else for the operator:

1. Fills the exchange lists (since the journal's last fill, or its oldest open order,
   whichever is earlier, less a margin) that the journal lacks happened: they are
   journaled, each reported as a missing fill recorded. Their orders' sizes and
   statuses follow from them, as for any fill. A fill for an order the journal does
   not know, or one the journal refuses (it would overfill its order, say), is reported
   and not journaled.
2. Orders open on the exchange that the journal does not know are reported, never
   adopted: HEAN did not journal them, so it does not manage them. A journaled NEW order
   the exchange lists open was accepted while its acknowledgement was lost: it becomes
   ACCEPTED (reported). One the journal has as terminal, or with another filled size,
   is reported.
3. Orders open in the journal that the exchange no longer lists are reported. Those the
   fills of step 1 completed are FILLED now; the rest (cancelled or expired while HEAN
   was down, or NEW orders that may never have been sent) are left as they are for the
   operator, since the exchange's list of open orders does not say how they ended.
4. Positions that still differ are reported and never overwritten: a difference means
   fills are missing from one side, and guessing which would hide it.

Run it before trading resumes. A resting order may fill between the calls made here;
running it again settles that (it is idempotent: a second run applies nothing new).
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass

from hean.domain import OrderStatus
from hean.exchange.base import Exchange
from hean.execution.journal import Journal, JournalError

#: How far before the journal's last fill the exchange's executions are read again:
#: fills can arrive out of order, and clocks differ between the exchange and this host.
DEFAULT_MARGIN_NS = 5 * 60 * 1_000_000_000


class DiffKind(enum.Enum):
    """What a :class:`Difference` is about."""

    MISSING_FILL = "missing fill"  # the exchange's fill, journaled now
    UNJOURNALED_FILL = "unjournaled fill"  # the exchange's fill the journal cannot take
    UNKNOWN_ORDER = "unknown order"  # open on the exchange, not journaled; not adopted
    ACKNOWLEDGED = "acknowledged"  # NEW in the journal, open on the exchange: ACCEPTED now
    STATUS_CONFLICT = "status conflict"  # open on the exchange, terminal in the journal
    FILLED_SIZE = "filled size"  # open on both, with other filled sizes
    VANISHED_FILLED = "vanished, filled"  # gone from the exchange, filled by step 1's fills
    VANISHED = "vanished"  # gone from the exchange, outcome unknown: left for the operator
    POSITION = "position"  # journal and exchange positions differ


@dataclass(frozen=True, slots=True)
class Difference:
    """One way the journal and the exchange disagreed, and whether it was fixed.

    ``journal`` and ``exchange`` hold the two sides' values where the difference has
    them (a status, a filled size in lots, a position in lots). ``applied`` is True when
    :func:`reconcile` changed the journal for it.
    """

    kind: DiffKind
    text: str
    link_id: str = ""
    exec_id: str = ""
    instrument: int | None = None
    journal: object = None
    exchange: object = None
    applied: bool = False

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """What :func:`reconcile` found (``differences``) and read (executions since ``since_ns``)."""

    since_ns: int
    differences: tuple[Difference, ...]

    @property
    def ok(self) -> bool:
        """True when the journal and the exchange agreed on everything."""
        return not self.differences

    @property
    def applied(self) -> tuple[Difference, ...]:
        """The differences that changed the journal."""
        return tuple(d for d in self.differences if d.applied)

    @property
    def unresolved(self) -> tuple[Difference, ...]:
        """The differences left for the operator."""
        return tuple(d for d in self.differences if not d.applied)

    def lines(self) -> list[str]:
        """One readable line per difference, applied ones marked."""
        return [f"{'applied: ' if d.applied else ''}{d.text}" for d in self.differences]


def reconcile(
    journal: Journal,
    exchange: Exchange,
    margin_ns: int = DEFAULT_MARGIN_NS,
    since_ns: int | None = None,
    now_ns: int | None = None,
) -> Reconciliation:
    """Compare ``journal`` with ``exchange``; journal what the exchange proves, report all.

    Parameters
    ----------
    journal : Journal
    exchange : Exchange
        Only ``open_orders``, ``executions`` and ``positions`` are called.
    margin_ns : int
        How far before the journal's last fill (or oldest open order) to read
        executions from.
    since_ns : int, optional
        Read executions from here instead.
    now_ns : int, optional
        The time stamped on status changes made here [default: now].

    Returns
    -------
    Reconciliation

    Raises
    ------
    hean.exchange.base.ExchangeError
        From the exchange's calls; nothing is changed after the failing call.
    """
    now = time.time_ns() if now_ns is None else now_ns
    diffs: list[Difference] = []
    open_before = journal.open_orders()
    if since_ns is None:
        last = journal.last_fill_ts()
        starts = [o.created_ns for o in open_before] + ([] if last is None else [last])
        since_ns = max(0, min(starts) - margin_ns) if starts else 0

    # Read the exchange's open orders first: an order that fills after this call shows
    # up in the executions read next, so the journal ends FILLED (the reported conflict
    # then settles on a second run) rather than missing a fill.
    listed = {o.request.link_id: o for o in exchange.open_orders()}

    for f in exchange.executions(since_ns):
        if f.exec_id and journal.has_fill(f.exec_id):
            continue
        what = (
            f"{f.side.value} {f.qty_lots} lots at {f.price_ticks} ticks on instrument "
            f"{f.instrument} for {f.link_id or '(no link id)'}, exec id {f.exec_id or '-'}"
        )
        common = {"link_id": f.link_id, "exec_id": f.exec_id, "instrument": f.instrument}
        if not f.link_id or journal.order(f.link_id) is None:
            text = f"exchange fill for an order not journaled, not recorded: {what}"
            diffs.append(Difference(DiffKind.UNJOURNALED_FILL, text, **common))
            continue
        try:
            journal.fill(f)
        except JournalError as exc:
            text = f"exchange fill the journal refuses, not recorded: {what} ({exc})"
            diffs.append(Difference(DiffKind.UNJOURNALED_FILL, text, **common))
            continue
        text = f"recorded missing fill {what}"
        diffs.append(Difference(DiffKind.MISSING_FILL, text, applied=True, **common))

    for link_id, ex in listed.items():
        o = journal.order(link_id)
        ids = {"link_id": link_id, "instrument": ex.request.instrument}
        if o is None:
            text = (
                f"order {link_id} is open on the exchange ({ex.status.value}, {ex.filled_lots} "
                f"of {ex.request.qty_lots} lots filled) but not journaled: not adopted"
            )
            diffs.append(Difference(DiffKind.UNKNOWN_ORDER, text, exchange=ex.status, **ids))
            continue
        if o.status.terminal:
            text = f"order {link_id} is {o.status.value} in the journal but open on the exchange"
            diffs.append(
                Difference(DiffKind.STATUS_CONFLICT, text, journal=o.status, exchange=ex.status,
                           **ids)
            )  # fmt: skip
            continue
        if o.filled_lots != ex.filled_lots:
            text = (
                f"order {link_id} has {o.filled_lots} lots filled in the journal, "
                f"{ex.filled_lots} on the exchange"
            )
            diffs.append(
                Difference(DiffKind.FILLED_SIZE, text, journal=o.filled_lots,
                           exchange=ex.filled_lots, **ids)
            )  # fmt: skip
        if o.status is OrderStatus.NEW:
            journal.status(link_id, OrderStatus.ACCEPTED, now, "reconciled: open on the exchange")
            text = f"order {link_id} was New in the journal and is open on the exchange: Accepted"
            diffs.append(
                Difference(DiffKind.ACKNOWLEDGED, text, journal=o.status, exchange=ex.status,
                           applied=True, **ids)
            )  # fmt: skip

    for before in open_before:
        if before.link_id in listed:
            continue
        o = journal.order(before.link_id)
        assert o is not None  # the journal never deletes an order
        ids = {"link_id": o.link_id, "instrument": o.instrument}
        if o.status is OrderStatus.FILLED:
            text = (
                f"order {o.link_id} is no longer open on the exchange; its executions fill it: "
                f"{before.status.value} -> Filled"
            )
            diffs.append(
                Difference(DiffKind.VANISHED_FILLED, text, journal=before.status,
                           exchange=OrderStatus.FILLED, applied=True, **ids)
            )  # fmt: skip
            continue
        if o.status is OrderStatus.NEW:
            why = "never acknowledged: it may never have reached the exchange"
        else:
            why = "cancelled or expired while HEAN was down, or filled beyond the executions read"
        text = (
            f"order {o.link_id} is {o.status.value} in the journal ({o.filled_lots} of "
            f"{o.qty_lots} lots filled) but not open on the exchange ({why}): left for the operator"
        )
        diffs.append(Difference(DiffKind.VANISHED, text, journal=o.status, **ids))

    mine, theirs = journal.positions(), exchange.positions()
    for instrument in sorted(set(mine) | set(theirs)):
        a, b = mine.get(instrument, 0), theirs.get(instrument, 0)
        if a != b:
            text = (
                f"position on instrument {instrument}: journal {a:+d} lots, exchange {b:+d} lots "
                "(not overwritten)"
            )
            diffs.append(
                Difference(DiffKind.POSITION, text, instrument=instrument, journal=a, exchange=b)
            )
    return Reconciliation(since_ns, tuple(diffs))
