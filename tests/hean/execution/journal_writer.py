"""A child process for the journal's crash and sharing tests (run as a script).

``journal_writer.py DB ids N``
    Takes N link ids from the journal and prints each, one a line.
``journal_writer.py DB crash TAG``
    Journals orders, statuses and fills in a loop until killed, printing each fill's
    exec id (flushed) once :meth:`Journal.fill` has returned, i.e. once it is committed.
    The loop stops by itself after a few thousand orders, should nobody kill it.
"""

from __future__ import annotations

import sys
from decimal import Decimal

from hean.domain import Fill, OrderRequest, OrderStatus, Side
from hean.execution.journal import Journal


def take_ids(j: Journal, n: int) -> None:
    for _ in range(n):
        print(j.next_link_id("share", 1), flush=True)


def crash_loop(j: Journal, tag: str) -> None:
    for i in range(5000):
        side = Side.BUY if i % 2 else Side.SELL
        instrument = i % 3
        lid = j.next_link_id(tag, instrument)
        j.intent(OrderRequest(i, instrument, side, 3, 1000 + i, tag, lid))
        if i % 7 == 6:
            j.status(lid, OrderStatus.REJECTED, i, "price band")
            continue
        j.status(lid, OrderStatus.ACCEPTED, i, order_id=f"x{lid}")
        parts = (1,) if i % 5 == 4 else (1, 2)
        for k, lots in enumerate(parts):
            exec_id = f"{lid}:{k}"
            j.fill(
                Fill(i, instrument, side, lots, 1000 + i, Decimal("0.001"), lid, k == 0, exec_id)
            )
            print(exec_id, flush=True)
        if len(parts) == 1:
            j.status(lid, OrderStatus.CANCELLED, i, "by user")


if __name__ == "__main__":
    db, mode, arg = sys.argv[1:4]
    with Journal(db) as journal:
        if mode == "ids":
            take_ids(journal, int(arg))
        else:
            crash_loop(journal, arg)
