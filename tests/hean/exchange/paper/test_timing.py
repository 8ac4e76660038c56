"""Latency in the paper exchange: when requests arrive, when reports are seen, races."""

from __future__ import annotations

import numpy as np

from hean.domain import OrderStatus, Side
from hean.exchange.paper import Empirical, LatencyModel

from .helpers import ASK, BID, MS, T0, Tape, filled, make, order, statuses

BUY, SELL = Side.BUY, Side.SELL


def book(ex, ts=T0):
    tape = Tape(ex, ts)
    tape.snapshot([(100, 10)], [(101, 10)])
    return tape


def test_an_order_placed_at_t_arrives_at_t_plus_entry():
    ex = make(latency=LatencyModel(entry=2 * MS, response=1 * MS))
    book(ex)
    ack = ex.place(order("o", BUY, 1, price=100))
    assert ack.ts_ns == T0
    ex.advance(T0 + 2 * MS - 1)
    assert ex.in_flight() == 1 and ex.open_orders() == []
    assert ex.order("o").status is OrderStatus.NEW
    ex.advance(T0 + 2 * MS)
    assert ex.in_flight() == 0 and len(ex.open_orders()) == 1
    # the ACCEPTED report is stamped arrival + response and held back until then
    assert ex.reports() == []
    ex.advance(T0 + 3 * MS - 1)
    assert ex.reports() == []
    (rep,) = ex.reports(until_ns=T0 + 3 * MS)
    assert rep.status is OrderStatus.ACCEPTED and rep.ts_ns == T0 + 3 * MS
    assert ex.reports(until_ns=T0 + 10 * MS) == []  # each report is returned once


def test_the_order_meets_the_book_as_it_is_on_arrival():
    ex = make(latency=LatencyModel(entry=1 * MS))
    tape = book(ex)
    ex.place(order("m", BUY, 5))
    tape.set(ASK, 101, 0, ts=T0 + MS // 2)  # the ask is gone before we get there
    tape.set(ASK, 103, 7, ts=T0 + MS // 2)
    tape.set(BID, 99, 1, ts=T0 + 2 * MS)  # the clock passes the arrival
    (f,) = ex.executions()
    assert (f.price_ticks, f.qty_lots, f.ts_ns) == (103, 5, T0 + MS)


def test_an_order_arriving_with_an_update_sees_the_whole_update():
    ex = make(latency=LatencyModel(entry=1 * MS))
    tape = book(ex)
    ex.place(order("m", BUY, 5))
    # two messages of one update stamped exactly at the arrival time: both go first
    tape.set(ASK, 101, 0, ts=T0 + MS, end=False)
    tape.set(ASK, 102, 9, ts=T0 + MS)
    ex.advance(T0 + MS)
    assert [(f.price_ticks, f.ts_ns) for f in ex.executions()] == [(102, T0 + MS)]


def test_the_strategy_time_of_a_request_counts():
    ex = make(latency=LatencyModel(entry=1 * MS))
    book(ex)
    ack = ex.place(order("o", BUY, 1, price=100, ts=T0 + 5 * MS))  # seen at recv time
    assert ack.ts_ns == T0 + 5 * MS
    ex.advance(T0 + 6 * MS - 1)
    assert ex.order("o").status is OrderStatus.NEW
    ex.advance(T0 + 6 * MS)
    assert ex.order("o").status is OrderStatus.ACCEPTED


def test_a_fill_before_the_cancel_arrives_wins():
    ex = make(latency=LatencyModel(entry=2 * MS))
    tape = book(ex)
    ex.place(order("o", BUY, 4, price=100))
    tape.set(BID, 100, 0, ts=T0 + 3 * MS)  # the order arrived at +2 ms, alone at 100
    ex.cancel(0, "o")  # sent at +3 ms, arrives at +5 ms
    tape.trade(ASK, 100, 10, ts=T0 + 4 * MS)
    ex.advance(T0 + 10 * MS)
    assert filled(ex, "o") == 4
    assert statuses(ex.reports(), "o") == [OrderStatus.ACCEPTED, OrderStatus.FILLED]


def test_a_cancel_arriving_first_wins():
    ex = make(latency=LatencyModel(entry=2 * MS))
    tape = book(ex)
    ex.place(order("o", BUY, 4, price=100))
    tape.set(BID, 100, 0, ts=T0 + 3 * MS)
    ex.cancel(0, "o")  # arrives at +5 ms
    tape.trade(ASK, 100, 10, ts=T0 + 6 * MS)
    ex.advance(T0 + 10 * MS)
    assert filled(ex, "o") == 0
    assert statuses(ex.reports(), "o") == [OrderStatus.ACCEPTED, OrderStatus.CANCELLED]


def test_cancel_before_arrival_works():
    ex = make(latency=LatencyModel(entry=2 * MS))
    tape = book(ex)
    ex.place(order("o", BUY, 4, price=100))
    ex.cancel(0, "o")  # while the order is still on its way
    tape.trade(ASK, 100, 50, ts=T0 + 10 * MS)
    assert filled(ex, "o") == 0
    assert ex.order("o").status is OrderStatus.CANCELLED


def test_requests_never_overtake_each_other():
    """With random entry latencies, a cancel never reaches the engine before its order."""
    lat = LatencyModel(entry=Empirical(np.array([5, 100, 2_000, 90_000]) * 1000), response=7)
    ex = make(latency=lat, seed=4)
    tape = book(ex)
    for i in range(200):
        ex.place(order(f"o{i}", BUY, 1, price=90, ts=T0 + i * 1000))
        ex.cancel(0, f"o{i}", ts_ns=T0 + i * 1000)
    tape.set(BID, 99, 1, ts=T0 + MS * 1000)
    reports = ex.reports()
    assert len(reports) == 400
    for i in range(200):
        assert statuses(reports, f"o{i}") == [OrderStatus.ACCEPTED, OrderStatus.CANCELLED]
    stamps = [r.ts_ns for r in reports]
    assert stamps == sorted(stamps)


def test_feed_latency_is_measured():
    ex = make()
    book(ex)  # the tape stamps every message 0.5 ms after its exchange time
    s = ex.feed_latency.summary()
    assert s.count == 3 and s.min_ns == s.max_ns == 500_000


def test_same_seed_same_run_other_seed_other_run():
    def run(seed):
        lat = LatencyModel(entry=Empirical([1 * MS, 3 * MS, 7 * MS]), response=Empirical([1, 9]))
        ex = make(latency=lat, seed=seed)
        tape = book(ex)
        for i in range(30):
            ex.place(order(f"b{i}", BUY, 2, price=100, ts=T0 + i * MS))
            ex.place(order(f"s{i}", SELL, 3, ts=T0 + i * MS))
            tape.set(BID, 100, 10 + i % 5, ts=T0 + i * MS + MS // 2)
            tape.set(ASK, 101 + i % 3, 4, ts=T0 + i * MS + MS // 2)
            tape.trade(ASK, 100, 3, ts=T0 + i * MS + MS // 2)
        ex.advance(T0 + 100 * MS)
        return ex.executions(), ex.reports()

    fills_a, reports_a = run(1)
    fills_b, reports_b = run(1)
    assert fills_a == fills_b and reports_a == reports_b
    assert len(fills_a) > 30
    _, reports_c = run(2)
    assert [r.ts_ns for r in reports_c] != [r.ts_ns for r in reports_a]
