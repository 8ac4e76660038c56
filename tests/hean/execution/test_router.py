"""The router: journal first, rate limits, retries that never double an order, reports."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from hean.domain import Fill, Order, OrderRequest, OrderStatus, Side
from hean.exchange.base import (
    Ack,
    DuplicateOrderError,
    ExecutionReport,
    InsufficientBalanceError,
    RateLimitError,
    UnavailableError,
)
from hean.execution.journal import Journal, LinkIds
from hean.execution.ratelimit import RateLimit, TokenBucket
from hean.execution.router import Router, RouterConfig

S = 10**9


class ScriptedExchange:
    """An exchange whose ``place`` raises the scripted errors first, then takes orders.

    ``lost`` makes a placement go through and then fail as if the answer were lost.
    Like Bybit, it refuses a second order with a link id it knows.
    """

    name = "scripted"

    def __init__(self, script=()) -> None:
        self.script = list(script)
        self.book: dict[str, Order] = {}
        self.placed: list[str] = []  # every call to place that created an order
        self.calls = 0
        self.cancels: list[str] = []
        self.queued: list[ExecutionReport] = []
        self.fills: list[Fill] = []

    def place(self, request: OrderRequest) -> Ack:
        self.calls += 1
        step = self.script.pop(0) if self.script else None
        if isinstance(step, Exception):
            raise step
        if request.link_id in self.book:
            raise DuplicateOrderError("OrderLinkedID is duplicate", 110072)
        self.book[request.link_id] = Order(request, OrderStatus.ACCEPTED)
        self.placed.append(request.link_id)
        if step == "lost":
            raise UnavailableError("read timed out")
        return Ack(request.link_id, f"x{len(self.placed)}", request.ts_ns)

    def cancel(self, instrument: int, link_id: str) -> Ack:
        self.cancels.append(link_id)
        self.queued.append(ExecutionReport(0, link_id, OrderStatus.CANCELLED, reason="ttl"))
        return Ack(link_id, "", 0)

    def amend(self, instrument, link_id, qty_lots=None, price_ticks=None) -> Ack:
        raise NotImplementedError  # the router does not amend in these tests

    def open_orders(self, instrument: int | None = None) -> list[Order]:
        return [o for o in self.book.values() if instrument in (None, o.request.instrument)]

    def positions(self) -> dict[int, int]:
        return {}

    def executions(self, since_ns: int = 0) -> list[Fill]:
        return [f for f in self.fills if f.ts_ns >= since_ns]

    def fee_rates(self, instrument: int):
        raise NotImplementedError

    def reports(self) -> list[ExecutionReport]:
        out, self.queued = self.queued, []
        return out


class Clock:
    def __init__(self) -> None:
        self.now = 1_000 * S
        self.slept: list[float] = []

    def __call__(self) -> int:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += int(seconds * 1e9) + 1


@pytest.fixture()
def journal(tmp_path: Path):
    with Journal(tmp_path / "j.db") as j:
        yield j


def request(link: str, lots: int = 5) -> OrderRequest:
    return OrderRequest(1_000 * S, 0, Side.BUY, lots, 500_000, "impulse", link)


def make(journal, script=(), blocking=True, **kw):
    ex = ScriptedExchange(script)
    clock = Clock()
    r = Router(ex, journal, clock=clock, sleep=clock.sleep, blocking=blocking, **kw)
    return r, ex, clock


def test_journaled_before_sent_and_accepted(journal) -> None:
    r, ex, _ = make(journal)
    seen = []
    ex.place = (lambda f: lambda req: (seen.append(journal.order(req.link_id).status), f(req))[1])(
        ex.place
    )
    assert r.submit(request("a-1"))
    assert seen == [OrderStatus.NEW]  # the journal had it before the exchange did
    assert journal.order("a-1").status is OrderStatus.ACCEPTED
    assert journal.order("a-1").order_id == "x1"
    assert not journal.verify()


def test_the_same_link_id_is_never_sent_twice(journal) -> None:
    r, ex, _ = make(journal)
    assert r.submit(request("a-1"))
    assert not r.submit(request("a-1"))
    r2, ex2, _ = make(journal)  # a restarted process on the same journal
    assert not r2.submit(request("a-1"))
    assert ex.calls == 1 and ex2.calls == 0
    assert r.stats.duplicates_refused == 1 and r2.stats.duplicates_refused == 1


def test_rate_limit_answers_back_off_and_retry_the_same_request(journal) -> None:
    r, ex, clock = make(journal, [RateLimitError("too many", 10006)] * 2)
    assert r.submit(request("a-1"))
    assert ex.placed == ["a-1"] and ex.calls == 3
    assert r.stats.rate_limited == 2 and r.stats.retries == 2
    assert clock.slept == pytest.approx([0.2, 0.4])
    assert journal.order("a-1").status is OrderStatus.ACCEPTED


def test_a_lost_answer_is_looked_up_not_doubled(journal) -> None:
    r, ex, _ = make(journal, ["lost"])
    r.submit(request("a-1"))
    assert ex.placed == ["a-1"] and ex.calls == 1  # found open: no second placement
    assert r.stats.lookups == 1
    assert journal.order("a-1").status is OrderStatus.ACCEPTED


def test_a_timeout_before_the_exchange_retries_and_a_late_duplicate_is_acceptance(
    journal,
) -> None:
    # the first try never arrived: retried; the order then exists, so a further lost
    # answer and a duplicate refusal both settle as accepted, with one order only
    r, ex, _ = make(journal, [UnavailableError("connect timeout"), "lost"])
    r.submit(request("a-1"))
    assert ex.placed == ["a-1"] and ex.calls == 2
    ex.script = []
    ex.book.clear()  # the exchange forgets nothing really; the router must not resend
    assert not r.submit(request("a-1"))
    assert ex.calls == 2


def test_duplicate_refusal_means_the_first_try_went_through(journal) -> None:
    r, ex, _ = make(journal)
    ex.book["a-1"] = Order(request("a-1"), OrderStatus.ACCEPTED)  # arrived, answer lost
    r.submit(request("a-1"))
    assert journal.order("a-1").status is OrderStatus.ACCEPTED
    assert "earlier try" in journal.order("a-1").reason or r.stats.accepted == 1


def test_rejects_are_journaled_with_the_reason(journal) -> None:
    r, ex, _ = make(journal, [InsufficientBalanceError("ab not enough", 110007)])
    r.submit(request("a-1"))
    o = journal.order("a-1")
    assert o.status is OrderStatus.REJECTED and "110007" in o.reason
    assert r.orders["a-1"].status is OrderStatus.REJECTED and ex.calls == 1


def test_no_answer_at_all_leaves_the_order_unknown_for_reconciliation(journal) -> None:
    down = [UnavailableError("connection refused")] * 3
    r, ex, _ = make(journal, down, config=RouterConfig(max_attempts=3))
    r.submit(request("a-1"))
    assert ex.calls == 3 and not ex.placed
    assert r.unknown == {"a-1"} and journal.order("a-1").status is OrderStatus.NEW


def test_without_blocking_requests_wait_for_tokens_in_order(journal) -> None:
    r, ex, clock = make(journal, blocking=False, config=RouterConfig(limit=RateLimit(2, 2)))
    for k in range(5):
        r.submit(request(f"a-{k}"))
    assert ex.placed == ["a-0", "a-1"] and r.held == 3
    r.pump()
    assert ex.placed == ["a-0", "a-1"]  # no time passed: no token
    clock.now += S // 2
    r.pump()
    assert ex.placed == ["a-0", "a-1", "a-2"]
    clock.now += 2 * S
    r.pump()
    assert ex.placed == [f"a-{k}" for k in range(5)] and r.held == 0
    assert clock.slept == []


def test_fills_go_to_the_journal_then_the_ledger_once(journal) -> None:
    booked = []
    r, _, _ = make(journal, on_fill=lambda f, o: booked.append((f.exec_id, o.status)))
    r.submit(request("a-1", lots=5))
    f1 = Fill(1_001 * S, 0, Side.BUY, 2, 500_000, Decimal("0.1"), "a-1", True, "e1")
    f2 = Fill(1_002 * S, 0, Side.BUY, 3, 500_000, Decimal("0.1"), "a-1", True, "e2")
    rep = [ExecutionReport(f.ts_ns, "a-1", OrderStatus.PARTIALLY_FILLED, f) for f in (f1, f2)]
    r.on_reports(rep)
    r.on_reports(rep)  # the same reports again (a replay): nothing doubles
    assert booked == [("e1", OrderStatus.PARTIALLY_FILLED), ("e2", OrderStatus.FILLED)]
    assert journal.positions() == {0: 5} and journal.order("a-1").status is OrderStatus.FILLED
    assert not journal.verify()


def test_ttl_cancels_and_a_late_fill_still_counts(journal) -> None:
    r, ex, clock = make(journal)
    r.submit(request("a-1", lots=5), ttl_ns=300_000_000)
    r.pump()
    assert ex.cancels == []
    clock.now += 300_000_000
    r.pump()
    assert ex.cancels == ["a-1"] and journal.order("a-1").status is OrderStatus.CANCELLED
    late = Fill(clock.now, 0, Side.BUY, 1, 500_000, Decimal(0), "a-1", True, "e9")
    r.on_reports([ExecutionReport(clock.now, "a-1", OrderStatus.PARTIALLY_FILLED, late)])
    assert journal.positions() == {0: 1} and r.orders["a-1"].filled_lots == 1
    assert journal.order("a-1").status is OrderStatus.CANCELLED and not journal.verify()


def test_resume_takes_open_orders_back(journal) -> None:
    r, _, _ = make(journal)
    r.submit(request("a-1"))
    r2, _, _ = make(journal)
    assert r2.resume() == 1 and r2.orders["a-1"].status is OrderStatus.ACCEPTED
    f = Fill(1_001 * S, 0, Side.BUY, 5, 500_000, Decimal(0), "a-1", True, "e1")
    r2.on_reports([ExecutionReport(f.ts_ns, "a-1", OrderStatus.FILLED, f)])
    assert journal.order("a-1").status is OrderStatus.FILLED


def test_link_ids_from_reserved_blocks_are_unique_across_restarts(tmp_path: Path) -> None:
    ids = set()
    for _ in range(3):
        with Journal(tmp_path / "j.db") as j:
            take = LinkIds(j, block=4)
            for _ in range(10):
                link = take("impulse", 2)
                assert 0 < len(link) <= 36 and link not in ids
                ids.add(link)
    assert len(ids) == 30


def test_token_bucket() -> None:
    b = TokenBucket(RateLimit(10, 2))
    assert b.try_take(0) and b.try_take(0) and not b.try_take(0)
    assert b.wait_ns(0) == 100_000_001
    assert not b.try_take(50_000_000) and b.try_take(100_000_001)
    with pytest.raises(ValueError):
        RateLimit(0, 1)


def test_without_blocking_a_rate_limit_answer_waits_out_its_back_off(journal) -> None:
    r, ex, clock = make(journal, [RateLimitError("too many", 10006)], blocking=False)
    r.submit(request("a-1"))
    assert ex.calls == 1 and r.held == 1
    clock.now += 100_000_000
    r.pump()
    assert ex.calls == 1  # 0.2 s back-off not over
    clock.now += 100_000_000
    r.pump()
    assert ex.placed == ["a-1"] and r.held == 0 and clock.slept == []


def test_a_refusal_after_acceptance_is_journaled_as_a_cancel(journal) -> None:
    r, _, _ = make(journal)
    r.submit(request("a-1"))
    reason = "post-only order would take liquidity"
    r.on_reports([ExecutionReport(1, "a-1", OrderStatus.REJECTED, reason=reason)])
    o = journal.order("a-1")
    assert o.status is OrderStatus.CANCELLED and reason in o.reason and not journal.verify()
