"""The journal's consistency checks, read straight from its tables.

The journal never writes an inconsistent state (each write is one transaction that
checks its rules first), so a problem found here means the file was changed by
something else, or damaged. The checks therefore read raw rows and expect anything:
unknown status names, negative sizes, dangling references.
"""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict

from hean.domain import OrderStatus, Side
from hean.execution.journal_schema import BASE36
from hean.execution.state import allowed

_STATUS = {s.value: s for s in OrderStatus}
_SIDES = {s.value: s for s in Side}


def _seq_of(link_id: str, prefix: str) -> int | None:
    """The counter value inside one of this journal's own link ids, else None."""
    head, _, rest = link_id.partition("-")
    seq = rest.partition("-")[0]
    if head != prefix or not seq or any(c not in BASE36 for c in seq):
        return None
    return int(seq, 36)


def verify(db: sqlite3.Connection, prefix: str) -> list[str]:
    """Every inconsistency in the journal on ``db``, as readable reasons.

    Checks, in this order:

    * SQLite's own page-level check (``PRAGMA quick_check``);
    * orders: a known side and status, a positive size, filled lots within 0..size and
      equal to the sum of the order's fills (the cost too), FILLED with filled == size,
      PARTIALLY_FILLED strictly between, NEW, ACCEPTED and REJECTED with nothing
      filled (CANCELLED and EXPIRED may hold any part); no link id from this journal's
      counter beyond the counter;
    * fills: each for a journaled order, on its instrument and side, a positive size
      and price, a non-empty exec id recorded once;
    * positions: each equal to the sum of the signed fills on its instrument;
    * status history (events): every order has one, starting NEW, each event leaving the
      status the previous one reached, each step allowed by the state machine, never
      out of a terminal state, never two terminal states, ending at the order's status;
      no history for an order that is not journaled.

    Parameters
    ----------
    db : sqlite3.Connection
        An open journal.
    prefix : str
        The journal's link id prefix.

    Returns
    -------
    list of str
        Empty when the journal is consistent.
    """
    try:
        return _verify(db, prefix)
    except sqlite3.DatabaseError as exc:
        return [f"database unreadable: {exc}"]


def _verify(db: sqlite3.Connection, prefix: str) -> list[str]:
    problems = [f"sqlite: {r[0]}" for r in db.execute("PRAGMA quick_check") if r[0] != "ok"]
    if problems:  # the rows themselves cannot be trusted
        return problems

    orders = {
        r[0]: r
        for r in db.execute(
            "SELECT link_id, instrument, side, qty_lots, status, filled_lots, filled_cost "
            "FROM orders ORDER BY seq"
        )
    }
    fills = db.execute(
        "SELECT exec_id, link_id, instrument, side, qty_lots, price_ticks FROM fills ORDER BY seq"
    ).fetchall()

    # Fills, and their sums per order and per instrument.
    lots: Counter[str] = Counter()
    cost: Counter[str] = Counter()
    signed: Counter[int] = Counter()
    for exec_id, link_id, instrument, side, qty, price in fills:
        if not exec_id:
            problems.append(f"fill for {link_id} has no exec id")
        if side not in _SIDES:
            problems.append(f"fill {exec_id} has an unknown side {side!r}")
        if not (isinstance(qty, int) and qty > 0 and isinstance(price, int) and price > 0):
            problems.append(f"fill {exec_id} has size {qty!r} at price {price!r}")
            continue
        if side in _SIDES:
            signed[instrument] += _SIDES[side].sign * qty
        order = orders.get(link_id)
        if order is None:
            problems.append(f"fill {exec_id} belongs to no journaled order ({link_id})")
            continue
        if (instrument, side) != (order[1], order[2]):
            problems.append(
                f"fill {exec_id} is {side} on instrument {instrument}, its order {link_id} "
                f"{order[2]} on instrument {order[1]}"
            )
        lots[link_id] += qty
        cost[link_id] += qty * price
    for exec_id, n in Counter(f[0] for f in fills).items():
        if n > 1:
            problems.append(f"exec id {exec_id} is recorded {n} times")

    # Orders against their fills.
    counter = db.execute("SELECT value FROM meta WHERE key = 'link_seq'").fetchone()
    for link_id, _instrument, side, qty, status, filled, filled_cost in orders.values():
        if side not in _SIDES:
            problems.append(f"order {link_id} has an unknown side {side!r}")
        if not isinstance(qty, int) or qty <= 0:
            problems.append(f"order {link_id} has size {qty!r}")
            continue
        if filled != lots[link_id]:
            problems.append(
                f"order {link_id} has {filled} lots filled but its fills sum to {lots[link_id]}"
            )
        if filled_cost != cost[link_id]:
            problems.append(
                f"order {link_id} has fill cost {filled_cost} but its fills sum to {cost[link_id]}"
            )
        if not isinstance(filled, int) or not 0 <= filled <= qty:
            problems.append(f"order {link_id} has {filled} lots filled of {qty}")
            filled = None
        st = _STATUS.get(status)
        if st is None:
            problems.append(f"order {link_id} has an unknown status {status!r}")
        elif filled is not None:
            problems.extend(_status_fill_problem(link_id, st, filled, qty))
        seq = _seq_of(link_id, prefix)
        if seq is not None and (counter is None or seq > counter[0]):
            problems.append(
                f"order {link_id} has link counter {seq}, beyond the journal's "
                f"{None if counter is None else counter[0]}: ids could be handed out twice"
            )

    # Positions against the fills.
    held = {i: q for i, q in db.execute("SELECT instrument, qty_lots FROM positions") if q}
    want = {i: q for i, q in signed.items() if q}
    for instrument in sorted(set(held) | set(want)):
        if held.get(instrument, 0) != want.get(instrument, 0):
            problems.append(
                f"position on instrument {instrument} is {held.get(instrument, 0)} lots but "
                f"the fills sum to {want.get(instrument, 0)}"
            )

    problems.extend(_history_problems(db, orders))
    return problems


