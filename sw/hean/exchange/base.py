"""What every exchange looks like to HEAN: the Bybit adapter and the paper exchange alike.

The router (:mod:`hean.execution.router`) talks only to this interface. Orders are
named by their ``orderLinkId`` (:attr:`hean.domain.OrderRequest.link_id`), which the
exchange refuses to take twice, so a request whose answer was lost can be retried, or
looked up, without ever doubling the order. What happens to an order afterwards
(accepted, filled, cancelled, expired) comes back as :class:`ExecutionReport` values
from :meth:`Exchange.reports`.

Failures are :class:`ExchangeError` subclasses, each with the exchange's code, its
message and whether trying again can help.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable

from hean.domain import Fill, Order, OrderRequest, OrderStatus


@dataclass(frozen=True, slots=True)
class FeeRates:
    """Maker and taker fee rates as fractions of notional (0.0002 is 0.02 %)."""

    maker: Decimal
    taker: Decimal


#: Bybit linear perpetuals, VIP 0: the defaults until the account's own rates are read.
BYBIT_VIP0 = FeeRates(maker=Decimal("0.0002"), taker=Decimal("0.00055"))


@dataclass(frozen=True, slots=True)
class Ack:
    """The exchange took a request (place, amend or cancel) for the order ``link_id``."""

    link_id: str
    order_id: str
    ts_ns: int


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    """Something happened to an order: its new status and, for an execution, the fill.

    ``fill`` is set only for PARTIALLY_FILLED and FILLED reports; ``reason`` says why an
    order was rejected, cancelled or expired.
    """

    ts_ns: int
    link_id: str
    status: OrderStatus
    fill: Fill | None = None
    reason: str = ""


class ExchangeError(Exception):
    """An exchange refused or failed a request.

    Parameters
    ----------
    message : str
    code : int, optional
        The exchange's own code (Bybit's ``retCode``).
    retryable : bool
        Whether the same request may succeed later (rate limits, timeouts).
    """

    retryable = False

    def __init__(self, message: str, code: int | None = None, retryable: bool | None = None):
        super().__init__(message if code is None else f"{message} (code {code})")
        self.message = message
        self.code = code
        if retryable is not None:
            self.retryable = retryable


class RateLimitError(ExchangeError):
    """Too many requests: wait and try again."""

    retryable = True


class UnavailableError(ExchangeError):
    """No answer (timeout, connection lost, server error): the outcome is unknown.

    For a placement, look the order up by its link id before trying again.
    """

    retryable = True


class AuthError(ExchangeError):
    """Bad or missing API keys, or a key without the permission asked for."""


class InsufficientBalanceError(ExchangeError):
    """The account cannot margin the order."""


class DuplicateOrderError(ExchangeError):
    """An order with this ``orderLinkId`` exists already: the earlier try went through."""


class OrderNotFoundError(ExchangeError):
    """No open order with this id (filled, cancelled or never placed)."""


class RejectedError(ExchangeError):
    """The exchange refused the order for another reason (price, size, post-only cross)."""


@runtime_checkable
class Exchange(Protocol):
    """The calls the router makes. Every one raises :class:`ExchangeError` on failure."""

    name: str

    def place(self, request: OrderRequest) -> Ack:
        """Send a new order (limit when ``price_ticks`` is set, else market)."""
        ...

    def amend(
        self, instrument: int, link_id: str, qty_lots: int | None = None,
        price_ticks: int | None = None,
    ) -> Ack:  # fmt: skip
        """Change an open order's size (total, not remaining) or price."""
        ...

    def cancel(self, instrument: int, link_id: str) -> Ack:
        """Cancel an open order."""
        ...

    def open_orders(self, instrument: int | None = None) -> list[Order]:
        """The orders resting now, with what has filled."""
        ...

    def positions(self) -> dict[int, int]:
        """Signed position in lots per instrument (instruments held only)."""
        ...

    def executions(self, since_ns: int = 0) -> list[Fill]:
        """Fills at or after ``since_ns``, oldest first, each with its ``exec_id``."""
        ...

    def fee_rates(self, instrument: int) -> FeeRates:
        """The account's maker and taker rates for the instrument."""
        ...

    def reports(self) -> list[ExecutionReport]:
        """Order events since the last call, oldest first (each is returned once)."""
        ...
