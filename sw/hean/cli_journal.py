"""``hean journal verify`` and ``hean journal show``: the order journal from the shell.

These commands register themselves on :data:`hean.cli.main` when that module is
imported; they share its consoles and its exit statuses (1 for a bad file).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from hean.cli import main, out

db_argument = click.argument("db", type=click.Path(dir_okay=False, path_type=Path))


@contextmanager
def _open(db: Path) -> Iterator:
    """The journal at ``db``, never created; a bad file is one clear line and exit 1."""
    import sqlite3

    from hean.execution.journal import Journal, JournalError

    try:
        with Journal(db, create=False) as j:
            yield j
    except JournalError as exc:
        raise click.ClickException(str(exc)) from None
    except (sqlite3.DatabaseError, ValueError) as exc:  # damage found while reading rows
        raise click.ClickException(f"{db}: unreadable journal ({exc})") from None


@main.group()
def journal() -> None:
    """The order journal: every order, status change and fill, written before acted on.

    `verify` checks a journal's tables against each other; `show` prints its orders and
    positions.
    """


@journal.command("verify")
@db_argument
def verify(db: Path) -> None:
    """Check the journal DB: fills against orders and positions, status histories.

    Exits 0 with a one-line summary when consistent, 1 listing every problem.
    """
    with _open(db) as j:
        problems = j.verify()
        if not problems:
            counts = (len(j.orders()), len(j.fills()), len(j.positions()))
    if problems:
        for p in problems:
            out.print(p, markup=False)
        raise click.ClickException(f"{db}: journal inconsistent: {len(problems)} problem(s)")
    out.print(f"journal OK: {counts[0]:,} orders, {counts[1]:,} fills, {counts[2]:,} positions")


@journal.command("show")
@db_argument
@click.option("--open", "open_only", is_flag=True, help="Only the orders that may still trade.")
@click.option("--last", type=click.IntRange(min=1), default=None, help="Only the latest N orders.")
def show(db: Path, open_only: bool, last: int | None) -> None:
    """Print the journal DB's orders and positions as tables."""
    from rich.table import Table

    with _open(db) as j:
        orders = j.open_orders() if open_only else j.orders()
        positions = j.positions()
        total = len(orders)
        if last is not None:
            orders = orders[-last:]
    table = Table(
        title=f"{db}: {total:,} {'open ' if open_only else ''}orders"
        + (f", latest {len(orders):,}" if len(orders) < total else ""),
        title_justify="left",
    )
    columns = ["link id", "instrument", "side", "lots", "price", "tif", "filled", "avg",
               "status", "strategy", "order id", "reason"]  # fmt: skip
    for col in columns:
        table.add_column(
            col, justify="left" if col in ("link id", "strategy", "reason") else "right"
        )
    for o in orders:
        avg = o.avg_fill_ticks
        table.add_row(
            o.link_id, str(o.instrument), o.side.value, f"{o.qty_lots:,}",
            "market" if o.price_ticks is None else f"{o.price_ticks:,}",
            o.tif.value + (" RO" if o.reduce_only else ""), f"{o.filled_lots:,}",
            "-" if avg is None else f"{avg:,.2f}", o.status.value, o.strategy,
            o.order_id or "-", o.reason or "-",
        )  # fmt: skip
    out.print(table)
    pos = Table(title="positions (lots)", title_justify="left")
    pos.add_column("instrument", justify="right")
    pos.add_column("lots", justify="right")
    for instrument, lots in sorted(positions.items()):
        pos.add_row(str(instrument), f"{lots:+,}")
    if positions:
        out.print(pos)
    else:
        out.print("positions: flat")
