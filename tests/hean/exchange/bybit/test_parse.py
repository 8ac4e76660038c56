"""Recorded V5 answers (shaped like the API docs' examples) through the adapter, exactly."""

from __future__ import annotations

import itertools
import time
from decimal import Decimal

import pytest

from hean.domain import InstrumentSpec, OrderRequest, OrderStatus, Side, TimeInForce
from hean.exchange.base import Exchange, FeeRates
from hean.exchange.bybit import BadResponseError, BybitExchange, parse
from hean.exchange.bybit.rest import WEEK_MS
from tests.hean.exchange.bybit.conftest import BTC, ETH, INSTRUMENTS, FixtureSession, recorded


def exchange(**answers) -> tuple[BybitExchange, FixtureSession]:
    session = FixtureSession(**answers)
    return BybitExchange(INSTRUMENTS, session=session), session


def test_is_an_exchange() -> None:
    ex, _ = exchange()
    assert isinstance(ex, Exchange)
    assert ex.name == "bybit-testnet"


def test_place_limit_sends_exact_decimals_and_reads_the_ack() -> None:
    ex, session = exchange(place_order=recorded("place_order"))
    req = OrderRequest(
        1,
        BTC.id,
        Side.SELL,
        250,
        274505,
        "impulse",
        "hean-impulse-000001",
        reduce_only=True,
        tif=TimeInForce.POST_ONLY,
    )
    ack = ex.place(req)
    assert session.calls == [
        (
            "place_order",
            {
                "category": "linear",
                "symbol": "BTCUSDT",
                "side": "Sell",
                "orderType": "Limit",
                "qty": "0.250",
                "price": "27450.50",
                "timeInForce": "PostOnly",
                "orderLinkId": "hean-impulse-000001",
                "reduceOnly": True,
            },
        )
    ]
    assert ack.order_id == "1321003749386327552"
    assert ack.link_id == "hean-impulse-000001"
    assert ack.ts_ns == 1672211918471 * 1_000_000


def test_place_market_has_no_price_and_no_time_in_force() -> None:
    ex, session = exchange(place_order=recorded("place_order"))
    ex.place(OrderRequest(1, ETH.id, Side.BUY, 150, None, "impulse", "hean-impulse-000001"))
    params = session.calls[0][1]
    assert params["orderType"] == "Market" and params["qty"] == "1.50"
    assert "price" not in params and "timeInForce" not in params


def test_decimals_go_out_in_plain_notation() -> None:
    tiny = InstrumentSpec(7, "PEPEUSDT", Decimal("1E-7"), Decimal("100"))
    assert parse.price_str(tiny, 1) == "0.0000001"
    assert parse.price_str(tiny, 12345) == "0.0012345"
    assert parse.qty_str(tiny, 3) == "300"
    assert parse.price_str(BTC, 10) == "1.00"


def test_amend_and_cancel_by_link_id() -> None:
    ex, session = exchange(
        amend_order=recorded("amend_order"), cancel_order=recorded("cancel_order")
    )
    ack = ex.amend(ETH.id, "hean-impulse-000002", qty_lots=25, price_ticks=160150)
    assert session.calls[0] == (
        "amend_order",
        {
            "category": "linear",
            "symbol": "ETHUSDT",
            "orderLinkId": "hean-impulse-000002",
            "qty": "0.25",
            "price": "1601.50",
        },
    )
    assert ack.order_id == "c6f055d9-7f21-4079-913d-e6523a9cfffa"
    ack = ex.cancel(ETH.id, "hean-impulse-000002")
    assert session.calls[1] == (
        "cancel_order",
        {"category": "linear", "symbol": "ETHUSDT", "orderLinkId": "hean-impulse-000002"},
    )
    assert ack.ts_ns == 1672217377164 * 1_000_000


def test_amend_needs_something_positive_to_change() -> None:
    ex, session = exchange(amend_order=recorded("amend_order"))
    for kwargs in ({}, {"qty_lots": 0}, {"price_ticks": -1}):
        with pytest.raises(Exception, match="amend"):
            ex.amend(ETH.id, "x", **kwargs)
    assert session.calls == []


