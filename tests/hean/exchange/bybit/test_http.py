"""The adapter through pybit's real signing and parsing, against a Bybit on loopback."""

from __future__ import annotations

import hashlib
import hmac
import logging
import socket
import time
from decimal import Decimal

import pytest
from pybit.unified_trading import HTTP

from hean.domain import OrderRequest, OrderStatus, Side, TimeInForce
from hean.exchange.base import (
    AuthError,
    DuplicateOrderError,
    ExchangeError,
    FeeRates,
    InsufficientBalanceError,
    OrderNotFoundError,
    RateLimitError,
    UnavailableError,
)
from hean.exchange.bybit import BybitExchange
from tests.hean.exchange.bybit.conftest import BTC, ETH, INSTRUMENTS, KEY, SECRET, loopback_session
from tests.hean.exchange.bybit.fake_bybit import FakeBybit

CREATE = "/v5/order/create"


def limit(link: str = "hean-t-1", lots: int = 250, ticks: int = 270000, **kw) -> OrderRequest:
    return OrderRequest(time.time_ns(), BTC.id, Side.BUY, lots, ticks, "impulse", link, **kw)


def no_secrets(err: BaseException) -> None:
    """Neither key nor secret in the error, its repr, or anything it was raised from."""
    e: BaseException | None = err
    while e is not None:
        for text in (str(e), repr(e), repr(e.args)):
            assert KEY not in text and SECRET not in text
        e = e.__cause__ or e.__context__


def test_place_is_signed_as_bybit_documents(fake: FakeBybit, bybit: BybitExchange) -> None:
    ack = bybit.place(limit(tif=TimeInForce.POST_ONLY))
    (seen,) = fake.calls(CREATE)
    assert seen.method == "POST" and seen.signed
    h = seen.headers
    assert h["X-BAPI-API-KEY"] == KEY and h["X-BAPI-RECV-WINDOW"] == "5000"
    assert (
        h["X-BAPI-SIGN-TYPE"] == "2" and abs(int(h["X-BAPI-TIMESTAMP"]) - time.time() * 1000) < 5000
    )
    assert len(h["X-BAPI-SIGN"]) == 64
    assert seen.params == {
        "category": "linear",
        "symbol": "BTCUSDT",
        "side": "Buy",
        "orderType": "Limit",
        "qty": "0.250",
        "orderLinkId": "hean-t-1",
        "reduceOnly": False,
        "price": "27000.00",
        "timeInForce": "PostOnly",
    }
    assert ack.order_id == fake.orders["hean-t-1"]["orderId"] and ack.link_id == "hean-t-1"


def test_the_server_checks_signatures_for_real(fake: FakeBybit) -> None:
    """The fake's HMAC check is not a rubber stamp: the same body with another secret fails."""
    bad = HTTP(testnet=True, api_key=KEY, api_secret="not-the-secret", timeout=2)
    bad.endpoint = fake.url
    ex = BybitExchange(INSTRUMENTS, session=bad)
    with pytest.raises(AuthError, match="error sign") as info:
        ex.place(limit())
    assert info.value.code == 10004 and not fake.orders
    no_secrets(info.value)
    (seen,) = fake.calls(CREATE)
    signed = f"{seen.headers['X-BAPI-TIMESTAMP']}{KEY}5000{seen.payload}".encode()
    sign = seen.headers["X-BAPI-SIGN"]
    assert sign == hmac.new(b"not-the-secret", signed, hashlib.sha256).hexdigest()
    assert sign != hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    assert not seen.signed


def test_a_wrong_key_is_an_auth_error(fake: FakeBybit) -> None:
    other = HTTP(testnet=True, api_key="someone-else", api_secret=SECRET, timeout=2)
    other.endpoint = fake.url
    with pytest.raises(AuthError) as info:
        BybitExchange(INSTRUMENTS, session=other).positions()
    assert info.value.code == 10003


