"""Smart order-type selection: a post-only limit, a market order, or no order at all.

The choice compares what each order type would leave of the signal's edge once the
account's fees, the spread and the expected slippage are paid (all in basis points of
the mid price):

- ``limit_net = edge - entry(limit price) - maker fee``
- ``market_net = edge - entry(touch) - taker fee - slippage``

where ``entry(p)`` is what buying at ``p`` costs against the mid (``(p - mid) / mid``,
mirrored for a sell), negative when a limit price is better than the mid.

Then, in order:

1. a post-only limit when the urgency is below ``limit_max_urgency`` (0.7) and
   ``limit_net`` exceeds ``min_limit_edge_bps`` (2 bps); it lives ``fast_ttl_ns``
   (150 ms) when the urgency is above ``ttl_urgency_split`` (0.5), else ``slow_ttl_ns``
   (300 ms);
2. a market order when ``market_net`` exceeds ``min_market_edge_bps`` (0.5 bps);
3. otherwise skip: the edge does not pay for the trade.

An urgency at or above ``limit_max_urgency`` therefore forces a market order (or a
skip): resting and waiting for a fill is not an option for such a signal.

The limit price improves the touch by ``improve_bps`` (1 bps, to the nearest whole
tick, at least one) to stand first in the queue, but never reaches the other side: a
post-only order that would cross is rejected by the exchange.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

from hean.domain import OrderRequest, Side, TimeInForce
from hean.exchange.base import BYBIT_VIP0, FeeRates

_BPS = 10_000.0


@dataclass(frozen=True, slots=True)
class OrderTypeConfig:
    """Thresholds of :class:`OrderTypeSelector` (the implementation plan's numbers).

    Parameters
    ----------
    limit_max_urgency : float
        A limit order is considered only below this urgency (0.7).
    min_limit_edge_bps : float
        The limit's net edge must exceed this (2.0 bps).
    min_market_edge_bps : float
        The market order's net edge must exceed this, else the order is skipped (0.5 bps).
    ttl_urgency_split : float
        Above this urgency a limit gets the short TTL (0.5).
    fast_ttl_ns, slow_ttl_ns : int
        A limit's time to live above and at or below ``ttl_urgency_split``
        (150 ms and 300 ms).
    improve_bps : float
        How far inside the spread the limit is priced, from the touch (1.0 bps, the
        plan's ``bid * 1.0001``); to the nearest tick but at least one, and clamped
        one tick short of the other side.

    Raises
    ------
    ValueError
        For an urgency threshold outside [0, 1], a TTL that is not positive, a negative
        or non-finite improvement, or a non-finite edge threshold.
    """

    limit_max_urgency: float = 0.7
    min_limit_edge_bps: float = 2.0
    min_market_edge_bps: float = 0.5
    ttl_urgency_split: float = 0.5
    fast_ttl_ns: int = 150_000_000
    slow_ttl_ns: int = 300_000_000
    improve_bps: float = 1.0

    def __post_init__(self) -> None:
        for name in ("limit_max_urgency", "ttl_urgency_split"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"order type: {name} must be within [0, 1], got {value}")
        for name in ("min_limit_edge_bps", "min_market_edge_bps"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"order type: {name} must be finite, got {getattr(self, name)}")
        for name in ("fast_ttl_ns", "slow_ttl_ns"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"order type: {name} must be a positive integer, got {value!r}")
        if not (math.isfinite(self.improve_bps) and self.improve_bps >= 0.0):
            raise ValueError(f"order type: improve_bps must be >= 0, got {self.improve_bps}")


class OrderKind(Enum):
    """What the selector decided."""

    MARKET = "market"
    LIMIT = "limit"  # post-only, with a TTL
    SKIP = "skip"


class OrderTypeDecision(NamedTuple):
    """The selector's answer (a named tuple: it is built on the fast path).

    ``price_ticks`` is set for a limit only; ``ttl_ns`` is 0 unless a limit. The two net
    edges are those compared (NaN when the book did not allow computing them).
    """

    kind: OrderKind
    price_ticks: int | None
    ttl_ns: int
    reason: str
    limit_net_bps: float
    market_net_bps: float

    @property
    def tif(self) -> TimeInForce:
        """Post-only for a limit; GTC (the domain's default, ignored) for a market order."""
        return TimeInForce.POST_ONLY if self.kind is OrderKind.LIMIT else TimeInForce.GTC

    def apply(self, request: OrderRequest) -> OrderRequest:
        """``request`` priced and timed as decided.

        Raises
        ------
        ValueError
            For a skip: there is no order to send.
        """
        if self.kind is OrderKind.SKIP:
            raise ValueError(f"a skipped order cannot be sent ({self.reason})")
        return request.replace(price_ticks=self.price_ticks, tif=self.tif)


class OrderTypeSelector:
    """Chooses between a post-only limit, a market order and a skip.

    Parameters
    ----------
    fees : FeeRates
        The account's maker and taker rates (fractions of notional; a negative maker
        rate is a rebate and adds to the limit's edge).
    config : OrderTypeConfig, optional
    """

    def __init__(self, fees: FeeRates = BYBIT_VIP0, config: OrderTypeConfig | None = None):
        self.config = config or OrderTypeConfig()
        self.fees = fees
        # Decimal -> float once here, not on every decision.
        self._maker_bps = float(fees.maker) * _BPS
        self._taker_bps = float(fees.taker) * _BPS

    @property
    def maker_bps(self) -> float:
        return self._maker_bps

    @property
    def taker_bps(self) -> float:
        return self._taker_bps

    def limit_price(self, side: Side, bid_ticks: int, ask_ticks: int) -> int:
        """The post-only price: the touch improved by ``improve_bps``, never crossing.

        With a one-tick spread this is the touch itself (there is no price between).
        """
        bps = self.config.improve_bps
        touch = bid_ticks if side is Side.BUY else ask_ticks
        # The nearest whole tick, but at least one: any improvement asked for is made.
        step = max(1, math.floor(touch * bps / _BPS + 0.5)) if bps > 0 else 0
        if side is Side.BUY:
            return max(bid_ticks, min(bid_ticks + step, ask_ticks - 1))
        return min(ask_ticks, max(ask_ticks - step, bid_ticks + 1))

    def select(
        self,
        side: Side,
        bid_ticks: int,
        ask_ticks: int,
        edge_bps: float,
        urgency: float = 0.5,
        slippage_bps: float = 0.0,
    ) -> OrderTypeDecision:
        """Decide the order type for an entry of ``side``.

        Parameters
        ----------
        side : Side
        bid_ticks, ask_ticks : int
            The touch now; a side at 0 or below is empty.
        edge_bps : float
            The signal's expected gross move in its favour, in bps of the mid.
        urgency : float
            0 (can wait) .. 1 (must trade now).
        slippage_bps : float
            Expected slippage of a market order beyond the touch (e.g. from
            :meth:`hean.execution.slippage.SlippageCache.estimate`).

        Returns
        -------
        OrderTypeDecision

        Raises
        ------
        ValueError
            For an urgency outside [0, 1] or a non-finite edge or slippage.
        """
        if not 0.0 <= urgency <= 1.0:
            raise ValueError(f"urgency must be within [0, 1], got {urgency}")
        if not (math.isfinite(edge_bps) and math.isfinite(slippage_bps)):
            raise ValueError(f"edge and slippage must be finite, got {edge_bps}, {slippage_bps}")
        nan = math.nan
        if bid_ticks <= 0 or ask_ticks <= 0:
            return OrderTypeDecision(OrderKind.SKIP, None, 0, "one-sided book", nan, nan)
        if bid_ticks >= ask_ticks:
            # Locked or crossed: the touch is not a price anyone can trust.
            return OrderTypeDecision(OrderKind.SKIP, None, 0, "book locked or crossed", nan, nan)
        c = self.config
        mid = 0.5 * (bid_ticks + ask_ticks)
        sign = side.sign
        limit_px = self.limit_price(side, bid_ticks, ask_ticks)
        touch = ask_ticks if side is Side.BUY else bid_ticks
        limit_net = edge_bps - sign * (limit_px - mid) / mid * _BPS - self._maker_bps
        market_net = edge_bps - sign * (touch - mid) / mid * _BPS - self._taker_bps - slippage_bps
        if urgency < c.limit_max_urgency and limit_net > c.min_limit_edge_bps:
            ttl = c.fast_ttl_ns if urgency > c.ttl_urgency_split else c.slow_ttl_ns
            return OrderTypeDecision(
                OrderKind.LIMIT, limit_px, ttl,
                f"limit net {limit_net:.2f} bps > {c.min_limit_edge_bps} bps",
                limit_net, market_net,
            )  # fmt: skip
        if market_net > c.min_market_edge_bps:
            why = (
                f"urgency {urgency} >= {c.limit_max_urgency}"
                if urgency >= c.limit_max_urgency
                else f"limit net {limit_net:.2f} bps <= {c.min_limit_edge_bps} bps"
            )
            return OrderTypeDecision(
                OrderKind.MARKET, None, 0,
                f"{why}; market net {market_net:.2f} bps > {c.min_market_edge_bps} bps",
                limit_net, market_net,
            )  # fmt: skip
        return OrderTypeDecision(
            OrderKind.SKIP, None, 0,
            f"insufficient edge: market net {market_net:.2f} bps <= "
            f"{c.min_market_edge_bps} bps, limit net {limit_net:.2f} bps",
            limit_net, market_net,
        )  # fmt: skip