def test_open_orders_exactly() -> None:
    ex, session = exchange(get_open_orders=recorded("open_orders"))
    orders = ex.open_orders()
    assert session.calls == [
        ("get_open_orders", {"category": "linear", "limit": 50, "settleCoin": "USDT"})
    ]
    assert len(orders) == 2  # the third has no orderLinkId: not HEAN's
    eth, btc = orders
    assert eth.request == OrderRequest(
        1684738540559 * 1_000_000,
        ETH.id,
        Side.BUY,
        10,
        160000,
        "",
        "hean-impulse-000005",
        False,
        TimeInForce.POST_ONLY,
    )
    assert (eth.status, eth.filled_lots, eth.filled_cost) == (OrderStatus.ACCEPTED, 0, 0)
    assert btc.request.price_ticks == 274505 and btc.request.qty_lots == 250
    assert btc.request.reduce_only and btc.request.side is Side.SELL
    assert btc.status is OrderStatus.PARTIALLY_FILLED
    assert (btc.filled_lots, btc.filled_cost) == (100, 100 * 274505)
    assert btc.avg_fill_ticks == 274505


def test_open_orders_of_one_instrument() -> None:
    ex, session = exchange(get_open_orders=recorded("open_orders"))
    ex.open_orders(ETH.id)
    assert session.calls[0][1] == {"category": "linear", "limit": 50, "symbol": "ETHUSDT"}


def test_a_price_off_the_tick_grid_is_a_clear_error() -> None:
    answer = recorded("open_orders")
    answer["result"]["list"][0]["price"] = "1600.005"
    ex, _ = exchange(get_open_orders=answer)
    with pytest.raises(
        BadResponseError, match=r"ETHUSDT price 1600\.005 is not a multiple of 0\.01"
    ):
        ex.open_orders()


def test_a_size_off_the_lot_grid_is_a_clear_error() -> None:
    answer = recorded("executions")
    answer["result"]["list"][2]["execQty"] = "0.0015"
    ex, _ = exchange(get_executions=answer)
    with pytest.raises(BadResponseError, match=r"BTCUSDT size 0\.0015 is not a multiple of 0\.001"):
        ex.executions(time.time_ns() - 3600 * 10**9)


def test_order_history_entries() -> None:
    listed = parse.entries(parse.result(recorded("order_history"), "history"), "history")
    cancelled, _ = parse.order(BTC, listed[0])
    assert cancelled.status is OrderStatus.CANCELLED and parse.reason(listed[0]) == "CancelByUser"
    assert (cancelled.filled_lots, cancelled.filled_cost) == (1, 268644)
    filled, order_id = parse.order(ETH, listed[1])
    assert order_id == "e0cbe81d-0f18-5866-9415-cf319b5dab3c"
    assert filled.request.price_ticks is None and filled.request.tif is TimeInForce.IOC
    assert (filled.status, filled.filled_lots, filled.filled_cost) == (
        OrderStatus.FILLED,
        50,
        50 * 119015,
    )
    rejected, _ = parse.order(ETH, listed[2])
    assert rejected.status is OrderStatus.REJECTED
    assert parse.reason(listed[2]) == "EC_PostOnlyWillTakeLiquidity"


def test_every_bybit_status_has_a_hean_status() -> None:
    entry = parse.entries(parse.result(recorded("order_history"), "h"), "h")[0]
    for bybit, hean in parse.STATUSES.items():
        entry["orderStatus"] = bybit
        assert parse.order(BTC, entry)[0].status is hean
    entry["orderStatus"] = "Exploded"
    with pytest.raises(BadResponseError, match="unknown orderStatus 'Exploded'"):
        parse.order(BTC, entry)


def test_positions_signed_and_netted() -> None:
    ex, session = exchange(get_positions=recorded("positions"))
    # BTC short 0.300; ETH in hedge mode: 1.50 long and 0.40 short; SOL is not configured.
    assert ex.positions() == {BTC.id: -300, ETH.id: 110}
    assert session.calls[0][1] == {"category": "linear", "settleCoin": "USDT", "limit": 200}


