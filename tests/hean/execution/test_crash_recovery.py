"""kill -9 in the middle of live trading, then a restart: nothing lost, nothing doubled.

The exchange is the loopback Bybit of the adapter's tests, in this process; the trader
is a child process running the real stack against it (``live_child.py``). It is killed
with SIGKILL while it trades; a second child reconciles the journal with the exchange,
takes its orders back and trades on. Then the journal must verify, hold every order
the exchange has (each link id once) and every execution, and agree on positions.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner

from hean.cli import main
from hean.execution.journal import Journal
from tests.hean.exchange.bybit import conftest as bybit

INSTRUMENTS = bybit.INSTRUMENTS
fake = bybit.fake  # the loopback Bybit, as a fixture here too
CHILD = Path(__file__).with_name("live_child.py")
SYMBOL_ID = {spec.symbol: i for i, spec in INSTRUMENTS.items()}


def _run_until_killed(url: str, db: Path, orders: int) -> list[str]:
    child = subprocess.Popen(
        [sys.executable, str(CHILD), url, str(db)], stdout=subprocess.PIPE, text=True
    )
    placed = []
    try:
        assert child.stdout is not None
        for line in child.stdout:
            placed.append(line.strip())
            if len(placed) >= orders:
                os.kill(child.pid, signal.SIGKILL)  # mid-run: between any two steps
                break
    finally:
        child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    return placed


def test_kill_9_and_restart_lose_and_double_nothing(tmp_path: Path, fake) -> None:
    db = tmp_path / "live.db"
    placed = _run_until_killed(fake.url, db, orders=12)
    assert len(placed) == 12
    resumed = subprocess.run(
        [sys.executable, str(CHILD), fake.url, str(db), "resume", "5"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr

    with Journal(db) as j:
        assert j.verify() == []
        journaled = {o.link_id: o for o in j.orders()}
        fills = {f.exec_id: f for f in j.fills()}
        positions = j.positions()
    # every order the exchange has is journaled, and no link id reached it twice
    at_exchange = list(fake.orders)
    assert len(at_exchange) == len(set(at_exchange)) >= 12 + 5
    assert set(at_exchange) <= set(journaled)
    assert len(fake.calls("/v5/order/create")) >= len(at_exchange)
    # every execution is journaled once, and the positions agree
    assert set(fills) == {e["execId"] for e in fake.executions}
    want = {SYMBOL_ID[s]: int(q / INSTRUMENTS[SYMBOL_ID[s]].lot) for s, q in fake.position.items()}
    assert positions == {i: q for i, q in want.items() if q}
    # orders the kill left journaled but never sent are open in the journal, not lost
    unsent = set(journaled) - set(at_exchange)
    assert all(journaled[k].status.value == "New" for k in unsent)
    assert sum(f.qty_lots for f in fills.values()) == sum(
        int(Decimal(o["cumExecQty"]) / INSTRUMENTS[SYMBOL_ID[o["symbol"]]].lot)
        for o in fake.orders.values()
    )
    result = CliRunner().invoke(main, ["journal", "verify", str(db)])
    assert result.exit_code == 0, result.output
