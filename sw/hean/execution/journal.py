"""The order journal: every order, status change and fill, on disk before it is acted on.

The router journals an order's intent before it sends the order, an exchange report
before it updates its own state, and a fill before the ledger books it. A crash at any
point then leaves a journal that says at least as much as anyone acted on, and
:func:`hean.execution.reconcile.reconcile` fills in what the exchange did meanwhile.

The journal is one SQLite file in WAL mode with ``synchronous=FULL``: every call that
writes is one transaction, committed (and the WAL synced) before the call returns, so a
row a caller has seen committed survives a ``kill -9`` of the process and a power cut.
Several processes may share the file; each write takes the write lock up front
(``BEGIN IMMEDIATE``), so their read-check-write steps never interleave.

The tables are described in ``docs/journal.md``; :meth:`Journal.verify` checks them
against each other.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hean.domain import Fill, OrderRequest, OrderStatus
from hean.execution.journal_schema import (
    BASE36,
    FILL_COLUMNS,
    ORDER_COLUMNS,
    SCHEMA,
    SCHEMA_VERSION,
    base36,
    fill_from_row,
    order_from_row,
)
from hean.execution.state import OPEN_STATUSES, OrderState, check_transition

#: What Bybit accepts as an ``orderLinkId``.
LINK_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,36}")

#: Random base36 characters at the head of every link id of one journal file.
PREFIX_LEN = 6


class JournalError(Exception):
    """The journal refuses a write (it would break a rule) or cannot open the file."""


class DuplicateLinkIdError(JournalError):
    """An order with this link id is journaled already: it must not be sent twice."""


class UnknownOrderError(JournalError):
    """No journaled order has this link id."""


class Journal:
    """The order journal in the SQLite file ``path``.

    Parameters
    ----------
    path : str or Path
        Created with an empty journal when missing (if ``create``).
    create : bool
        False to refuse a missing or empty file instead of creating a journal.
    busy_timeout_s : float
        How long a write waits for another process's transaction to finish.
    durable : bool
        True (live): every write reaches the disk before it returns (``synchronous=FULL``).
        False (backtests, whose journal can be made again from the data): writes are
        left to the operating system, which is far faster with thousands of orders.

    Raises
    ------
    JournalError
        If the file is missing (and not ``create``), not an SQLite database, an SQLite
        database that is not a journal, or a journal of another schema version.
    """

    def __init__(
        self,
        path: str | Path,
        create: bool = True,
        busy_timeout_s: float = 10.0,
        durable: bool = True,
    ) -> None:
        self.path = Path(path)
        self.durable = durable
        if not create and not self.path.is_file():
            raise JournalError(f"{self.path}: no such file")
        uri = self.path.resolve().as_uri() + ("?mode=rwc" if create else "?mode=rw")
        try:
            self._db = sqlite3.connect(
                uri, uri=True, isolation_level=None, check_same_thread=False,
                timeout=busy_timeout_s,
            )  # fmt: skip
        except sqlite3.Error as exc:
            raise JournalError(f"{self.path}: cannot open ({exc})") from None
        # One connection, used from whichever thread calls: the lock keeps a transaction
        # from one thread out of another's.
        self._lock = threading.RLock()
        try:
            self._open(create)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise JournalError(f"{self.path}: not a readable SQLite database ({exc})") from None
        except JournalError:
            self._db.close()
            raise

    def _open(self, create: bool) -> None:
        db = self._db
        # Look before writing anything: a database that is not a journal is left as it is.
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "meta" not in tables:
            raise JournalError(f"{self.path}: an SQLite database but not a HEAN journal")
        if not tables and not create:
            raise JournalError(f"{self.path}: an empty database, not a HEAN journal")
        if tables:
            self._check_version()
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise JournalError(f"{self.path}: cannot use WAL mode (journal_mode is {mode})")
        db.execute(f"PRAGMA synchronous={'FULL' if self.durable else 'OFF'}")
        if not tables:
            with self._write():
                # Statement by statement: executescript would commit the open transaction.
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                # OR IGNORE: another process may have created the journal in the meantime.
                prefix = "".join(secrets.choice(BASE36) for _ in range(PREFIX_LEN))
                db.executemany(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                    [("schema_version", SCHEMA_VERSION), ("prefix", prefix), ("link_seq", 0)],
                )
        self._check_version()
        self.prefix = str(self._meta("prefix"))

    def _meta(self, key: str) -> object:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise JournalError(f"{self.path}: journal metadata lacks {key!r}")
        return row[0]

    def _check_version(self) -> None:
        version = self._meta("schema_version")
        if version == SCHEMA_VERSION:
            return
        if isinstance(version, int) and version > SCHEMA_VERSION:
            raise JournalError(
                f"{self.path}: journal schema {version} is newer than this HEAN reads "
                f"({SCHEMA_VERSION}); use a newer HEAN"
            )
        raise JournalError(f"{self.path}: unknown journal schema version {version!r}")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, holding the write lock from its start; commit or roll back."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                # A failed COMMIT (disk full, I/O error) leaves the transaction open.
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        """Close the file (every write is committed already)."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writes ----------------------------------------------------------------------

    def next_link_id(self, strategy: str, instrument: int) -> str:
        """A fresh ``orderLinkId``, never given before by this journal file.

        The counter is incremented in a transaction of its own, committed before the id
        is returned, so neither a restart nor another process on the same file can hand
        out the same id. The id is ``PREFIX-SEQ-INSTRUMENT-STRATEGY``; the journal's
        random prefix tells its ids from another journal's, the strategy (characters
        Bybit refuses replaced by ``_``) is cut to keep the whole within 36 characters.
        A commit costs milliseconds: the fast path takes ids from a block reserved
        ahead (:meth:`reserve_link_seqs`, :class:`LinkIds`).
        """
        return self.link_id(self.reserve_link_seqs(1)[0], strategy, instrument)

    def reserve_link_seqs(self, count: int) -> range:
        """Reserve ``count`` sequence numbers for link ids in one committed transaction.

        Numbers of a block a crash leaves unused are never handed out again.
        """
        if count < 1:
            raise ValueError(f"reserve at least one link id, not {count}")
        with self._write() as db:
            # fetchall: the statement is finished before the commit.
            ((last,),) = db.execute(
                "UPDATE meta SET value = value + ? WHERE key = 'link_seq' RETURNING value",
                (count,),
            ).fetchall()
        return range(last - count + 1, last + 1)

    def link_id(self, seq: int, strategy: str, instrument: int) -> str:
        """The link id of reserved sequence number ``seq``."""
        head = f"{self.prefix}-{base36(seq)}-{instrument}"
        if len(head) > 36:
            raise JournalError(f"instrument {instrument}: no room for it in a link id")
        tag = re.sub(r"[^A-Za-z0-9_-]", "_", strategy)[: max(0, 36 - len(head) - 1)]
        return f"{head}-{tag}" if tag else head

    def intent(self, request: OrderRequest) -> None:
        """Journal ``request`` as a NEW order; call it before sending the order.

        Raises
        ------
        DuplicateLinkIdError
            If an order with this link id is journaled already.
        JournalError
            If the link id has characters Bybit refuses.
        """
        if not LINK_ID_RE.fullmatch(request.link_id):
            raise JournalError(f"link id {request.link_id!r}: Bybit allows only A-Z a-z 0-9 - _")
        o = OrderState.from_request(request)
        try:
            with self._write() as db:
                db.execute(
                    f"INSERT INTO orders ({ORDER_COLUMNS}) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, '', '', ?)",
                    (o.link_id, o.instrument, o.side.value, o.qty_lots, o.price_ticks, o.strategy,
                     int(o.reduce_only), o.tif.value, o.created_ns, o.status.value, o.updated_ns),
                )  # fmt: skip
                self._event(o.link_id, o.created_ns, None, OrderStatus.NEW, "", "")
        except sqlite3.IntegrityError:
            raise DuplicateLinkIdError(
                f"order {request.link_id} is journaled already: a link id is never sent twice"
            ) from None

    def status(
        self, link_id: str, status: OrderStatus, ts_ns: int, reason: str = "",
        order_id: str = "",
    ) -> bool:  # fmt: skip
        """Journal a status the exchange reported; call it before acting on the report.

        Returns
        -------
        bool
            True if written; False for a repeat of the current status (a replayed
            report), which writes nothing.

        Raises
        ------
        UnknownOrderError
            If no order has this link id.
        TransitionError
            If the state machine forbids the change.
        JournalError
            For PARTIALLY_FILLED or FILLED ahead of the fills that make it so (those
            statuses follow from :meth:`fill`; journal the fill first), or an order id
            other than the one journaled.
        """
        with self._write() as db:
            o = self._get(link_id)
            if status is o.status:
                return False
            if status in (OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED):
                check_transition(o.status, status, link_id)
                raise JournalError(
                    f"order {link_id}: {status.value} reported with {o.filled_lots} of "
                    f"{o.qty_lots} lots journaled; journal its fills first"
                )
            if order_id and o.order_id and order_id != o.order_id:
                raise JournalError(
                    f"order {link_id}: exchange id {order_id} differs from {o.order_id}"
                )
            n = o.with_status(status, ts_ns, reason, order_id)
            db.execute(
                "UPDATE orders SET status = ?, reason = ?, order_id = ?, updated_ns = ? "
                "WHERE link_id = ?",
                (n.status.value, n.reason, n.order_id, n.updated_ns, link_id),
            )
            self._event(link_id, ts_ns, o.status, status, reason, "")
        return True

    def fill(self, fill: Fill) -> bool:
        """Journal a fill, with its order's new filled size and status and the position.

        Call it before the ledger books the fill. A fill for a CANCELLED or EXPIRED
        order (reported after the cancel it preceded) is journaled and leaves the status.

        Returns
        -------
        bool
            True if written; False if this ``exec_id`` is journaled already (nothing
            is written).

        Raises
        ------
        UnknownOrderError
            If the fill's order is not journaled.
        JournalError
            For an empty exec id, an exec id journaled with other contents, a fill whose
            instrument or side is not its order's, one that overfills its order, or one
            for a FILLED or REJECTED order.
        """
        if not fill.exec_id:
            raise JournalError(f"fill for {fill.link_id}: no exec id, so it cannot be deduplicated")
        with self._write() as db:
            row = db.execute(
                f"SELECT {FILL_COLUMNS} FROM fills WHERE exec_id = ?", (fill.exec_id,)
            ).fetchone()
            if row is not None:
                old = fill_from_row(row)
                if (old.link_id, old.side, old.qty_lots, old.price_ticks) != (
                    fill.link_id, fill.side, fill.qty_lots, fill.price_ticks,
                ):  # fmt: skip
                    raise JournalError(f"exec id {fill.exec_id} is journaled with other contents")
                return False
            o = self._get(fill.link_id)
            if (fill.instrument, fill.side) != (o.instrument, o.side):
                raise JournalError(
                    f"fill {fill.exec_id} is {fill.side.value} on instrument {fill.instrument}, "
                    f"its order {o.link_id} {o.side.value} on instrument {o.instrument}"
                )
            try:
                n = o.with_fill(fill.qty_lots, fill.price_ticks, fill.ts_ns)
            except ValueError as exc:
                raise JournalError(f"fill {fill.exec_id}: {exc}") from None
            db.execute(
                f"INSERT INTO fills ({FILL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (fill.ts_ns, fill.instrument, fill.side.value, fill.qty_lots, fill.price_ticks,
                 str(fill.fee), fill.link_id, int(fill.maker), fill.exec_id),
            )  # fmt: skip
            db.execute(
                "UPDATE orders SET status = ?, filled_lots = ?, filled_cost = ?, updated_ns = ? "
                "WHERE link_id = ?",
                (n.status.value, n.filled_lots, n.filled_cost, n.updated_ns, o.link_id),
            )
            if n.status is not o.status:
                self._event(o.link_id, fill.ts_ns, o.status, n.status, "", fill.exec_id)
            db.execute(
                "INSERT INTO positions (instrument, qty_lots) VALUES (?, ?) "
                "ON CONFLICT (instrument) DO UPDATE SET qty_lots = qty_lots + excluded.qty_lots",
                (fill.instrument, fill.side.sign * fill.qty_lots),
            )
        return True

    def _event(
        self, link_id: str, ts_ns: int, old: OrderStatus | None, new: OrderStatus, reason: str,
        exec_id: str,
    ) -> None:  # fmt: skip
        self._db.execute(
            "INSERT INTO events (link_id, ts_ns, old_status, status, reason, exec_id) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (link_id, ts_ns, None if old is None else old.value, new.value, reason, exec_id),
        )

    def _get(self, link_id: str) -> OrderState:
        o = self.order(link_id)
        if o is None:
            raise UnknownOrderError(f"no journaled order {link_id}")
        return o

    # --- queries ---------------------------------------------------------------------

    def _query(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def order(self, link_id: str) -> OrderState | None:
        """The order ``link_id``, or None if it is not journaled."""
        rows = self._query(f"SELECT {ORDER_COLUMNS} FROM orders WHERE link_id = ?", (link_id,))
        return order_from_row(rows[0]) if rows else None

    def orders(self) -> list[OrderState]:
        """Every order, in the order they were journaled."""
        return [
            order_from_row(r)
            for r in self._query(f"SELECT {ORDER_COLUMNS} FROM orders ORDER BY seq")
        ]

    def open_orders(self) -> list[OrderState]:
        """The orders that may still trade: NEW, ACCEPTED or PARTIALLY_FILLED."""
        marks = ", ".join("?" * len(OPEN_STATUSES))
        rows = self._query(
            f"SELECT {ORDER_COLUMNS} FROM orders WHERE status IN ({marks}) ORDER BY seq",
            tuple(s.value for s in OPEN_STATUSES),
        )
        return [order_from_row(r) for r in rows]

    def fills(self, link_id: str | None = None) -> list[Fill]:
        """The fills, of one order or all, in the order they were journaled."""
        if link_id is None:
            rows = self._query(f"SELECT {FILL_COLUMNS} FROM fills ORDER BY seq")
        else:
            sql = f"SELECT {FILL_COLUMNS} FROM fills WHERE link_id = ? ORDER BY seq"
            rows = self._query(sql, (link_id,))
        return [fill_from_row(r) for r in rows]

    def has_fill(self, exec_id: str) -> bool:
        """Whether the fill ``exec_id`` is journaled."""
        return bool(self._query("SELECT 1 FROM fills WHERE exec_id = ?", (exec_id,)))

    def positions(self) -> dict[int, int]:
        """Signed position in lots per instrument, instruments held only."""
        rows = self._query("SELECT instrument, qty_lots FROM positions WHERE qty_lots != 0")
        return dict(rows)

    def last_fill_ts(self) -> int | None:
        """The latest fill's ``ts_ns``, or None before the first fill."""
        return self._query("SELECT MAX(ts_ns) FROM fills")[0][0]

    def verify(self) -> list[str]:
        """Check the tables against each other and the state machine.

        Returns
        -------
        list of str
            One readable reason per problem; empty for a consistent journal. The checks
            are listed in :func:`hean.execution.journal_verify.verify`.
        """
        from hean.execution.journal_verify import verify

        with self._lock:
            return verify(self._db, self.prefix)


class LinkIds:
    """Link ids for the fast path, from blocks of ``block`` numbers reserved in ``journal``.

    Taking an id is a counter step and a string format; one commit buys ``block`` ids.
    """

    def __init__(self, journal: Journal, block: int = 1024) -> None:
        self.journal = journal
        self.block = block
        self._seqs: Iterator[int] = iter(())

    def __call__(self, strategy: str, instrument: int) -> str:
        seq = next(self._seqs, None)
        if seq is None:
            self._seqs = iter(self.journal.reserve_link_seqs(self.block))
            seq = next(self._seqs)
        return self.journal.link_id(seq, strategy, instrument)
