"""Order request -> execution -> router -> paper fill -> journal -> position, end to end."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from hean.accounting import Ledger
from hean.domain import InstrumentSpec, OrderRequest, OrderStatus, Side
from hean.engine import Mirror
from hean.exchange.paper.exchange import PaperExchange
from hean.exchange.paper.latency import LatencyModel
from hean.execution.executor import Execution, ExecutionConfig
from hean.execution.journal import Journal
from hean.execution.router import Router
from hean.execution.twap import TWAPConfig
from hean.feeds.synth import SynthConfig, generate
from hean.wire import REC_DTYPE, REC_STRUCT, Params, Status
from hean.wire import Side as WSide

WBID, WASK = int(WSide.BID), int(WSide.ASK)
F = {name: k for k, name in enumerate(REC_DTYPE.names)}
STATUS, END = F["status"], int(Status.END)


@pytest.fixture(scope="module")
def session():
    msgs, sidecar = generate(SynthConfig(instruments=2, messages=40_000, seed=5))
    recs = Mirror(Params(K=32, N=2)).process(msgs)
    specs = {i.id: InstrumentSpec.from_sidecar(i) for i in sidecar.instruments}
    return msgs, recs, specs


def run(session, tmp_path: Path, config: ExecutionConfig, plan, profiles=None):
    """Replay the session; ``plan(k, top)`` gives (side, lots, edge_bps, urgency) or None."""
    msgs, recs, specs = session
    paper = PaperExchange(specs, latency=LatencyModel(entry=2_000_000, response=1_000_000))
    journal = Journal(tmp_path / "j.db")
    ledger = Ledger(specs, Decimal(100_000))
    router = Router(paper, journal, ledger=ledger, clock=lambda: paper.now, blocking=False)
    execution = Execution(router, specs, config=config, seed=3, volume_profiles=profiles)
    raw = recs.tobytes()
    n = 0
    for k in range(len(msgs)):
        paper.on_message(msgs[k])
        row = REC_STRUCT.unpack_from(raw, k * REC_STRUCT.size)
        execution.on_row(row)
        want = plan(k, row)
        if want is not None:
            side, lots, edge, urgency = want
            n += 1
            inst = row[F["instrument"]]
            req = OrderRequest(paper.now, inst, side, lots, None, "impulse", f"t-{n}")
            execution.submit(req, edge, urgency)
        if k % 50 == 0:
            for i in specs:
                book = paper.book(i)
                bids, asks = book.levels(WBID, 20), book.levels(WASK, 20)
                execution.refresh_book(i, bids, asks, paper.now)
            execution.pump()
    paper.advance(paper.now + 10**9)
    execution.pump()
    return paper, journal, ledger, router, execution


class SmallOrders:
    """An order on the first END record after every 700 messages: sides, sizes, edges and
    urgencies cycling so that market orders, post-only limits and skips all occur."""

    def __init__(self) -> None:
        self.due, self.n = 2_000, 0

    def __call__(self, k, row):
        if k < self.due or not row[STATUS] & END:
            return None
        self.due, self.n = k + 700, self.n + 1
        side = Side.BUY if self.n % 2 else Side.SELL
        edge, urgency = ((30.0, 0.9), (30.0, 0.2), (8.0, 0.2), (1.0, 0.9))[self.n % 4]
        return side, 1 + self.n % 3, edge, urgency


def test_requests_become_fills_positions_and_a_consistent_journal(session, tmp_path) -> None:
    paper, journal, ledger, _, execution = run(session, tmp_path, ExecutionConfig(), SmallOrders())
    assert execution.outcomes.get("market", 0) > 5 and execution.outcomes.get("limit", 0) > 0
    assert journal.verify() == []
    fills = journal.fills()
    assert fills and {f.exec_id for f in fills} == {f.exec_id for f in paper.executions()}
    assert journal.positions() == paper.positions()
    assert {i: p.qty for i, p in ledger.positions.items() if p.qty} == paper.positions()
    for o in journal.orders():
        assert o.filled_lots == paper.order(o.link_id).filled_lots
        there = paper.order(o.link_id).status
        if there is OrderStatus.REJECTED and o.reason.startswith("refused after acceptance"):
            there = OrderStatus.CANCELLED  # refused after the ack: journaled as Bybit says
        assert o.status is there
    market = [o for o in journal.orders() if o.price_ticks is None]
    assert market and all(o.status is OrderStatus.FILLED for o in market)
    # every fill's slippage went back to the cache, per symbol and side
    assert any(execution.slippage.history(s.symbol, side) is not None
               for s in session[2].values() for side in Side)  # fmt: skip


def test_a_large_order_goes_out_in_slices(session, tmp_path) -> None:
    twap = TWAPConfig(duration_ns=4_000_000_000, slices=4, min_notional=1.0)

    def one_big(k, row):
        return (Side.BUY, 40, 30.0, 0.9) if k == 3_000 else None

    paper, journal, *_, execution = run(session, tmp_path, ExecutionConfig(twap=twap), one_big)
    assert execution.outcomes == {"twap": 1}
    children = journal.orders()
    assert len(children) >= 4 and all(o.link_id.startswith("t-1-c") for o in children)
    assert all(o.tif.value == "PostOnly" and o.price_ticks for o in children)
    assert sum(o.filled_lots for o in children) <= 40
    assert journal.verify() == [] and journal.positions() == paper.positions()


def test_an_iceberg_against_the_order_halves_it(session, tmp_path) -> None:
    _, recs, specs = session
    paper = PaperExchange(specs)
    with Journal(tmp_path / "j.db") as journal:
        router = Router(paper, journal, clock=lambda: paper.now, blocking=False)
        execution = Execution(router, specs)
        k = int(np.flatnonzero(((recs["status"] & END) != 0) & (recs["bid_px"] > 0))[50])
        row = list(REC_STRUCT.unpack_from(recs.tobytes(), k * REC_STRUCT.size))
        row[STATUS] = int(Status.END | Status.ICEBERG_ASK)
        row[F["ice_px_ask"]] = row[F["ask_px"]]  # a hidden seller right at the ask
        execution.on_row(tuple(row))
        bid, ask = row[F["bid_px"]], row[F["ask_px"]]
        execution.refresh_book(row[F["instrument"]], [(bid, 1_000)], [(ask, 1_000)])
        req = OrderRequest(0, row[F["instrument"]], Side.BUY, 10, None, "impulse", "ice-1")
        out = execution.submit(req, 30.0, 0.9)
        assert out.action == "market" and journal.order("ice-1").qty_lots == 5


def test_vwap_slices_follow_the_volume_profile(session, tmp_path) -> None:
    from hean.execution.vwap import VWAPConfig

    vwap = VWAPConfig(duration_ns=4_000_000_000, bucket_ns=1_000_000_000, min_notional=1.0)
    config = ExecutionConfig(vwap=vwap, slicer="vwap")
    _, _, specs = session
    profiles = {i: np.array([1.0, 3.0, 0.0, 4.0]) for i in specs}

    def one_big(k, row):
        return (Side.BUY, 40, 30.0, 0.9) if k == 3_000 else None

    paper, journal, *_, execution = run(session, tmp_path, config, one_big, profiles)
    assert execution.outcomes == {"vwap": 1}
    first = sorted(journal.orders(), key=lambda o: o.created_ns)
    # 1:3:0:4 of 40 lots, from the profile's bucket of the start time on
    assert sorted(o.qty_lots for o in first[:3]) == [5, 15, 20]
    assert journal.verify() == [] and journal.positions() == paper.positions()
    with pytest.raises(ValueError, match="slicer"):
        ExecutionConfig(slicer="iceberg")
