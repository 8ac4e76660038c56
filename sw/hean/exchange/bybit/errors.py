"""Bybit failures as the :mod:`hean.exchange.base` exception classes.

pybit reports three kinds of failure, and :func:`translate` turns each into an
:class:`~hean.exchange.base.ExchangeError`:

* ``pybit.exceptions.InvalidRequestError``: Bybit answered with ``retCode != 0``. Its
  ``status_code`` is the ``retCode`` and ``message`` the ``retMsg``.
* ``pybit.exceptions.FailedRequestError``: the HTTP status was not 200 (``status_code``
  is then the HTTP status), or the body was not JSON (pybit uses 409 for that).
* ``requests`` exceptions (timeouts, refused or dropped connections), which pybit lets
  through unchanged when it is not told to retry them (see :mod:`.rest`).

``retCode`` values (meanings from Bybit's V5 error-code page, "UTA" section):

========  ===================================================  ==========================
retCode   Bybit's meaning                                      raised as
========  ===================================================  ==========================
10000     Server Timeout                                       UnavailableError
10001     Request parameter error                              RejectedError
10002     The request time exceeds the time window range       RejectedError (retryable)
10003     API key is invalid (or of another environment)       AuthError
10004     Error sign (signature)                               AuthError
10005     Permission denied (key permissions)                  AuthError
10006     Too many visits: exceeded the API rate limit         RateLimitError
10007     User authentication failed                           AuthError
10009     IP has been banned                                   AuthError
10010     Unmatched IP (not bound to the key)                  AuthError
10016     Server error                                         UnavailableError
10018     Exceeded the IP rate limit                           RateLimitError
33004     (Derivatives) your API key has expired               AuthError
110001    Order does not exist                                 OrderNotFoundError
110004    Wallet balance is insufficient                       InsufficientBalanceError
110007    Available balance is insufficient                    InsufficientBalanceError
110008    The order has been completed or cancelled            OrderNotFoundError
110012    Insufficient available balance                       InsufficientBalanceError
110072    OrderLinkedID is duplicate                           DuplicateOrderError
any other (10027 trading banned, 110003 price out of range,    RejectedError
          110017 reduce-only not satisfied, 110094 notional
          too low, ...)
========  ===================================================  ==========================

The 10xxx and 33004 meanings were checked against the page itself; for the 110xxx
codes the copy of the page at hand stopped short, and they were checked against another
listing of the same codes published by Bybit, except 110012: its meaning above could not
be confirmed from a document here, and it is mapped as a balance error on that reading.

HTTP failures: 401 is an AuthError; 403 (Bybit: IP rate limit breached, or a
forbidden region) and 429 (system-level frequency protection) are RateLimitErrors;
400 and 404 (the request never reached the trading service) are RejectedErrors;
5xx, an undecodable body and anything else are UnavailableErrors.

An UnavailableError after :meth:`place` means the outcome is unknown: the order may
exist. The ``orderLinkId`` makes a second try safe (Bybit answers 110072 if the first
went through), and :meth:`hean.exchange.bybit.BybitExchange.reports` finds the order.

Messages carry the operation, Bybit's ``retMsg`` and code, never a key: pybit's own
exception text (the request line and body) holds no credentials either, as the keys
travel only in headers, but it is kept out of the message all the same.
"""

from __future__ import annotations

import requests
from pybit.exceptions import FailedRequestError, InvalidRequestError

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


class BadResponseError(ExchangeError):
    """Bybit answered something this adapter cannot read (a missing field, a price off
    the instrument's tick grid, a size off its lot grid, an endless cursor)."""


#: retCode -> (exception class, retryable override or None for the class default).
RETCODES: dict[int, tuple[type[ExchangeError], bool | None]] = {
    10000: (UnavailableError, None),
    10001: (RejectedError, None),
    # Refused before processing because of clock drift: the same request, re-signed
    # with a fresh timestamp, can succeed.
    10002: (RejectedError, True),
    10003: (AuthError, None),
    10004: (AuthError, None),
    10005: (AuthError, None),
    10006: (RateLimitError, None),
    10007: (AuthError, None),
    10009: (AuthError, None),
    10010: (AuthError, None),
    10016: (UnavailableError, None),
    10018: (RateLimitError, None),
    33004: (AuthError, None),
    110001: (OrderNotFoundError, None),
    110004: (InsufficientBalanceError, None),
    110007: (InsufficientBalanceError, None),
    110008: (OrderNotFoundError, None),
    110012: (InsufficientBalanceError, None),
    110072: (DuplicateOrderError, None),
}


def from_retcode(code: int, message: str, what: str) -> ExchangeError:
    """The exception for Bybit's ``retCode`` ``code``.

    Parameters
    ----------
    code : int
        Bybit's ``retCode`` (non-zero).
    message : str
        Bybit's ``retMsg``.
    what : str
        The operation, for the message (``"place BTCUSDT link-1"``).
    """
    cls, retryable = RETCODES.get(code, (RejectedError, None))
    return cls(f"Bybit {what}: {message}", code=code, retryable=retryable)


def from_http_status(status: int, message: str, what: str) -> ExchangeError:
    """The exception for an HTTP-level failure (pybit's ``FailedRequestError``)."""
    text = f"Bybit {what}: HTTP {status}: {message}"
    if status == 401:
        return AuthError(text, code=status)
    if status in (403, 429):
        return RateLimitError(text, code=status)
    if status in (400, 404):
        return RejectedError(text, code=status)
    return UnavailableError(text, code=status)


def translate(exc: BaseException, what: str) -> ExchangeError | None:
    """The :class:`ExchangeError` for what pybit or requests raised, or None if ``exc``
    is not a failure of the request (a programming error, to be left alone).
    """
    if isinstance(exc, ExchangeError):
        return exc
    if isinstance(exc, InvalidRequestError):
        return from_retcode(int(exc.status_code), str(exc.message), what)
    if isinstance(exc, FailedRequestError):
        return from_http_status(int(exc.status_code), str(exc.message), what)
    if isinstance(exc, requests.exceptions.Timeout):
        return UnavailableError(f"Bybit {what}: no answer in time ({type(exc).__name__})")
    if isinstance(exc, requests.exceptions.RequestException):
        return UnavailableError(f"Bybit {what}: connection failed ({type(exc).__name__})")
    if isinstance(exc, PermissionError):  # pybit's "Authenticated endpoints require keys"
        return AuthError(f"Bybit {what}: the session has no API keys")
    return None
