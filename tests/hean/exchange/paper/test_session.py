"""Many random orders over a synthetic session: the invariants that must always hold.

* no order is ever overfilled, and each order's fills add up to what it reports;
* the position is the sum of the signed fills;
* a taker fill is at a price the opposite side of the book showed, within the limit;
* a maker fill is at the order's own price, after a trade or an opposite quote at or
  through that price;
* fees, exec ids, report order and report stamps are as promised;
* the same seed gives the same run.
"""

from __future__ import annotations

from collections import defaultdict
from functools import cache

import numpy as np
import pytest

from hean.domain import InstrumentSpec, Order, OrderRequest, OrderStatus, Side, TimeInForce
from hean.exchange.base import BYBIT_VIP0
from hean.exchange.paper import (
    Empirical,
    LatencyModel,
    PaperExchange,
    ProbQueueModel,
    QueueModel,
    RiskAverseQueueModel,
    fee,
)
from hean.feeds.synth import SynthConfig, generate
from hean.wire import MsgType
from hean.wire import Side as BookSide

TIFS = [TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK, TimeInForce.POST_ONLY]
LATENCY = LatencyModel(
    entry=Empirical(np.array([300, 800, 1500, 4000]) * 1000),
    response=Empirical(np.array([200, 600, 2500]) * 1000),
)


@cache
def session() -> tuple[np.ndarray, dict[int, InstrumentSpec]]:
    msgs, sidecar = generate(SynthConfig(instruments=2, messages=40_000, levels=20, seed=21))
    return msgs, {i.id: InstrumentSpec.from_sidecar(i) for i in sidecar.instruments}


def run(model: QueueModel, seed: int, latency=LATENCY, churn: bool = True):
    """Feed the session in chunks; after each, place random orders, cancel and amend some."""
    msgs, specs = session()
    ex = PaperExchange(specs, queue_model=model, latency=latency, seed=seed)
    rng = np.random.default_rng(seed)
    prices: dict[str, set[int]] = {}  # every limit price an order had
    placed_at: dict[str, int] = {}
    for chunk in np.array_split(msgs, 500):
        ex.feed(chunk)
        t = int(chunk["recv_ts_ns"][-1])
        for _ in range(int(rng.integers(0, 4))):
            inst = int(rng.integers(0, 2))
            bid, ask = ex.book(inst).best_bid(), ex.book(inst).best_ask()
            if bid is None or ask is None:
                continue
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            touch = bid[0] if side is Side.BUY else ask[0]
            price = None if rng.random() < 0.15 else touch + int(rng.integers(-3, 4)) * side.sign
            tif = TimeInForce.GTC if price is None else TIFS[int(rng.integers(0, 4))]
            if not churn:
                price, tif = touch - int(rng.integers(0, 3)) * side.sign, TimeInForce.GTC
            link = f"o{len(prices)}"
            qty = int(rng.integers(1, 400))
            ex.place(OrderRequest(t, inst, side, qty, price, "rand", link, rng.random() < 0.1, tif))
            prices[link] = {price} if price is not None else set()
            placed_at[link] = t
        if not churn:
            continue
        for o in ex.open_orders():
            link, inst, r = o.request.link_id, o.request.instrument, rng.random()
            if r < 0.04:
                ex.cancel(inst, link, ts_ns=t)
            elif r < 0.06:
                ex.amend(inst, link, qty_lots=o.filled_lots + int(rng.integers(1, 300)), ts_ns=t)
            elif r < 0.08:
                new = o.request.price_ticks + int(rng.integers(-2, 3))
                ex.amend(inst, link, price_ticks=new, ts_ns=t)
                prices[link].add(new)
    ex.advance(int(msgs["exch_ts_ns"].max()) + 10**9)
    return ex, prices, placed_at