def test_every_call_is_signed_get_and_post(fake: FakeBybit, bybit: BybitExchange) -> None:
    bybit.place(limit())
    bybit.amend(BTC.id, "hean-t-1", qty_lots=300, price_ticks=269990)
    assert fake.orders["hean-t-1"]["qty"] == "0.300"
    assert fake.orders["hean-t-1"]["price"] == "26999.00"
    bybit.open_orders()
    bybit.open_orders(BTC.id)
    bybit.positions()
    bybit.executions(time.time_ns() - 3600 * 10**9)
    bybit.fee_rates(ETH.id)
    bybit.cancel(BTC.id, "hean-t-1")
    assert fake.orders["hean-t-1"]["orderStatus"] == "Cancelled"
    paths = {s.path for s in fake.seen}
    assert {
        "/v5/order/amend",
        "/v5/order/cancel",
        "/v5/order/realtime",
        "/v5/position/list",
        "/v5/execution/list",
        "/v5/account/fee-rate",
        CREATE,
    } <= paths
    assert all(s.signed for s in fake.seen)


def test_unknown_orders(fake: FakeBybit, bybit: BybitExchange) -> None:
    with pytest.raises(OrderNotFoundError, match="too late to cancel") as info:
        bybit.cancel(BTC.id, "never-placed")
    assert info.value.code == 110001 and not info.value.retryable
    with pytest.raises(OrderNotFoundError, match="too late to replace"):
        bybit.amend(BTC.id, "never-placed", price_ticks=1)


def test_rate_limit_is_raised_at_once_not_slept_on(fake: FakeBybit, bybit: BybitExchange) -> None:
    fake.fail(CREATE, retcode=10006, msg="Too many visits!")
    t0 = time.monotonic()
    with pytest.raises(RateLimitError, match="Too many visits") as info:
        bybit.place(limit())
    # pybit's default would sleep until the reset time (2 s without the header) and resend.
    assert time.monotonic() - t0 < 1.0
    assert info.value.code == 10006 and info.value.retryable
    assert len(fake.calls(CREATE)) == 1 and not fake.orders


def test_ip_rate_limit(fake: FakeBybit, bybit: BybitExchange) -> None:
    fake.fail("/v5/position/list", retcode=10018, msg="Exceeded the IP Rate Limit")
    with pytest.raises(RateLimitError):
        bybit.positions()


def test_insufficient_balance(fake: FakeBybit, bybit: BybitExchange) -> None:
    fake.balance_ok = False
    with pytest.raises(InsufficientBalanceError) as info:
        bybit.place(limit())
    assert info.value.code == 110007 and not fake.orders


def test_a_duplicate_link_id_never_makes_a_second_order(
    fake: FakeBybit, bybit: BybitExchange
) -> None:
    bybit.place(limit())
    with pytest.raises(DuplicateOrderError, match="duplicate") as info:
        bybit.place(limit(lots=999))
    assert info.value.code == 110072
    assert len(fake.calls(CREATE)) == 2 and len(fake.orders) == 1
    assert fake.orders["hean-t-1"]["qty"] == "0.250"


def test_http_500_is_unavailable(fake: FakeBybit, bybit: BybitExchange) -> None:
    fake.fail(CREATE, http=500)
    with pytest.raises(UnavailableError, match="HTTP 500") as info:
        bybit.place(limit())
    assert info.value.code == 500 and info.value.retryable
    assert len(fake.calls(CREATE)) == 1  # pybit did not resend
    no_secrets(info.value)


def test_no_answer_is_a_timeout_and_unavailable(fake: FakeBybit) -> None:
    ex = BybitExchange(INSTRUMENTS, session=loopback_session(fake, timeout=0.3))
    fake.fail(CREATE, hang_s=5.0)
    t0 = time.monotonic()
    with pytest.raises(UnavailableError, match="no answer in time") as info:
        ex.place(limit())
    assert time.monotonic() - t0 < 2.0 and info.value.retryable
    assert len(fake.calls(CREATE)) == 1 and not fake.orders
    no_secrets(info.value)