def test_executions_as_fills_oldest_first_without_funding() -> None:
    ex, session = exchange(get_executions=recorded("executions"))
    since = 1672271000123 * 1_000_000
    with pytest.MonkeyPatch.context() as mp:  # "now" just after the recorded executions
        mp.setattr(time, "time_ns", lambda: 1672283754510 * 1_000_000)
        fills = ex.executions(since)
    assert [f.exec_id for f in fills] == [
        "5b9c3a1f-7d2e-5f4a-9c8b-1e2d3f4a5b6c",
        "e0cbe81d-0f18-5866-9415-cf319b5dab3b",
    ]
    btc, eth = fills
    assert (btc.instrument, btc.side, btc.qty_lots, btc.price_ticks) == (
        BTC.id,
        Side.BUY,
        1,
        268644,
    )
    assert btc.fee == Decimal("-0.00268644") and btc.maker  # a maker rebate
    assert btc.link_id == "hean-impulse-000007" and btc.ts_ns == since
    assert (eth.qty_lots, eth.price_ticks, eth.fee, eth.maker) == (
        50,
        119015,
        Decimal("0.32729125"),
        False,
    )
    params = session.calls[0][1]
    assert params["startTime"] == 1672271000123 and params["endTime"] == 1672283754510


def test_executions_read_week_by_week() -> None:
    empty = recorded("executions")
    empty["result"]["list"] = []
    ex, session = exchange(get_executions=empty)
    now_ms = 1_700_000_000_000
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(time, "time_ns", lambda: now_ms * 1_000_000)
        ex.executions((now_ms - 20 * 24 * 3600 * 1000) * 1_000_000)
    spans = [(c[1]["startTime"], c[1]["endTime"]) for c in session.calls]
    assert len(spans) == 3 and spans[0][0] == now_ms - 20 * 24 * 3600 * 1000
    assert spans[-1][1] == now_ms
    assert all(hi - lo <= WEEK_MS for lo, hi in spans)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))


def test_fee_rates() -> None:
    ex, session = exchange(get_fee_rates=recorded("fee_rate"))
    assert ex.fee_rates(ETH.id) == FeeRates(maker=Decimal("0.0001"), taker=Decimal("0.0006"))
    assert session.calls == [("get_fee_rates", {"category": "linear", "symbol": "ETHUSDT"})]
    with pytest.raises(BadResponseError, match="no rates for BTCUSDT"):
        ex.fee_rates(BTC.id)


def test_pages_follow_the_cursor() -> None:
    first, second = recorded("order_history"), recorded("open_orders")
    first["result"]["list"] = []
    first["result"]["nextPageCursor"] = "page_args%3Dfd4300ae%26symbol%3D6%26"
    ex, session = exchange(get_open_orders=[first, second])
    assert len(ex.open_orders()) == 2
    assert "cursor" not in session.calls[0][1]
    assert session.calls[1][1]["cursor"] == "page_args%3Dfd4300ae%26symbol%3D6%26"


def test_a_repeating_cursor_is_an_error() -> None:
    page = recorded("open_orders")
    page["result"]["nextPageCursor"] = "same"
    ex, _ = exchange(get_open_orders=page)
    with pytest.raises(BadResponseError, match="cursor 'same' repeats"):
        ex.open_orders()


def test_answers_of_the_wrong_shape() -> None:
    for bad in ({"retCode": 0, "retMsg": "OK"}, {"retCode": 0, "result": {"list": "x"}}, "text"):
        ex, _ = exchange(get_positions=bad)
        with pytest.raises(BadResponseError):
            ex.positions()


def test_an_unconfigured_instrument_is_refused_before_any_request() -> None:
    ex, session = exchange(place_order=recorded("place_order"))
    with pytest.raises(Exception, match="instrument 9 is not configured"):
        ex.place(OrderRequest(1, 9, Side.BUY, 1, 1, "s", "link"))
    assert session.calls == []
