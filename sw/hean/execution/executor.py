"""From an order request to the router: iceberg avoidance, TWAP slicing, the order type.

:class:`Execution` sits between the trading core's fast path (whose sink it is) and the
:class:`~hean.execution.router.Router`. For each request it

1. checks the latest feature record of the instrument for an iceberg against the order
   (:mod:`hean.execution.iceberg`: halve the size, or step a tick away);
2. hands orders worth at least the slicing threshold to a :class:`TWAPExecutor`, or a
   :class:`VWAPExecutor` when ``slicer="vwap"`` and the instrument has a volume profile
   by minute; :meth:`Execution.pump` places their children as post-only limits at the
   touch (cancelled and re-sliced when their time to live runs out);
3. otherwise prices it with the :class:`OrderTypeSelector`: market, post-only limit with
   a time to live, or no order when the net edge after fees (and, for a market order,
   the slippage the cache expects) is too small.

Fee rates are the account's (``exchange.fee_rates``) when the exchange answers, else
Bybit's VIP 0 rates. Every fill's realized slippage against the touch the order was
decided on goes back to the slippage cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hean.domain import Fill, InstrumentSpec, Order, OrderRequest, Side, TimeInForce
from hean.exchange.base import BYBIT_VIP0, ExchangeError, FeeRates
from hean.execution.iceberg import IcebergAction, IcebergConfig, adjust_for_iceberg
from hean.execution.order_type import OrderKind, OrderTypeConfig, OrderTypeSelector
from hean.execution.router import Router
from hean.execution.slippage import BookSnapshot, SlippageCache
from hean.execution.twap import (
    Cancel,
    ParentOrder,
    Place,
    SliceExecutor,
    TWAPConfig,
    TWAPExecutor,
    needs_slicing,
)
from hean.execution.vwap import VWAPConfig, VWAPExecutor
from hean.wire import REC_DTYPE

_F = {name: k for k, name in enumerate(REC_DTYPE.names or ())}
_INST, _STATUS, _TS = _F["instrument"], _F["status"], _F["recv_ts_ns"]
_BID, _ASK, _ICE_BID, _ICE_ASK = _F["bid_px"], _F["ask_px"], _F["ice_px_bid"], _F["ice_px_ask"]


@dataclass(frozen=True)
class ExecutionConfig:
    """Urgency of entries (0 can wait .. 1 must trade now) and the parts' settings.

    ``slicer`` is "twap" or "vwap" (VWAP needs the instrument's volume profile, else
    TWAP is used); ``slicing=False`` sends every order whole.
    """

    urgency: float = 0.5
    order_type: OrderTypeConfig = field(default_factory=OrderTypeConfig)
    iceberg: IcebergConfig = field(default_factory=IcebergConfig)
    twap: TWAPConfig = field(default_factory=TWAPConfig)
    vwap: VWAPConfig = field(default_factory=VWAPConfig)
    slicer: str = "twap"
    slicing: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.urgency <= 1.0:
            raise ValueError(f"execution.urgency must be in [0, 1], got {self.urgency}")
        if self.slicer not in ("twap", "vwap"):
            raise ValueError(f"execution.slicer must be 'twap' or 'vwap', got {self.slicer!r}")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What :meth:`Execution.submit` did with a request."""

    action: str  # "market", "limit", "twap", "vwap" or "skip"
    reason: str
    link_ids: tuple[str, ...] = ()


@dataclass
class _Top:
    ts_ns: int = 0
    bid: int = 0
    ask: int = 0
    status: int = 0
    ice_bid: int = 0
    ice_ask: int = 0


