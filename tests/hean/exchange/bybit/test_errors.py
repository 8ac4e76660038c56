"""retCodes, HTTP failures and network errors as the exception classes of base.py."""

from __future__ import annotations

import pytest
import requests
from pybit.exceptions import FailedRequestError, InvalidRequestError

from hean.domain import OrderRequest, Side
from hean.exchange.base import (
    AuthError,
    DuplicateOrderError,
    ExchangeError,
    InsufficientBalanceError,
    OrderNotFoundError,
    RateLimitError,
    RejectedError,
    UnavailableError,
)
from hean.exchange.bybit import BybitExchange
from hean.exchange.bybit.errors import RETCODES, from_http_status, from_retcode, translate
from tests.hean.exchange.bybit.conftest import BTC, INSTRUMENTS, FixtureSession


def invalid(code: int, msg: str = "Bybit says no") -> InvalidRequestError:
    """What pybit raises for a retCode != 0 (same arguments as _handle_response)."""
    return InvalidRequestError(
        request="POST /v5/order/create: {}",
        message=msg,
        status_code=code,
        time="12:00:00",
        resp_headers={},
    )


def failed(status: int, msg: str = "HTTP status code is not 200.") -> FailedRequestError:
    return FailedRequestError(
        request="GET /v5/order/realtime: x",
        message=msg,
        status_code=status,
        time="12:00:00",
        resp_headers=None,
    )


@pytest.mark.parametrize(
    ("code", "cls", "retryable"),
    [
        (10000, UnavailableError, True),
        (10001, RejectedError, False),
        (10002, RejectedError, True),
        (10003, AuthError, False),
        (10004, AuthError, False),
        (10005, AuthError, False),
        (10006, RateLimitError, True),
        (10007, AuthError, False),
        (10009, AuthError, False),
        (10010, AuthError, False),
        (10016, UnavailableError, True),
        (10018, RateLimitError, True),
        (33004, AuthError, False),
        (110001, OrderNotFoundError, False),
        (110004, InsufficientBalanceError, False),
        (110007, InsufficientBalanceError, False),
        (110008, OrderNotFoundError, False),
        (110012, InsufficientBalanceError, False),
        (110072, DuplicateOrderError, False),
        (110003, RejectedError, False),  # price out of range: not in the table
        (110017, RejectedError, False),  # reduce-only not satisfied
        (110094, RejectedError, False),  # notional too low
        (999999, RejectedError, False),  # unheard of
    ],
)
def test_retcodes(code: int, cls: type, retryable: bool) -> None:
    err = translate(invalid(code, "the message"), "place BTCUSDT x")
    assert type(err) is cls and err.code == code and err.retryable is retryable
    assert err.message == "Bybit place BTCUSDT x: the message"
    assert str(err) == f"Bybit place BTCUSDT x: the message (code {code})"


def test_the_table_covers_the_brief() -> None:
    for code in (10006, 10018, 10003, 10004, 10005, 33004, 110007, 110072, 110001, 10001):
        assert code in RETCODES
    assert from_retcode(10001, "x", "y").__class__ is RejectedError


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, AuthError),
        (403, RateLimitError),
        (429, RateLimitError),
        (400, RejectedError),
        (404, RejectedError),
        (409, UnavailableError),
        (500, UnavailableError),
        (502, UnavailableError),
        (503, UnavailableError),
    ],
)
def test_http_statuses(status: int, cls: type) -> None:
    err = translate(failed(status), "open orders")
    assert type(err) is cls and err.code == status and f"HTTP {status}" in err.message
    assert from_http_status(status, "m", "w").__class__ is cls


@pytest.mark.parametrize(
    "exc",
    [
        requests.exceptions.ReadTimeout("read timed out"),
        requests.exceptions.ConnectTimeout(),
        requests.exceptions.ConnectionError("refused"),
        requests.exceptions.SSLError("bad"),
    ],
)
def test_network_failures_are_unavailable(exc: Exception) -> None:
    err = translate(exc, "place BTCUSDT x")
    assert isinstance(err, UnavailableError) and err.retryable


def test_what_is_not_a_failed_request_is_left_alone() -> None:
    assert translate(KeyError("x"), "w") is None
    assert isinstance(
        translate(PermissionError("Authenticated endpoints require keys."), "w"), AuthError
    )


def order() -> OrderRequest:
    return OrderRequest(1, BTC.id, Side.BUY, 1, 270000, "s", "hean-x-1")


def test_the_adapter_raises_the_mapped_error_chained_to_pybits() -> None:
    session = FixtureSession(place_order=invalid(110007, "ab not enough for new order"))
    ex = BybitExchange(INSTRUMENTS, session=session)
    with pytest.raises(InsufficientBalanceError, match="ab not enough") as info:
        ex.place(order())
    assert isinstance(info.value.__cause__, InvalidRequestError)
    assert isinstance(info.value, ExchangeError) and not info.value.retryable


def test_a_bug_is_not_dressed_up_as_an_exchange_error() -> None:
    ex = BybitExchange(INSTRUMENTS, session=FixtureSession(place_order=TypeError("bug")))
    with pytest.raises(TypeError, match="bug"):
        ex.place(order())