def _status_fill_problem(link_id: str, st: OrderStatus, filled: int, qty: int) -> list[str]:
    if st is OrderStatus.FILLED and filled != qty:
        return [f"order {link_id} is Filled with {filled} of {qty} lots filled"]
    if st is OrderStatus.PARTIALLY_FILLED and not 0 < filled < qty:
        return [f"order {link_id} is PartiallyFilled with {filled} of {qty} lots filled"]
    if st in (OrderStatus.NEW, OrderStatus.ACCEPTED, OrderStatus.REJECTED) and filled:
        return [f"order {link_id} is {st.value} with {filled} of {qty} lots filled"]
    return []


def _history_problems(db: sqlite3.Connection, orders: dict[str, tuple]) -> list[str]:
    history: dict[str, list[tuple]] = defaultdict(list)
    for row in db.execute("SELECT seq, link_id, old_status, status FROM events ORDER BY seq"):
        history[row[1]].append(row)
    problems = [
        f"status history for {link_id} belongs to no journaled order"
        for link_id in history
        if link_id not in orders
    ]
    for link_id, order in orders.items():
        events = history.get(link_id)
        if not events:
            problems.append(f"order {link_id} has no status history")
            continue
        terminals: list[str] = []
        current: OrderStatus | None = None
        for seq, _, old, new in events:
            st = _STATUS.get(new)
            if st is None:
                problems.append(f"order {link_id}: event {seq} has an unknown status {new!r}")
                break
            was = "nothing" if current is None else current.value
            if (old if old is None else _STATUS.get(old)) is not current:
                problems.append(
                    f"order {link_id}: event {seq} starts from {old or 'nothing'} but the "
                    f"order was {was}"
                )
            if current is None:
                if st is not OrderStatus.NEW:
                    problems.append(f"order {link_id}: its history starts at {new}, not New")
            elif current.terminal:
                problems.append(
                    f"order {link_id}: event {seq} leaves terminal {current.value} for {new}"
                )
            elif not allowed(current, st):
                problems.append(
                    f"order {link_id}: event {seq} {current.value} -> {new} is not a "
                    "transition of the state machine"
                )
            if st.terminal and new not in terminals:
                terminals.append(new)
            current = st
        if len(terminals) > 1:
            problems.append(f"order {link_id} reached two terminal states: {', '.join(terminals)}")
        if current is not None and current.value != order[4]:
            problems.append(
                f"order {link_id} is {order[4]} but its history ends at {current.value}"
            )
    return problems
