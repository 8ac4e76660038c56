"""The order journal: every rule, idempotency, schema checks, verify, and kill -9."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

from hean.domain import Fill, OrderRequest, OrderStatus, Side, TimeInForce
from hean.execution.journal import (
    LINK_ID_RE,
    SCHEMA_VERSION,
    DuplicateLinkIdError,
    Journal,
    JournalError,
    UnknownOrderError,
)
from hean.execution.state import TransitionError

S = OrderStatus
WRITER = Path(__file__).with_name("journal_writer.py")


def req(link_id: str, qty: int = 10, side: Side = Side.BUY, instrument: int = 1, ts: int = 1):
    return OrderRequest(ts, instrument, side, qty, 500, "imp", link_id)


def fill(link_id: str, exec_id: str, qty: int, side: Side = Side.BUY, instrument: int = 1,
         price: int = 500, ts: int = 10) -> Fill:  # fmt: skip
    return Fill(ts, instrument, side, qty, price, Decimal("0.0123"), link_id, False, exec_id)


@pytest.fixture()
def j(tmp_path: Path):
    with Journal(tmp_path / "j.db") as journal:
        yield journal


def events(path: Path, link_id: str) -> list[tuple]:
    with sqlite3.connect(path) as db:
        sql = "SELECT old_status, status, reason, exec_id FROM events WHERE link_id=? ORDER BY seq"
        return db.execute(sql, (link_id,)).fetchall()


# --- opening, durability settings, schema ------------------------------------------------


def test_wal_and_full_sync(j: Journal) -> None:
    assert j._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert j._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    with sqlite3.connect(j.path) as db:
        meta = dict(db.execute("SELECT key, value FROM meta"))
    assert meta["schema_version"] == SCHEMA_VERSION and meta["prefix"] == j.prefix


def test_reopen_keeps_prefix_counter_and_rows(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    with Journal(path) as a:
        first = a.next_link_id("s", 1)
        a.intent(req(first))
        prefix = a.prefix
    with Journal(path, create=False) as b:
        assert b.prefix == prefix and b.order(first) is not None
        second = b.next_link_id("s", 1)
    assert first != second and second.startswith(f"{prefix}-2-")
    with Journal(tmp_path / "other.db") as c:
        assert c.prefix != prefix  # 36**6 prefixes: a clash is a one in two billion chance


def test_missing_or_empty_file_without_create(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="no such file"):
        Journal(tmp_path / "nope.db", create=False)
    assert not (tmp_path / "nope.db").exists()
    (tmp_path / "empty.db").write_bytes(b"")
    with pytest.raises(JournalError, match="empty database, not a HEAN journal"):
        Journal(tmp_path / "empty.db", create=False)


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite at all, " * 100)
    with pytest.raises(JournalError, match="not a readable SQLite database"):
        Journal(path)
    assert path.read_bytes() == b"this is not sqlite at all, " * 100


def test_a_database_that_is_not_a_journal_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (x)")
    before = path.read_bytes()
    with pytest.raises(JournalError, match="not a HEAN journal"):
        Journal(path)
    assert path.read_bytes() == before  # not switched to WAL, no tables added


@pytest.mark.parametrize(
    ("version", "message"),
    [(SCHEMA_VERSION + 1, "newer than this HEAN reads"), ("1.0", "unknown journal schema")],
)
def test_other_schema_versions_are_refused(tmp_path: Path, version, message: str) -> None:
    path = tmp_path / "j.db"
    Journal(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (version,))
    with pytest.raises(JournalError, match=message):
        Journal(path)


def test_meta_without_a_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    Journal(path).close()
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM meta WHERE key = 'schema_version'")
    with pytest.raises(JournalError, match="lacks 'schema_version'"):
        Journal(path)


def test_context_manager_closes(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as journal:
        pass
    with pytest.raises(sqlite3.ProgrammingError):
        journal.orders()


# --- link ids -------------------------------------------------------------------------


def test_link_ids_are_unique_short_and_bybit_safe(j: Journal) -> None:
    ids = [j.next_link_id("impulse", 7) for _ in range(200)]
    assert len(set(ids)) == 200
    assert ids[0] == f"{j.prefix}-1-7-impulse" and ids[35] == f"{j.prefix}-10-7-impulse"
    odd = j.next_link_id("a strategy/with spaces & a very, very long name", 123456)
    assert LINK_ID_RE.fullmatch(odd) and len(odd) == 36
    assert odd.startswith(f"{j.prefix}-5l-123456-a_strategy_with")
    assert j.next_link_id("", 0) == f"{j.prefix}-5m-0"
    assert j.next_link_id("§§§", 0) == f"{j.prefix}-5n-0-___"
    assert j.next_link_id("strategy", 10**17) == f"{j.prefix}-5o-{10**17}-strateg"
    with pytest.raises(JournalError, match="no room"):
        j.next_link_id("x", 10**30)


def test_link_ids_are_unique_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    Journal(path).close()
    children = [
        subprocess.Popen(
            [sys.executable, str(WRITER), str(path), "ids", "60"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    ids = []
    for child in children:
        stdout, _ = child.communicate(timeout=60)
        assert child.returncode == 0
        ids += stdout.split()
    assert len(ids) == 180 and len(set(ids)) == 180
    with Journal(path) as j:
        assert j.next_link_id("x", 1).startswith(f"{j.prefix}-51-")  # 181 in base 36


# --- intents and statuses -------------------------------------------------------------


def test_intent_records_new(j: Journal) -> None:
    r = OrderRequest(3, 2, Side.SELL, 7, None, "imp", "L1", True, TimeInForce.IOC)
    j.intent(r)
    o = j.order("L1")
    assert o is not None and o.request == r and o.status is S.NEW and o.filled_lots == 0
    assert j.orders() == j.open_orders() == [o]
    assert events(j.path, "L1") == [(None, "New", "", "")]
    assert j.order("nope") is None


def test_intent_refuses_a_link_id_twice(j: Journal) -> None:
    j.intent(req("L1"))
    with pytest.raises(DuplicateLinkIdError, match="never sent twice"):
        j.intent(req("L1", qty=3))
    assert j.order("L1").qty_lots == 10 and len(events(j.path, "L1")) == 1


def test_intent_refuses_characters_bybit_refuses(j: Journal) -> None:
    with pytest.raises(JournalError, match="Bybit allows only"):
        j.intent(req("bad id!"))
    assert j.orders() == []


def test_status_transitions_and_history(j: Journal) -> None:
    j.intent(req("L1"))
    assert j.status("L1", S.ACCEPTED, 5, order_id="X1") is True
    assert j.status("L1", S.ACCEPTED, 6, order_id="X1") is False  # a replayed report
    assert j.status("L1", S.CANCELLED, 7, reason="by user") is True
    assert j.status("L1", S.CANCELLED, 8, reason="again") is False
    o = j.order("L1")
    assert (o.status, o.order_id, o.reason, o.updated_ns) == (S.CANCELLED, "X1", "by user", 7)
    assert j.open_orders() == []
    assert events(j.path, "L1") == [
        (None, "New", "", ""),
        ("New", "Accepted", "", ""),
        ("Accepted", "Cancelled", "by user", ""),
    ]


def test_illegal_transitions_raise_and_write_nothing(j: Journal) -> None:
    j.intent(req("L1"))
    j.status("L1", S.ACCEPTED, 5)
    with pytest.raises(TransitionError, match="only a NEW order can be rejected"):
        j.status("L1", S.REJECTED, 6)
    j.status("L1", S.EXPIRED, 7)
    for status in (S.ACCEPTED, S.CANCELLED, S.NEW):
        with pytest.raises(TransitionError, match="Expired is terminal"):
            j.status("L1", status, 8)
    assert j.order("L1").status is S.EXPIRED and len(events(j.path, "L1")) == 3


def test_status_refusals(j: Journal) -> None:
    with pytest.raises(UnknownOrderError):
        j.status("ghost", S.ACCEPTED, 1)
    j.intent(req("L1"))
    for status in (S.PARTIALLY_FILLED, S.FILLED):
        with pytest.raises(JournalError, match="journal its fills first"):
            j.status("L1", status, 2)
    j.status("L1", S.ACCEPTED, 3, order_id="X1")
    with pytest.raises(JournalError, match="differs"):
        j.status("L1", S.CANCELLED, 4, order_id="X2")
    assert j.order("L1").status is S.ACCEPTED


def test_fill_reports_after_the_fill_are_repeats(j: Journal) -> None:
    j.intent(req("L1"))
    assert j.fill(fill("L1", "e1", 10))
    assert j.status("L1", S.FILLED, 11) is False


# --- fills ----------------------------------------------------------------------------


def test_fills_update_order_status_and_position(j: Journal) -> None:
    assert j.last_fill_ts() is None and j.positions() == {}
    j.intent(req("L1"))
    j.status("L1", S.ACCEPTED, 2)
    assert j.fill(fill("L1", "e1", 4, ts=20))
    o = j.order("L1")
    assert (o.status, o.filled_lots, o.filled_cost) == (S.PARTIALLY_FILLED, 4, 2000)
    assert j.fill(fill("L1", "e2", 6, price=510, ts=30))
    o = j.order("L1")
    assert (o.status, o.filled_lots, o.filled_cost) == (S.FILLED, 10, 2000 + 3060)
    assert j.positions() == {1: 10} and j.last_fill_ts() == 30
    assert [f.exec_id for f in j.fills("L1")] == ["e1", "e2"]
    assert j.fills("L1")[0] == fill("L1", "e1", 4, ts=20)  # the fee comes back exact
    assert events(j.path, "L1")[2:] == [
        ("Accepted", "PartiallyFilled", "", "e1"), ("PartiallyFilled", "Filled", "", "e2"),
    ]  # fmt: skip


def test_positions_are_signed_per_instrument(j: Journal) -> None:
    j.intent(req("B", qty=5, instrument=1))
    j.intent(req("S", qty=8, side=Side.SELL, instrument=1))
    j.intent(req("T", qty=2, side=Side.SELL, instrument=2))
    j.fill(fill("B", "b", 5, instrument=1))
    j.fill(fill("S", "s", 8, side=Side.SELL, instrument=1))
    j.fill(fill("T", "t", 2, side=Side.SELL, instrument=2))
    assert j.positions() == {1: -3, 2: -2}
    j.intent(req("C", qty=3, instrument=1))
    j.fill(fill("C", "c", 3, instrument=1))
    assert j.positions() == {2: -2}  # flat instruments are not listed
    assert [f.exec_id for f in j.fills()] == ["b", "s", "t", "c"]


def test_fill_is_idempotent_by_exec_id(j: Journal) -> None:
    j.intent(req("L1"))
    assert j.fill(fill("L1", "e1", 4)) is True
    assert j.fill(fill("L1", "e1", 4)) is False
    assert j.order("L1").filled_lots == 4 and j.positions() == {1: 4} and len(j.fills()) == 1
    with pytest.raises(JournalError, match="other contents"):
        j.fill(fill("L1", "e1", 5))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (fill("ghost", "e9", 1), "no journaled order ghost"),
        (fill("L1", "e9", 11), "overfills"),
        (fill("L1", "e9", 1, side=Side.SELL), "its order L1 Buy"),
        (fill("L1", "e9", 1, instrument=2), "on instrument 2"),
        (fill("L1", "", 1), "no exec id"),
    ],
)
def test_fill_refusals_write_nothing(j: Journal, bad: Fill, message: str) -> None:
    j.intent(req("L1"))
    with pytest.raises(JournalError, match=message):
        j.fill(bad)
    assert j.fills() == [] and j.positions() == {} and j.order("L1").status is S.NEW


def test_fills_for_finished_orders(j: Journal) -> None:
    j.intent(req("F", qty=2))
    j.fill(fill("F", "f1", 2))
    with pytest.raises(JournalError, match="Filled: it cannot fill"):
        j.fill(fill("F", "f2", 1))
    j.intent(req("R", qty=2))
    j.status("R", S.REJECTED, 3, "margin")
    with pytest.raises(JournalError, match="Rejected: it cannot fill"):
        j.fill(fill("R", "r1", 1))
    # A fill reported after the cancel it preceded: real lots, the status stays.
    j.intent(req("C", qty=5))
    j.fill(fill("C", "c1", 1))
    j.status("C", S.CANCELLED, 4)
    assert j.fill(fill("C", "c2", 2))
    c = j.order("C")
    assert (c.status, c.filled_lots) == (S.CANCELLED, 3) and j.positions() == {1: 5}
    assert j.verify() == []


def test_open_orders_are_the_ones_that_can_trade(j: Journal) -> None:
    for lid in ("N", "A", "P", "F", "X"):
        j.intent(req(lid, qty=2))
    j.status("A", S.ACCEPTED, 2)
    j.fill(fill("P", "p", 1))
    j.fill(fill("F", "f", 2))
    j.status("X", S.CANCELLED, 3)
    assert [o.link_id for o in j.open_orders()] == ["N", "A", "P"]
    assert [o.link_id for o in j.orders()] == ["N", "A", "P", "F", "X"]


# --- verify: a clean journal, then each kind of damage -------------------------------------


@pytest.fixture()
def populated(tmp_path: Path) -> Path:
    path = tmp_path / "j.db"
    with Journal(path) as j:
        for lid, qty, side in (("A", 10, Side.BUY), ("B", 5, Side.SELL), ("C", 3, Side.BUY),
                               ("D", 2, Side.BUY)):  # fmt: skip
            j.intent(req(lid, qty, side))
            if lid != "D":
                j.status(lid, S.ACCEPTED, 2)
        j.fill(fill("A", "e1", 4))
        j.fill(fill("A", "e2", 6))
        j.fill(fill("B", "e3", 2, side=Side.SELL))
        j.status("C", S.CANCELLED, 3)
        j.status("D", S.REJECTED, 3)
        j.intent(req(j.next_link_id("imp", 1)))
        assert j.verify() == []
    return path


CORRUPTIONS = {
    "fill of no order": (["UPDATE fills SET link_id = 'ghost' WHERE exec_id = 'e3'"],
                         "fill e3 belongs to no journaled order (ghost)"),
    "duplicate exec id": (
        ["DROP INDEX fills_exec_id",
         "INSERT INTO fills (exec_id, link_id, instrument, side, qty_lots, price_ticks, fee, "
         "maker, ts_ns) SELECT exec_id, 'C', 1, side, 1, price_ticks, fee, maker, ts_ns "
         "FROM fills WHERE exec_id = 'e1'"],
        "exec id e1 is recorded 2 times"),
    "filled lots off": (["UPDATE orders SET filled_lots = 9 WHERE link_id = 'A'"],
                        "order A has 9 lots filled but its fills sum to 10"),
    "filled cost off": (["UPDATE orders SET filled_cost = 1 WHERE link_id = 'A'"],
                        "order A has fill cost 1 but its fills sum to 5000"),
    "overfilled": (["UPDATE orders SET qty_lots = 8 WHERE link_id = 'A'"],
                   "order A has 10 lots filled of 8"),
    "position off": (["UPDATE positions SET qty_lots = 99 WHERE instrument = 1"],
                     "position on instrument 1 is 99 lots but the fills sum to 8"),
    "position missing": (["DELETE FROM positions"],
                         "position on instrument 1 is 0 lots but the fills sum to 8"),
    "fill on the wrong side": (["UPDATE fills SET side = 'Sell' WHERE exec_id = 'e1'"],
                               "fill e1 is Sell on instrument 1, its order A Buy"),
    "bad fill size": (["UPDATE fills SET qty_lots = 0 WHERE exec_id = 'e3'"],
                      "fill e3 has size 0"),
    "two terminal states": (
        ["INSERT INTO events (link_id, ts_ns, old_status, status, reason, exec_id) "
         "VALUES ('C', 9, 'Cancelled', 'Filled', '', '')",
         "UPDATE orders SET status = 'Filled' WHERE link_id = 'C'"],
        "order C reached two terminal states: Cancelled, Filled"),
    "out of a terminal state": (
        ["INSERT INTO events (link_id, ts_ns, old_status, status, reason, exec_id) "
         "VALUES ('C', 9, 'Cancelled', 'Accepted', '', '')",
         "UPDATE orders SET status = 'Accepted' WHERE link_id = 'C'"],
        "order C: event 14 leaves terminal Cancelled for Accepted"),
    "not a transition": (
        ["UPDATE events SET status = 'Rejected' WHERE link_id = 'C' AND status = 'Cancelled'",
         "UPDATE orders SET status = 'Rejected' WHERE link_id = 'C'"],
        "Accepted -> Rejected is not a transition of the state machine"),
    "broken chain": (["UPDATE events SET old_status = 'New' WHERE link_id = 'C' "
                      "AND status = 'Cancelled'"],
                     "order C: event 11 starts from New but the order was Accepted"),
    "history not from New": (["DELETE FROM events WHERE link_id = 'C' AND status = 'New'"],
                             "order C: its history starts at Accepted, not New"),
    "no history": (["DELETE FROM events WHERE link_id = 'C'"], "order C has no status history"),
    "history ends elsewhere": (["UPDATE orders SET status = 'Expired' WHERE link_id = 'C'"],
                               "order C is Expired but its history ends at Cancelled"),
    "history of no order": (
        ["INSERT INTO events (link_id, ts_ns, old_status, status, reason, exec_id) "
         "VALUES ('ghost', 1, NULL, 'New', '', '')"],
        "status history for ghost belongs to no journaled order"),
    "filled but short": (["UPDATE orders SET status = 'Filled' WHERE link_id = 'B'"],
                         "order B is Filled with 2 of 5 lots filled"),
    "partly filled with all": (
        ["UPDATE orders SET status = 'PartiallyFilled' WHERE link_id = 'A'"],
        "order A is PartiallyFilled with 10 of 10 lots filled"),
    "rejected with lots": (
        ["UPDATE fills SET link_id = 'D', qty_lots = 2 WHERE exec_id = 'e1'",
         "UPDATE orders SET filled_lots = 2, filled_cost = 1000 WHERE link_id = 'D'"],
        "order D is Rejected with 2 of 2 lots filled"),
    "unknown status": (["UPDATE orders SET status = 'Bogus' WHERE link_id = 'C'"],
                       "order C has an unknown status 'Bogus'"),
    "counter rolled back": (["UPDATE meta SET value = 0 WHERE key = 'link_seq'"],
                            "has link counter 1, beyond the journal's 0"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_verify_reports_each_kind_of_damage(populated: Path, case: str) -> None:
    edits, expected = CORRUPTIONS[case]
    with sqlite3.connect(populated) as db:
        for sql in edits:
            db.execute(sql)
    with Journal(populated, create=False) as j:
        problems = j.verify()
    assert any(expected in p for p in problems), problems


def test_verify_reports_page_damage(populated: Path) -> None:
    with sqlite3.connect(populated) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = db.execute("PRAGMA page_size").fetchone()[0]
        root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'fills'").fetchone()[0]
    with populated.open("r+b") as f:  # scribble over the fills table's page
        f.seek((root - 1) * page)
        f.write(b"\xff" * page)
    try:
        j = Journal(populated, create=False)
    except JournalError:
        return  # refused at opening: as good as reported
    with j:
        problems = j.verify()
    assert problems and (problems[0].startswith(("sqlite:", "database unreadable")))


# --- kill -9 --------------------------------------------------------------------------


def test_kill_9_loses_no_committed_fill(tmp_path: Path) -> None:
    """Two writers share a journal and are killed mid-run; what they saw committed stays."""
    path = tmp_path / "j.db"
    Journal(path).close()
    children = [
        subprocess.Popen(
            [sys.executable, str(WRITER), str(path), "crash", tag],
            stdout=subprocess.PIPE,
            text=True,
        )
        for tag in ("w1", "w2")
    ]
    printed: list[list[str]] = [[], []]

    def read(child: subprocess.Popen, into: list[str]) -> None:
        assert child.stdout is not None
        for line in child.stdout:  # up to the kill: EOF once the child is dead
            into.append(line.strip())

    readers = [
        threading.Thread(target=read, args=(c, p), daemon=True)
        for c, p in zip(children, printed, strict=True)
    ]
    for r in readers:
        r.start()
    try:
        deadline = time.monotonic() + 30
        while min(len(p) for p in printed) < 25 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        for child in children:
            os.kill(child.pid, signal.SIGKILL)  # mid-run: each is still writing
        for child, r in zip(children, readers, strict=True):
            child.wait(timeout=30)
            r.join(timeout=30)
    assert [c.returncode for c in children] == [-signal.SIGKILL] * 2  # neither stopped early
    assert min(len(p) for p in printed) >= 25
    with Journal(path, create=False) as j:
        assert j.verify() == []
        journaled = {f.exec_id for f in j.fills()}
        assert set(printed[0]) | set(printed[1]) <= journaled
        assert len({o.link_id for o in j.orders()}) == len(j.orders())