class Execution:
    """Order requests in, priced orders (or slices) to the router.

    Parameters
    ----------
    router : Router
    instruments : dict of int to InstrumentSpec
    fees : FeeRates, optional
        Rates to use; by default the account's, read from the router's exchange.
    slippage : SlippageCache, optional
        Refreshed by the caller (:class:`~hean.execution.slippage.SlippageRefresher`
        live, :meth:`SlippageCache.refresh` in a backtest); a new, empty one by default.
    config : ExecutionConfig, optional
    seed : int
        Seeds the slicers' jitter (a backtest's runs are then repeatable).
    volume_profiles : dict of int to array, optional
        Traded volume per minute of each instrument (``vwap.profile_from_trades``), for
        the VWAP slicer.
    """

    def __init__(
        self,
        router: Router,
        instruments: dict[int, InstrumentSpec],
        *,
        fees: FeeRates | None = None,
        slippage: SlippageCache | None = None,
        config: ExecutionConfig | None = None,
        seed: int = 0,
        volume_profiles: dict | None = None,
    ) -> None:
        self.router = router
        self.instruments = instruments
        self.config = config or ExecutionConfig()
        self.slippage = slippage or SlippageCache()
        self.fee_source = "given" if fees is not None else "account"
        self.fees = fees if fees is not None else self._account_fees()
        self.selector = OrderTypeSelector(self.fees, self.config.order_type)
        self._top: dict[int, _Top] = {}
        self._touch: dict[str, float] = {}  # link id -> touch the order was decided on
        self.volume_profiles = dict(volume_profiles or {})
        self._slicers: list[SliceExecutor] = []
        self._slicer_of: dict[str, SliceExecutor] = {}
        self._seed = seed
        self.outcomes: dict[str, int] = {}
        self._then = router.on_fill  # whoever listened before still hears every fill
        router.on_fill = self._on_fill

    def _account_fees(self) -> FeeRates:
        try:
            rates = {self.router.exchange.fee_rates(i) for i in self.instruments}
        except ExchangeError:
            self.fee_source = "Bybit VIP 0 (the account's rates could not be read)"
            return BYBIT_VIP0
        if len(rates) != 1:  # one schedule per account here; take the dearest taker
            return max(rates, key=lambda r: r.taker) if rates else BYBIT_VIP0
        return rates.pop()

    def on_row(self, row: tuple) -> None:
        """The latest feature record (a ``REC_STRUCT`` tuple) of an instrument."""
        top = self._top.get(row[_INST])
        if top is None:
            top = self._top[row[_INST]] = _Top()
        top.ts_ns, top.bid, top.ask, top.status = row[_TS], row[_BID], row[_ASK], row[_STATUS]
        top.ice_bid, top.ice_ask = row[_ICE_BID], row[_ICE_ASK]

    @property
    def working(self) -> bool:
        """Whether a parent order is still being sliced."""
        return bool(self._slicers)

    def touch_of(self, link_id: str) -> float | None:
        """The touch (best ask for a buy, best bid for a sell, ticks) the order with
        ``link_id`` was decided on; None for an order not placed here."""
        return self._touch.get(link_id)

    def refresh_book(self, instrument: int, bids: list, asks: list, ts_ns: int = 0) -> None:
        """Recompute the instrument's slippage ladder from its book (levels best first,
        ``(price_ticks, qty_lots)``): the synchronous refresh of backtests and paper runs."""
        symbol = self.instruments[instrument].symbol
        self.slippage.refresh(symbol, BookSnapshot(bids, asks, ts_ns))

    def _count(self, outcome: Outcome) -> Outcome:
        self.outcomes[outcome.action] = self.outcomes.get(outcome.action, 0) + 1
        return outcome

    def submit(
        self, request: OrderRequest, edge_bps: float, urgency: float | None = None
    ) -> Outcome:
        """Execute ``request`` whose signal expects ``edge_bps`` in its favour."""
        urgency = self.config.urgency if urgency is None else urgency
        top = self._top.get(request.instrument)
        if top is None or top.bid <= 0 or top.ask <= 0:
            return self._count(Outcome("skip", "no two-sided book seen for the instrument"))
        adj = adjust_for_iceberg(
            request.side, request.qty_lots, request.price_ticks, top.status, top.ice_bid,
            top.ice_ask, self.config.iceberg,
        )  # fmt: skip
        if adj.action is IcebergAction.SKIP:
            return self._count(Outcome("skip", adj.reason))
        if adj.action is not IcebergAction.UNCHANGED:
            request = request.replace(qty_lots=adj.qty_lots, price_ticks=adj.price_ticks)
        spec = self.instruments[request.instrument]
        touch = top.ask if request.side is Side.BUY else top.bid
        vwap = self.config.slicer == "vwap" and request.instrument in self.volume_profiles
        threshold = (self.config.vwap if vwap else self.config.twap).min_notional
        if self.config.slicing and needs_slicing(spec, request.qty_lots, touch, threshold):
            return self._count(self._slice(request))
        est = self.slippage.estimate(spec.symbol, request.side, request.qty_lots)
        decision = self.selector.select(request.side, top.bid, top.ask, edge_bps, urgency,
                                        est.bps)  # fmt: skip
        if decision.kind is OrderKind.SKIP:
            return self._count(Outcome("skip", decision.reason))
        order = decision.apply(request)
        ttl = decision.ttl_ns if decision.kind is OrderKind.LIMIT else None
        if not self.router.submit(order, ttl_ns=ttl):
            return self._count(Outcome("skip", f"link id {order.link_id} was used before"))
        self._touch[order.link_id] = float(touch)
        kind = "limit" if decision.kind is OrderKind.LIMIT else "market"
        return self._count(Outcome(kind, decision.reason, (order.link_id,)))

    def _slice(self, request: OrderRequest) -> Outcome:
        parent = ParentOrder(request.instrument, request.side, request.qty_lots,
                             request.strategy, request.reduce_only)  # fmt: skip
        base, n = request.link_id, [0]

        def child_id() -> str:  # children's ids derive from the parent's, which is unique
            n[0] += 1
            tail = f"-c{n[0]}"
            return base[: 36 - len(tail)] + tail

        rng = self._seed + len(self._slicers)
        profile = self.volume_profiles.get(request.instrument)
        slicer: SliceExecutor
        if self.config.slicer == "vwap" and profile is not None:
            slicer = VWAPExecutor(parent, self.router.clock(), profile, child_id,
                                  self.config.vwap, rng=rng)  # fmt: skip
            kind = "vwap"
        else:
            slicer = TWAPExecutor(parent, self.router.clock(), child_id, self.config.twap,
                                  rng=rng)  # fmt: skip
            kind = "twap"
        self._slicers.append(slicer)
        self.pump()
        return Outcome(kind, f"{request.qty_lots} lots in {len(slicer.schedule)} slices")

    def pump(self) -> None:
        """Place due slices, cancel expired ones, and let the router send and apply."""
        now = self.router.clock()
        for slicer in self._slicers:
            for action in slicer.due(now):
                if isinstance(action, Place):
                    self._place_child(slicer, action)
                elif isinstance(action, Cancel) and not self.router.cancel(
                    action.instrument, action.link_id
                ):
                    self._finish(action.link_id)  # not open there: settled already
        self.router.pump()
        for link_id in list(self._slicer_of):
            order = self.router.orders.get(link_id)
            if order is not None and order.status.terminal:
                self._finish(link_id)
        self._slicers = [s for s in self._slicers if not s.done]

    def _place_child(self, slicer: SliceExecutor, action: Place) -> None:
        child = action.child
        top = self._top.get(child.instrument)
        now = self.router.clock()
        if top is None or top.bid <= 0 or top.ask <= 0:
            request = child.request(now)  # no book to price against: take it
        else:
            # a slice can wait for its time to live: it rests as a maker at the touch
            price = self.selector.limit_price(child.side, top.bid, top.ask)
            request = child.request(now, price, TimeInForce.POST_ONLY)
            self._touch[child.link_id] = float(top.ask if child.side is Side.BUY else top.bid)
        self._slicer_of[child.link_id] = slicer
        if not self.router.submit(request):
            self._finish(child.link_id)

    def _finish(self, link_id: str) -> None:
        slicer = self._slicer_of.pop(link_id, None)
        if slicer is not None:
            slicer.on_done(link_id)

    def _on_fill(self, fill: Fill, order: Order) -> None:
        touch = self._touch.get(fill.link_id)
        if touch:
            spec = self.instruments[fill.instrument]
            self.slippage.record(spec.symbol, fill.side, touch, float(fill.price_ticks))
        slicer = self._slicer_of.get(fill.link_id)
        if slicer is not None:
            slicer.on_fill(fill.link_id, fill.qty_lots)
        if self._then is not None:
            self._then(fill, order)
