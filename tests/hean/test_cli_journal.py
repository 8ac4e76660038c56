"""`hean journal verify` and `hean journal show`: happy paths and clear errors."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from hean.cli import main
from hean.domain import Fill, OrderRequest, OrderStatus, Side
from hean.execution.journal import SCHEMA_VERSION, Journal


def run(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    path = tmp_path / "j.db"
    with Journal(path) as j:
        a = j.next_link_id("impulse", 1)
        j.intent(OrderRequest(1, 1, Side.BUY, 10, 500, "impulse", a))
        j.status(a, OrderStatus.ACCEPTED, 2, order_id="ex-1")
        j.fill(Fill(3, 1, Side.BUY, 4, 500, Decimal("0.01"), a, True, "e1"))
        b = j.next_link_id("impulse", 2)
        j.intent(OrderRequest(4, 2, Side.SELL, 3, None, "impulse", b))
        j.fill(Fill(5, 2, Side.SELL, 3, 90, Decimal("0.02"), b, False, "e2"))
        c = j.next_link_id("impulse", 1)
        j.intent(OrderRequest(6, 1, Side.SELL, 2, 520, "impulse", c))
        j.status(c, OrderStatus.REJECTED, 7, reason="price band")
    return path


def test_verify_ok(db: Path) -> None:
    r = run("journal", "verify", db)
    assert r.exit_code == 0, r.output
    assert r.output.strip() == "journal OK: 3 orders, 2 fills, 2 positions"


def test_verify_lists_every_problem_and_exits_1(db: Path) -> None:
    with sqlite3.connect(db) as con:
        con.execute("UPDATE positions SET qty_lots = 5 WHERE instrument = 1")
        con.execute("UPDATE orders SET status = 'Filled' WHERE filled_lots = 4")
    r = run("journal", "verify", db)
    assert r.exit_code == 1
    assert "position on instrument 1 is 5 lots but the fills sum to 4" in r.output
    assert "is Filled with 4 of 10 lots filled" in r.output
    assert "but its history ends at PartiallyFilled" in r.output
    assert "journal inconsistent: 3 problem(s)" in r.output


def test_verify_missing_file(tmp_path: Path) -> None:
    r = run("journal", "verify", tmp_path / "nope.db")
    assert r.exit_code == 1 and "nope.db: no such file" in r.output
    assert not (tmp_path / "nope.db").exists()


def test_verify_a_file_that_is_not_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"\x00garbage" * 512)
    r = run("journal", "verify", path)
    assert r.exit_code == 1 and "not a readable SQLite database" in r.output


def test_verify_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    r = run("journal", "verify", path)
    assert r.exit_code == 1 and "not a HEAN journal" in r.output


def test_verify_a_database_that_is_not_a_journal(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE trades (x)")
    r = run("journal", "verify", path)
    assert r.exit_code == 1 and "an SQLite database but not a HEAN journal" in r.output


def test_verify_a_newer_schema(db: Path) -> None:
    with sqlite3.connect(db) as con:
        con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION + 1,))
    r = run("journal", "verify", db)
    assert r.exit_code == 1 and "newer than this HEAN reads" in r.output


def test_verify_a_directory_is_a_bad_argument(tmp_path: Path) -> None:
    r = run("journal", "verify", tmp_path)
    assert r.exit_code == 2


def test_show_orders_and_positions(db: Path) -> None:
    r = run("journal", "show", db)
    assert r.exit_code == 0, r.output
    out = r.output
    assert "3 orders" in out
    for text in ("PartiallyFilled", "Filled", "Rejected", "price band", "market", "ex-1", "-3"):
        assert text in out
    assert "positions (lots)" in out and "+4" in out


def test_show_open_and_last(db: Path) -> None:
    r = run("journal", "show", db, "--open")
    assert r.exit_code == 0 and "1 open orders" in r.output
    assert "PartiallyFilled" in r.output and "Rejected" not in r.output
    r = run("journal", "show", db, "--last", 1)
    assert r.exit_code == 0 and "3 orders, latest 1" in r.output
    assert "Rejected" in r.output and "PartiallyFilled" not in r.output
    assert run("journal", "show", db, "--last", 0).exit_code == 2


def test_show_flat_and_errors(tmp_path: Path, db: Path) -> None:
    empty = tmp_path / "new.db"
    Journal(empty).close()
    r = run("journal", "show", empty)
    assert r.exit_code == 0 and "0 orders" in r.output and "positions: flat" in r.output
    assert run("journal", "show", tmp_path / "nope.db").exit_code == 1
    with sqlite3.connect(db) as con:
        con.execute("UPDATE orders SET status = 'Bogus'")
    r = run("journal", "show", db)
    assert r.exit_code == 1 and "unreadable journal" in r.output


def test_help_lists_the_commands() -> None:
    r = run("journal", "--help")
    assert r.exit_code == 0 and "verify" in r.output and "show" in r.output