def test_a_lost_answer_then_a_retry(fake: FakeBybit) -> None:
    """The order is made but its answer never comes; the retry with the same link id is
    refused as a duplicate, Bybit holds one order, and reports() finds it."""
    ex = BybitExchange(INSTRUMENTS, session=loopback_session(fake, timeout=0.3))
    fake.fail(CREATE, hang_s=5.0, after=True)
    with pytest.raises(UnavailableError):
        ex.place(limit())
    with pytest.raises(DuplicateOrderError):
        ex.place(limit())
    assert len(fake.orders) == 1 and len(fake.calls(CREATE)) == 2
    (report,) = ex.reports()
    assert (report.link_id, report.status) == ("hean-t-1", OrderStatus.ACCEPTED)


def test_a_closed_port_is_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    session = HTTP(testnet=True, api_key=KEY, api_secret=SECRET, timeout=1)
    session.endpoint = f"http://127.0.0.1:{port}"
    with pytest.raises(UnavailableError, match="connection failed") as info:
        BybitExchange(INSTRUMENTS, session=session).positions()
    no_secrets(info.value)


def test_failures_never_log_the_keys(
    fake: FakeBybit, bybit: BybitExchange, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.fail(CREATE, http=500)
    fake.fail("/v5/position/list", retcode=10006, msg="Too many visits!")
    for call in (lambda: bybit.place(limit()), bybit.positions, lambda: bybit.cancel(BTC.id, "x")):
        with pytest.raises(ExchangeError):
            call()
    bybit.place(limit("hean-t-2"))
    text = caplog.text + "".join(repr(r.args) for r in caplog.records)
    assert KEY not in text and SECRET not in text


def test_pagination_over_the_wire(fake: FakeBybit, bybit: BybitExchange) -> None:
    fake.page_cap = 2
    for i in range(5):
        bybit.place(limit(f"hean-p-{i}", ticks=260000 + i))
    orders = bybit.open_orders()
    assert sorted(o.request.link_id for o in orders) == [f"hean-p-{i}" for i in range(5)]
    pages = fake.calls("/v5/order/realtime")
    assert len(pages) == 3 and all(p.signed for p in pages)
    # pybit puts Bybit's cursor into the signed query string verbatim (still encoded).
    assert "cursor" not in pages[0].params
    assert "cursor=page_args%3D2%26direction%3Dnext" in pages[1].payload
    assert pages[2].params["cursor"] == "page_args=4&direction=next"


def test_positions_and_fills_over_the_wire(fake: FakeBybit, bybit: BybitExchange) -> None:
    fake.page_cap = 1
    since = time.time_ns() - 10**9
    bybit.place(limit("hean-b", lots=250))
    fake.fill("hean-b", "0.100", "27000.00")
    fake.fill("hean-b", "0.150", "26999.90", maker=False)
    bybit.place(OrderRequest(1, ETH.id, Side.SELL, 30, None, "impulse", "hean-e"))
    assert bybit.positions() == {BTC.id: 250, ETH.id: -30}
    fills = bybit.executions(since)
    assert [(f.link_id, f.qty_lots, f.price_ticks, f.maker) for f in fills] == [
        ("hean-b", 100, 270000, True),
        ("hean-b", 150, 269999, False),
        ("hean-e", 30, 160000, False),
    ]
    assert fills[0].fee == Decimal("0.100") * Decimal("27000.00") * Decimal("0.0002")
    assert len({f.exec_id for f in fills}) == 3
    assert len(fake.calls("/v5/execution/list")) == 3  # one entry per page


def test_fee_rates_over_the_wire(fake: FakeBybit, bybit: BybitExchange) -> None:
    fake.fees["BTCUSDT"] = ("0.00018", "0.0005")
    assert bybit.fee_rates(BTC.id) == FeeRates(Decimal("0.00018"), Decimal("0.0005"))
