"""Domain types of the trading core: small, immutable, prices in ticks and sizes in lots.

The types made on the fast path for every order (:class:`Signal`, :class:`OrderRequest`)
are named tuples: building a frozen dataclass costs one ``object.__setattr__`` per field,
several times the cost of a tuple, and the fast path builds two per order.

Prices and sizes stay integers (the instrument's ticks and lots, as in HL2) everywhere
inside HEAN; :class:`InstrumentSpec` converts to and from decimals at the edges (the
exchange adapter, reports), exactly.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from hean.feeds.sidecar import Instrument


class Side(enum.Enum):
    """Order or fill side, spelled as Bybit spells it."""

    BUY = "Buy"
    SELL = "Sell"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell."""
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    """An instrument's id, symbol and steps, with exact conversions.

    Raises
    ------
    ValueError
        From the converters, for a decimal that is not a whole number of steps.
    """

    id: int
    symbol: str
    tick: Decimal
    lot: Decimal

    @classmethod
    def from_sidecar(cls, inst: Instrument) -> InstrumentSpec:
        return cls(inst.id, inst.symbol, inst.tick_decimal, inst.lot_decimal)

    def price(self, ticks: int) -> Decimal:
        return ticks * self.tick

    def qty(self, lots: int) -> Decimal:
        return lots * self.lot

    def ticks(self, price: Decimal | str) -> int:
        return _units(Decimal(price), self.tick, f"{self.symbol} price")

    def lots(self, qty: Decimal | str) -> int:
        return _units(Decimal(qty), self.lot, f"{self.symbol} size")

    @property
    def unit_value(self) -> Decimal:
        """Quote currency of one tick on one lot (the unit of PnL inside HEAN)."""
        return self.tick * self.lot


def _units(value: Decimal, step: Decimal, what: str) -> int:
    units = value / step
    if units != units.to_integral_value():
        raise ValueError(f"{what} {value} is not a multiple of {step}")
    return int(units)


class Signal(NamedTuple):
    """A strategy's wish to trade: which way, how strongly, why, and its exits in bps."""

    ts_ns: int
    instrument: int
    side: Side
    strength: float
    price_ticks: int
    strategy: str
    reason: str
    take_profit_bps: float = 0.0
    stop_loss_bps: float = 0.0


class TimeInForce(enum.Enum):
    """How long an order may rest, spelled as Bybit spells it (``timeInForce``)."""

    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    POST_ONLY = "PostOnly"  # a limit order that is cancelled rather than take liquidity


class _OrderRequestFields(NamedTuple):
    ts_ns: int
    instrument: int
    side: Side
    qty_lots: int
    price_ticks: int | None
    strategy: str
    link_id: str
    reduce_only: bool = False
    tif: TimeInForce = TimeInForce.GTC


class OrderRequest(_OrderRequestFields):
    """An order the risk governor let through, not yet sent.

    ``price_ticks`` None is a market order. ``link_id`` is the idempotency key
    (Bybit's ``orderLinkId``, at most 36 characters). ``tif`` applies to limit orders.

    Raises
    ------
    ValueError
        For a size under one lot, a price that is not positive, or a bad link id.
    """

    __slots__ = ()

    def __new__(
        cls,
        ts_ns: int,
        instrument: int,
        side: Side,
        qty_lots: int,
        price_ticks: int | None,
        strategy: str,
        link_id: str,
        reduce_only: bool = False,
        tif: TimeInForce = TimeInForce.GTC,
    ) -> OrderRequest:
        if qty_lots <= 0:
            raise ValueError(f"order size must be at least one lot, got {qty_lots}")
        if price_ticks is not None and price_ticks <= 0:
            raise ValueError(f"limit price must be positive, got {price_ticks} ticks")
        if not 0 < len(link_id) <= 36:
            raise ValueError(f"orderLinkId must be 1..36 characters, got {link_id!r}")
        if price_ticks is None and tif is TimeInForce.POST_ONLY:
            raise ValueError("a market order cannot be post-only")
        return tuple.__new__(
            cls,
            (ts_ns, instrument, side, qty_lots, price_ticks, strategy, link_id, reduce_only, tif),
        )

    def replace(self, **changes) -> OrderRequest:
        """A copy with ``changes``, validated again."""
        return OrderRequest(*self._replace(**changes))


@dataclass(frozen=True, slots=True)
class Fill:
    """An execution: size, price, fee (quote currency, paid > 0) and who provided liquidity."""

    ts_ns: int
    instrument: int
    side: Side
    qty_lots: int
    price_ticks: int
    fee: Decimal
    link_id: str
    maker: bool
    exec_id: str = ""  # the exchange's id of this execution: a fill is recorded once

    def __post_init__(self) -> None:
        if self.qty_lots <= 0 or self.price_ticks <= 0:
            raise ValueError(f"a fill has a positive size and price, got {self}")


class OrderStatus(enum.Enum):
    """An order's life: NEW until the exchange answers, then one of the others."""

    NEW = "New"
    ACCEPTED = "Accepted"
    PARTIALLY_FILLED = "PartiallyFilled"
    FILLED = "Filled"
    CANCELLED = "Cancelled"
    REJECTED = "Rejected"
    EXPIRED = "Expired"

    @property
    def terminal(self) -> bool:
        return self in (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED,
                        OrderStatus.EXPIRED)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Order:
    """An order request as the exchange holds it: status and what has filled."""

    request: OrderRequest
    status: OrderStatus = OrderStatus.NEW
    filled_lots: int = 0
    filled_cost: int = 0  # sum of fill size times price, tick-lots

    @property
    def remaining_lots(self) -> int:
        return self.request.qty_lots - self.filled_lots

    @property
    def avg_fill_ticks(self) -> float | None:
        return self.filled_cost / self.filled_lots if self.filled_lots else None

    def with_fill(self, fill: Fill) -> Order:
        """The order after ``fill``.

        Raises
        ------
        ValueError
            If the fill is for another order, overfills it, or the order is FILLED or
            REJECTED.

        Notes
        -----
        A fill may reach a CANCELLED or EXPIRED order: the exchange matched it before the
        cancel took effect, and the news came after. It counts, and the status stays.
        """
        if fill.link_id != self.request.link_id:
            raise ValueError(f"fill {fill.link_id} is not for order {self.request.link_id}")
        late = self.status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED)
        if self.status.terminal and not late:
            raise ValueError(f"order {self.request.link_id} is already {self.status.value}")
        if fill.qty_lots > self.remaining_lots:
            raise ValueError(f"fill of {fill.qty_lots} lots overfills {self.request.link_id}")
        lots = self.filled_lots + fill.qty_lots
        if late:
            status = self.status
        elif lots == self.request.qty_lots:
            status = OrderStatus.FILLED
        else:
            status = OrderStatus.PARTIALLY_FILLED
        return Order(
            self.request, status, lots, self.filled_cost + fill.qty_lots * fill.price_ticks
        )
