"""The paper exchange's own record of an order, and how the matcher reports on it.

:class:`hean.domain.Order` is immutable, as the rest of HEAN wants it; the matching
engine changes an order at every fill, so it keeps a mutable :class:`LiveOrder` and
hands out :class:`~hean.domain.Order` snapshots.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from hean.domain import Order, OrderRequest, OrderStatus, Side
from hean.exchange.paper.queue import QueuePosition
from hean.wire import Side as BookSide


@dataclass(slots=True, eq=False)
class LiveOrder:
    """An order as the paper exchange holds it.

    Attributes
    ----------
    request : OrderRequest
        The order as it stands now (an amend replaces size or price).
    order_id : str
        The exchange's id.
    status : OrderStatus
        NEW until the order reaches the matching engine.
    filled_lots, filled_cost : int
        What has filled: lots, and the sum of lots times price in tick-lots.
    queue : QueuePosition or None
        Set while the order rests.
    priority : int
        Time priority among our own orders (lower is earlier).
    """

    request: OrderRequest
    order_id: str
    status: OrderStatus = OrderStatus.NEW
    filled_lots: int = 0
    filled_cost: int = 0
    queue: QueuePosition | None = None
    priority: int = 0

    @property
    def link_id(self) -> str:
        return self.request.link_id

    @property
    def remaining(self) -> int:
        """Lots still to fill."""
        return self.request.qty_lots - self.filled_lots

    @property
    def done(self) -> bool:
        """Whether the order is finished (filled, cancelled, rejected or expired)."""
        return self.status.terminal

    @property
    def book_side(self) -> BookSide:
        """The book side the order rests on: bids for a buy, asks for a sell."""
        return BookSide.BID if self.request.side is Side.BUY else BookSide.ASK

    def snapshot(self) -> Order:
        """The order as an immutable :class:`~hean.domain.Order`."""
        return Order(self.request, self.status, self.filled_lots, self.filled_cost)


class MatchSink(Protocol):
    """What the matcher tells the exchange (which makes fills, fees and reports)."""

    def filled(self, order: LiveOrder, qty: int, price: int, maker: bool) -> None:
        """``order`` (already updated) executed ``qty`` lots at ``price``."""
        ...

    def status(self, order: LiveOrder, reason: str = "") -> None:
        """``order`` changed status (accepted, amended, cancelled, rejected) for ``reason``."""
        ...
