"""The journal's SQLite schema and the mapping between its rows and HEAN's types.

``docs/journal.md`` describes each table. Sizes are lots and prices ticks, as
everywhere in HEAN; fees are stored as decimal text, so they come back exact; statuses,
sides and times in force are stored as Bybit spells them (the enums' values).
"""

from __future__ import annotations

from decimal import Decimal

from hean.domain import Fill, OrderStatus, Side, TimeInForce
from hean.execution.state import OrderState

#: The schema this module writes. A journal with another version is refused.
SCHEMA_VERSION = 1

BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS orders (
    seq INTEGER PRIMARY KEY,
    link_id TEXT NOT NULL UNIQUE,
    instrument INTEGER NOT NULL,
    side TEXT NOT NULL,
    qty_lots INTEGER NOT NULL,
    price_ticks INTEGER,
    strategy TEXT NOT NULL,
    reduce_only INTEGER NOT NULL,
    tif TEXT NOT NULL,
    status TEXT NOT NULL,
    filled_lots INTEGER NOT NULL,
    filled_cost INTEGER NOT NULL,
    order_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_ns INTEGER NOT NULL,
    updated_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    link_id TEXT NOT NULL,
    ts_ns INTEGER NOT NULL,
    old_status TEXT,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    exec_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_link ON events (link_id, seq);
CREATE TABLE IF NOT EXISTS fills (
    seq INTEGER PRIMARY KEY,
    exec_id TEXT NOT NULL,
    link_id TEXT NOT NULL,
    instrument INTEGER NOT NULL,
    side TEXT NOT NULL,
    qty_lots INTEGER NOT NULL,
    price_ticks INTEGER NOT NULL,
    fee TEXT NOT NULL,
    maker INTEGER NOT NULL,
    ts_ns INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS fills_exec_id ON fills (exec_id);
CREATE INDEX IF NOT EXISTS fills_link ON fills (link_id);
CREATE INDEX IF NOT EXISTS fills_ts ON fills (ts_ns);
CREATE TABLE IF NOT EXISTS positions (instrument INTEGER PRIMARY KEY, qty_lots INTEGER NOT NULL);
"""

ORDER_COLUMNS = (
    "link_id, instrument, side, qty_lots, price_ticks, strategy, reduce_only, tif, created_ns, "
    "status, filled_lots, filled_cost, order_id, reason, updated_ns"
)
FILL_COLUMNS = "ts_ns, instrument, side, qty_lots, price_ticks, fee, link_id, maker, exec_id"


def base36(n: int) -> str:
    """``n`` (>= 0) in base 36, lower case: the counter's part of a link id."""
    digits = ""
    while True:
        n, d = divmod(n, 36)
        digits = BASE36[d] + digits
        if n == 0:
            return digits


def order_from_row(row: tuple) -> OrderState:
    """An ``orders`` row (:data:`ORDER_COLUMNS`) as an :class:`OrderState`."""
    (link_id, instrument, side, qty, price, strategy, reduce_only, tif, created, status,
     filled, cost, order_id, reason, updated) = row  # fmt: skip
    return OrderState(
        link_id, instrument, Side(side), qty, price, strategy, bool(reduce_only),
        TimeInForce(tif), created, OrderStatus(status), filled, cost, order_id, reason, updated,
    )  # fmt: skip


def fill_from_row(row: tuple) -> Fill:
    """A ``fills`` row (:data:`FILL_COLUMNS`) as a :class:`~hean.domain.Fill`."""
    ts, instrument, side, qty, price, fee, link_id, maker, exec_id = row
    return Fill(ts, instrument, Side(side), qty, price, Decimal(fee), link_id, bool(maker), exec_id)
