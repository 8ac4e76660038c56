"""Reconciliation after a restart: the journal against a fake exchange."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from hean.domain import Fill, Order, OrderRequest, OrderStatus, Side
from hean.execution.journal import Journal
from hean.execution.reconcile import DEFAULT_MARGIN_NS, DiffKind, Reconciliation, reconcile

S = OrderStatus
SEC = 1_000_000_000


class FakeExchange:
    """The three calls reconcile makes, over fixed open orders and fills."""

    name = "fake"

    def __init__(self, orders=(), fills=(), positions: dict[int, int] | None = None) -> None:
        self.orders = list(orders)
        self.fills = list(fills)
        self._positions = positions
        self.since: list[int] = []

    def open_orders(self, instrument: int | None = None) -> list[Order]:
        return [o for o in self.orders if instrument in (None, o.request.instrument)]

    def executions(self, since_ns: int = 0) -> list[Fill]:
        self.since.append(since_ns)
        return [f for f in self.fills if f.ts_ns >= since_ns]

    def positions(self) -> dict[int, int]:
        if self._positions is not None:
            return dict(self._positions)
        held: Counter[int] = Counter()
        for f in {f.exec_id: f for f in self.fills}.values():
            held[f.instrument] += f.side.sign * f.qty_lots
        return {i: q for i, q in held.items() if q}


def req(link_id: str, qty: int = 10, side: Side = Side.BUY, ts: int = 10_000 * SEC) -> OrderRequest:
    return OrderRequest(ts, 1, side, qty, 500, "imp", link_id)


def fill(link_id: str, exec_id: str, qty: int, ts: int = 20_000 * SEC, side: Side = Side.BUY):
    return Fill(ts, 1, side, qty, 500, Decimal("0.01"), link_id, False, exec_id)


def kinds(r: Reconciliation) -> list[DiffKind]:
    return [d.kind for d in r.differences]


@pytest.fixture()
def j(tmp_path: Path):
    with Journal(tmp_path / "j.db") as journal:
        yield journal


def test_agreement_is_ok(j: Journal) -> None:
    j.intent(req("A"))
    j.status("A", S.ACCEPTED, 1)
    j.fill(fill("A", "e1", 4))
    ex = FakeExchange([Order(req("A"), S.PARTIALLY_FILLED, 4, 2000)], [fill("A", "e1", 4)])
    r = reconcile(j, ex)
    assert r.ok and r.differences == () and r.applied == () and r.lines() == []
    assert j.verify() == []


def test_executions_are_read_from_the_last_fill_or_oldest_open_order_less_a_margin(
    j: Journal,
) -> None:
    ex = FakeExchange()
    reconcile(j, ex)
    assert ex.since == [0]  # an empty journal: everything the exchange has
    j.intent(req("A", ts=1000 * SEC))
    j.fill(fill("A", "e1", 10, ts=1500 * SEC))
    reconcile(j, ex)
    assert ex.since[-1] == 1500 * SEC - DEFAULT_MARGIN_NS
    j.intent(req("B", ts=1200 * SEC))  # open, older than the last fill
    reconcile(j, ex, margin_ns=SEC)
    assert ex.since[-1] == 1199 * SEC
    reconcile(j, ex, since_ns=7)
    assert ex.since[-1] == 7


def test_missing_fills_are_journaled_and_reported(j: Journal) -> None:
    j.intent(req("A"))
    j.status("A", S.ACCEPTED, 1)
    j.fill(fill("A", "e1", 2))
    fills = [fill("A", "e1", 2), fill("A", "e2", 3), fill("A", "e2", 3)]  # a repeated page
    ex = FakeExchange([Order(req("A"), S.PARTIALLY_FILLED, 5, 2500)], fills)
    r = reconcile(j, ex)
    assert kinds(r) == [DiffKind.MISSING_FILL]
    d = r.differences[0]
    assert d.applied and (d.link_id, d.exec_id, d.instrument) == ("A", "e2", 1)
    assert str(d).startswith("recorded missing fill Buy 3 lots at 500 ticks on instrument 1")
    assert r.lines() == [f"applied: {d}"]
    assert j.order("A").filled_lots == 5 and j.positions() == {1: 5} and j.verify() == []
    assert reconcile(j, ex).ok  # a second run finds nothing


def test_an_order_that_filled_while_down_is_filled(j: Journal) -> None:
    j.intent(req("A"))
    j.status("A", S.ACCEPTED, 1)
    ex = FakeExchange([], [fill("A", "e1", 4), fill("A", "e2", 6)])
    r = reconcile(j, ex)
    assert kinds(r) == [DiffKind.MISSING_FILL] * 2 + [DiffKind.VANISHED_FILLED]
    v = r.differences[-1]
    assert v.applied and (v.journal, v.exchange) == (S.ACCEPTED, S.FILLED)
    assert "Accepted -> Filled" in v.text
    assert j.order("A").status is S.FILLED and j.verify() == []
    assert reconcile(j, ex).ok


def test_open_orders_gone_from_the_exchange_are_left_for_the_operator(j: Journal) -> None:
    j.intent(req("N"))  # journaled, perhaps never sent
    j.intent(req("A"))
    j.status("A", S.ACCEPTED, 1)
    j.intent(req("P"))
    j.fill(fill("P", "p1", 3))
    ex = FakeExchange([], [fill("P", "p1", 3)])
    r = reconcile(j, ex)
    assert kinds(r) == [DiffKind.VANISHED] * 3 and r.applied == ()
    assert r.unresolved == r.differences
    texts = {d.link_id: d.text for d in r.differences}
    assert "never acknowledged: it may never have reached the exchange" in texts["N"]
    assert "PartiallyFilled in the journal (3 of 10 lots filled)" in texts["P"]
    assert all("left for the operator" in t for t in texts.values())
    assert [o.status for o in j.orders()] == [S.NEW, S.ACCEPTED, S.PARTIALLY_FILLED]
    assert kinds(reconcile(j, ex)) == [DiffKind.VANISHED] * 3  # still there, still reported


def test_unknown_exchange_orders_are_reported_not_adopted(j: Journal) -> None:
    ex = FakeExchange([Order(req("manual-1", qty=2), S.ACCEPTED)])
    r = reconcile(j, ex)
    assert kinds(r) == [DiffKind.UNKNOWN_ORDER]
    d = r.differences[0]
    assert d.link_id == "manual-1" and d.exchange is S.ACCEPTED and not d.applied
    assert "not journaled: not adopted" in d.text
    assert j.orders() == []


def test_a_new_order_the_exchange_lists_is_accepted(j: Journal) -> None:
    j.intent(req("A"))
    ex = FakeExchange([Order(req("A"), S.ACCEPTED)])
    r = reconcile(j, ex, now_ns=777)
    assert kinds(r) == [DiffKind.ACKNOWLEDGED] and r.differences[0].applied
    o = j.order("A")
    assert (o.status, o.updated_ns) == (S.ACCEPTED, 777) and "reconciled" in o.reason
    assert reconcile(j, ex).ok


def test_status_and_filled_size_conflicts_are_reported(j: Journal) -> None:
    j.intent(req("C"))
    j.status("C", S.CANCELLED, 1)
    j.intent(req("P"))
    j.status("P", S.ACCEPTED, 1)
    j.fill(fill("P", "p1", 4))
    orders = [Order(req("C"), S.ACCEPTED), Order(req("P"), S.PARTIALLY_FILLED, 5, 2500)]
    # p2 is older than the window read, so the exchange's filled size cannot be explained.
    ex = FakeExchange(orders, [fill("P", "p1", 4), fill("P", "p2", 1, ts=1)], {1: 5})
    r = reconcile(j, ex)
    assert kinds(r) == [DiffKind.STATUS_CONFLICT, DiffKind.FILLED_SIZE, DiffKind.POSITION]
    conflict, size, pos = r.differences
    assert (conflict.journal, conflict.exchange) == (S.CANCELLED, S.ACCEPTED)
    assert (size.journal, size.exchange) == (4, 5)
    assert (pos.instrument, pos.journal, pos.exchange) == (1, 4, 5)
    assert r.applied == () and j.order("C").status is S.CANCELLED


def test_fills_the_journal_cannot_take_are_reported(j: Journal) -> None:
    j.intent(req("R", qty=2))
    j.status("R", S.REJECTED, 1)
    j.intent(req("A", qty=2))
    fills = [fill("", "m1", 1), fill("ghost", "g1", 1), fill("R", "r1", 1), fill("A", "a1", 3)]
    ex = FakeExchange([Order(req("A", qty=2), S.ACCEPTED)], fills)
    r = reconcile(j, ex)
    assert kinds(r)[:4] == [DiffKind.UNJOURNALED_FILL] * 4
    texts = [d.text for d in r.differences[:4]]
    assert "not journaled, not recorded" in texts[0] and "(no link id)" in texts[0]
    assert "not journaled, not recorded" in texts[1] and "ghost" in texts[1]
    assert "refuses" in texts[2] and "Rejected: it cannot fill" in texts[2]
    assert "refuses" in texts[3] and "overfills" in texts[3]
    assert j.fills() == [] and j.verify() == []
    assert kinds(r)[4:] == [DiffKind.ACKNOWLEDGED, DiffKind.POSITION]


def test_positions_are_reported_never_overwritten(j: Journal) -> None:
    j.intent(req("A", qty=3))
    j.fill(fill("A", "a1", 3))
    ex = FakeExchange([], [fill("A", "a1", 3)], {1: 7, 2: -1})
    r = reconcile(j, ex)
    assert kinds(r) == [DiffKind.POSITION] * 2
    assert [(d.instrument, d.journal, d.exchange) for d in r.differences] == [(1, 3, 7), (2, 0, -1)]
    assert "journal +3 lots, exchange +7 lots (not overwritten)" in r.differences[0].text
    assert j.positions() == {1: 3}


def test_a_crash_between_fill_and_status_recovers(j: Journal) -> None:
    """The router sent, the order filled, and HEAN died before journaling any report."""
    j.intent(req("A", qty=4))
    ex = FakeExchange([], [fill("A", "a1", 1), fill("A", "a2", 3)])
    r = reconcile(j, ex)
    assert kinds(r) == [DiffKind.MISSING_FILL, DiffKind.MISSING_FILL, DiffKind.VANISHED_FILLED]
    assert "New -> Filled" in r.differences[-1].text
    assert j.order("A").status is S.FILLED and j.positions() == {1: 4} and j.verify() == []