@pytest.mark.parametrize("model", [RiskAverseQueueModel(), ProbQueueModel(3)], ids=repr)
def test_invariants_over_a_synthetic_session(model):
    msgs, specs = session()
    ex, prices, placed_at = run(model, seed=3)
    fills = ex.executions()
    reports = ex.reports()
    assert ex.in_flight() == 0 and ex.reports() == []

    # the run is not vacuous
    maker = [f for f in fills if f.maker]
    taker = [f for f in fills if not f.maker]
    assert len(prices) > 500 and len(maker) > 50 and len(taker) > 50
    finals = {link: ex.order(link).status for link in prices}
    for status in (OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.FILLED):
        assert status in finals.values()

    # never overfilled: replay every order's fills through Order.with_fill
    by_link = defaultdict(list)
    for f in fills:
        by_link[f.link_id].append(f)
    for link in prices:
        final = ex.order(link)
        replay = Order(final.request, OrderStatus.ACCEPTED)
        for f in by_link[link]:
            replay = replay.with_fill(f)  # raises if it overfills or follows a terminal fill
        assert replay.filled_lots == final.filled_lots <= final.request.qty_lots
        assert replay.filled_cost == final.filled_cost
        if final.status is OrderStatus.FILLED:
            assert final.filled_lots == final.request.qty_lots

    # position is the sum of signed fills
    pos = defaultdict(int)
    for f in fills:
        pos[f.instrument] += f.side.sign * f.qty_lots
    assert ex.positions() == {i: p for i, p in pos.items() if p}

    # fees, exec ids and time order
    assert len({f.exec_id for f in fills}) == len(fills)
    for f in fills:
        assert f.fee == fee(BYBIT_VIP0, f.maker, f.qty_lots, f.price_ticks, specs[f.instrument])
    assert [f.ts_ns for f in fills] == sorted(f.ts_ns for f in fills)
    assert [r.ts_ns for r in reports] == sorted(r.ts_ns for r in reports)

    # every fill's price was on the book or traded, and respects the order
    inst, kind, side = msgs["instrument"], msgs["type"], msgs["side"]
    px, qty, ts = msgs["price"].astype(np.int64), msgs["qty"], msgs["exch_ts_ns"]
    for f in fills:
        buy = f.side is Side.BUY
        opposite = BookSide.ASK if buy else BookSide.BID
        mine = (inst == f.instrument) & (ts <= f.ts_ns)
        quoted = mine & (kind == MsgType.SET) & (side == opposite) & (qty > 0)
        if not f.maker:
            assert np.any(quoted & (px == f.price_ticks)), f
            limits = prices[f.link_id]
            if limits:
                assert any(f.price_ticks <= p if buy else f.price_ticks >= p for p in limits), f
            continue
        assert f.price_ticks in prices[f.link_id], f
        after = mine & (ts >= placed_at[f.link_id])
        through = px <= f.price_ticks if buy else px >= f.price_ticks
        traded = after & (kind == MsgType.TRADE) & (side == opposite) & through
        crossed = after & quoted & through
        assert np.any(traded | crossed), f

    # reports: one life per order, fills reported as executed
    assert [r.fill for r in reports if r.fill is not None] == fills
    seen = defaultdict(list)
    for r in reports:
        seen[r.link_id].append(r.status)
    assert set(seen) == set(prices)
    for link, life in seen.items():
        assert life[0] in (OrderStatus.ACCEPTED, OrderStatus.REJECTED), (link, life)
        ends = [i for i, s in enumerate(life) if s.terminal]
        assert ends == ([len(life) - 1] if finals[link].terminal else []), (link, life)
        assert life[-1] is finals[link]


def test_a_damaged_feed_is_survived():
    """Bad messages, sequence gaps and resync snapshots: skipped or rebuilt, never fatal."""
    msgs, sidecar = generate(
        SynthConfig(instruments=1, messages=15_000, levels=10, seed=4, faults=True)
    )
    spec = InstrumentSpec.from_sidecar(sidecar.instruments[0])
    ex = PaperExchange({0: spec}, queue_model=ProbQueueModel(2), latency=LATENCY, seed=1)
    for i, chunk in enumerate(np.array_split(msgs, 150)):
        ex.feed(chunk)
        bid = ex.book(0).best_bid()
        if bid is not None:
            t = int(chunk["recv_ts_ns"][-1])
            ex.place(OrderRequest(t, 0, Side.BUY, 50, bid[0], "d", f"b{i}"))
    ex.advance(int(msgs["exch_ts_ns"].max()) + 10**9)
    assert ex.bad_messages > 0
    assert ex.now == int(msgs["exch_ts_ns"].max()) + 10**9
    fills = ex.executions()
    assert any(f.maker for f in fills)
    for link in {f.link_id for f in fills}:
        assert sum(f.qty_lots for f in fills if f.link_id == link) <= 50
    assert ex.positions() == {0: sum(f.qty_lots for f in fills)}


def test_the_same_seed_gives_the_same_run():
    a, _, _ = run(ProbQueueModel(2), seed=8)
    b, _, _ = run(ProbQueueModel(2), seed=8)
    c, _, _ = run(ProbQueueModel(2), seed=9)
    assert a.executions() == b.executions()
    assert a.reports() == b.reports()
    assert a.positions() == b.positions()
    assert a.executions() != c.executions()


def test_probabilistic_queues_fill_no_later_than_risk_averse_ones():
    """Same passive orders, no cancels or amends: the feed's cancels help only prob."""
    lots, waited = {}, {}
    for model in (RiskAverseQueueModel(), ProbQueueModel(2)):
        ex, _, placed_at = run(model, seed=5, latency=LatencyModel(entry=1_000_000), churn=False)
        maker = [f for f in ex.executions() if f.maker]
        lots[repr(model)] = sum(f.qty_lots for f in maker)
        # lot-nanoseconds spent waiting in the queue before filling
        waited[repr(model)] = sum(f.qty_lots * (f.ts_ns - placed_at[f.link_id]) for f in maker)
    assert lots["ProbQueueModel(n=2)"] >= lots["RiskAverseQueueModel()"] > 0
    assert waited["ProbQueueModel(n=2)"] < waited["RiskAverseQueueModel()"]
