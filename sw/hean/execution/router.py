"""The router: order requests to an exchange, journaled first, never sent twice.

For every request the router

1. journals it (:meth:`Journal.intent`, status NEW) before anything is sent: a request
   whose link id is journaled already is refused, so no path sends an ``orderLinkId``
   twice as a new order;
2. spends a token of the endpoint's rate limiter (:mod:`hean.execution.ratelimit`);
   without one it waits (``blocking=True``, live) or holds the request until
   :meth:`Router.pump` finds a token (``blocking=False``, paper and backtests);
3. sends it, and on failure:

   - a rate-limit answer (retCode 10006) backs off and sends the *same* request again;
   - no answer at all (:class:`UnavailableError`: timeout, connection lost) leaves the
     outcome unknown: the router looks the link id up among the open orders and the
     executions, and only when it is in neither sends the same request again. The
     exchange refuses a second order with a link id it knows
     (:class:`DuplicateOrderError`), which the router takes as the first try having
     gone through: a retry can never double an order;
   - any other refusal journals REJECTED with the exchange's reason;
   - after ``max_attempts`` the order stays NEW in the journal and in
     :attr:`Router.unknown`, for reconciliation (:mod:`hean.execution.reconcile`).

Execution reports (acceptance, fills, cancels, expiry) go to the journal before the
in-memory order, the ledger or any callback sees them. Orders with a time to live are
cancelled by :meth:`Router.pump` when it runs out.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from hean.accounting import Ledger
from hean.domain import Fill, Order, OrderRequest, OrderStatus
from hean.exchange.base import (
    DuplicateOrderError,
    Exchange,
    ExchangeError,
    ExecutionReport,
    OrderNotFoundError,
    RateLimitError,
    UnavailableError,
)
from hean.execution.journal import Journal
from hean.execution.ratelimit import EndpointLimiter, RateLimit


@dataclass(frozen=True)
class RouterConfig:
    """Rate limit per endpoint, retry count and the first back-off (doubling, capped)."""

    limit: RateLimit = field(default_factory=RateLimit)
    max_attempts: int = 5
    backoff_ns: int = 200_000_000
    max_backoff_ns: int = 5_000_000_000

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.backoff_ns < 0 or self.max_backoff_ns < self.backoff_ns:
            raise ValueError("router: max_attempts >= 1 and 0 <= backoff_ns <= max_backoff_ns")


@dataclass
class RouterStats:
    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    retries: int = 0
    rate_limited: int = 0
    lookups: int = 0
    duplicates_refused: int = 0
    held: int = 0
    fills: int = 0
    expired_cancels: int = 0


class Router:
    """Sends order requests to ``exchange`` through ``journal``.

    Parameters
    ----------
    exchange : Exchange
    journal : Journal
    ledger : Ledger, optional
        Gets every new fill, after the journal.
    clock : callable
        Nanoseconds now (wall clock live, exchange time in a backtest).
    sleep : callable
        ``sleep(seconds)``, used only when ``blocking``.
    blocking : bool
        Wait for rate tokens and back-offs (live) or hold requests for :meth:`pump`.
    on_fill : callable, optional
        ``on_fill(fill, order)`` after a new fill is journaled and booked.
    """

    def __init__(
        self,
        exchange: Exchange,
        journal: Journal,
        *,
        ledger: Ledger | None = None,
        clock: Callable[[], int] = time.time_ns,
        sleep: Callable[[float], None] = time.sleep,
        blocking: bool = True,
        config: RouterConfig | None = None,
        on_fill: Callable[[Fill, Order], None] | None = None,
    ) -> None:
        self.exchange = exchange
        self.journal = journal
        self.ledger = ledger
        self.clock = clock
        self.sleep = sleep
        self.blocking = blocking
        self.config = config or RouterConfig()
        self.on_fill = on_fill
        self.limiter = EndpointLimiter(self.config.limit)
        self.orders: dict[str, Order] = {}
        self.reasons: dict[str, str] = {}
        self.unknown: set[str] = set()  # sent, outcome never learned: for reconciliation
        self.stats = RouterStats()
        # (request, attempts so far, not before): waiting for a token or a back-off, in order
        self._held: deque[tuple[OrderRequest, int, int]] = deque()
        self._expiry: dict[str, int] = {}

    def resume(self) -> int:
        """Take the journal's open orders back after a restart (run reconciliation
        first); returns how many. Their fills and cancels are then applied as they come."""
        open_orders = self.journal.open_orders()
        for state in open_orders:
            self.orders[state.link_id] = state.to_order()
        return len(open_orders)

    # --- orders out --------------------------------------------------------------

    def submit(self, request: OrderRequest, ttl_ns: int | None = None) -> bool:
        """Journal ``request`` and send it (or hold it for a rate token).

        Returns False, sending nothing, when its link id was used before.
        """
        if request.link_id in self.orders or self.journal.order(request.link_id) is not None:
            self.stats.duplicates_refused += 1
            return False
        self.journal.intent(request)  # journaled before it can reach the exchange
        self.orders[request.link_id] = Order(request)
        if ttl_ns is not None:
            self._expiry[request.link_id] = self.clock() + ttl_ns
        self._send(request, 0)
        return True

    def _send(self, request: OrderRequest, attempts: int, front: bool = False) -> None:
        """Place ``request``, retrying as the module says; ``front`` puts it back at the
        head of the held queue when it has to wait again (it was first in line)."""
        c = self.config

        def hold(not_before: int) -> None:
            self.stats.held += 1
            entry = (request, attempts, not_before)
            self._held.appendleft(entry) if front else self._held.append(entry)

        while True:
            now = self.clock()
            if not self.limiter.try_take("place", now):
                if not self.blocking:
                    hold(now)
                    return
                self.sleep(self.limiter.wait_ns("place", now) / 1e9)
                continue
            attempts += 1
            self.stats.sent += 1
            try:
                ack = self.exchange.place(request)
            except DuplicateOrderError:
                self._accepted(request.link_id, "", "an earlier try went through")
                return
            except (RateLimitError, UnavailableError) as exc:
                if isinstance(exc, RateLimitError):
                    self.stats.rate_limited += 1
                elif self._known_to_exchange(request):
                    self._accepted(request.link_id, "", "found after a lost answer")
                    return
                if attempts >= c.max_attempts:
                    self.unknown.add(request.link_id)
                    self.reasons[request.link_id] = f"no answer after {attempts} tries: {exc}"
                    return
                self.stats.retries += 1
                backoff = min(c.backoff_ns << (attempts - 1), c.max_backoff_ns)
                if not self.blocking:
                    hold(now + backoff)
                    return
                self.sleep(backoff / 1e9)
                continue
            except ExchangeError as exc:
                self._apply_status(request.link_id, OrderStatus.REJECTED, self.clock(), str(exc))
                self.stats.rejected += 1
                return
            self._accepted(request.link_id, ack.order_id, "")
            return

    def _known_to_exchange(self, request: OrderRequest) -> bool:
        """Whether a placement whose answer was lost reached the exchange."""
        self.stats.lookups += 1
        try:
            if any(o.request.link_id == request.link_id
                   for o in self.exchange.open_orders(request.instrument)):  # fmt: skip
                return True
            return any(f.link_id == request.link_id
                       for f in self.exchange.executions(request.ts_ns))  # fmt: skip
        except ExchangeError:
            return False  # unknown still: the retry's duplicate check settles it

    def _accepted(self, link_id: str, order_id: str, reason: str) -> None:
        self.stats.accepted += 1
        self.unknown.discard(link_id)
        order = self.orders.get(link_id)
        if order is not None and order.status is OrderStatus.NEW:
            self._apply_status(link_id, OrderStatus.ACCEPTED, self.clock(), reason, order_id)

    def cancel(self, instrument: int, link_id: str) -> bool:
        """Ask the exchange to cancel an open order; False when it is not open there."""
        now = self.clock()
        while not self.limiter.try_take("cancel", now):
            if not self.blocking:
                return False
            self.sleep(self.limiter.wait_ns("cancel", now) / 1e9)
            now = self.clock()
        try:
            self.exchange.cancel(instrument, link_id)
        except OrderNotFoundError:
            return False
        return True

    def pump(self) -> None:
        """Send held requests that have a token now, cancel orders past their time to
        live, and apply the exchange's new reports."""
        now = self.clock()
        while self._held and self._held[0][2] <= now:
            request, attempts, _ = self._held.popleft()
            self._send(request, attempts, front=True)
            if self._held and self._held[0][0] is request:
                break  # it waits again: the rest wait behind it, in order
        now = self.clock()
        for link_id, due in list(self._expiry.items()):
            order = self.orders.get(link_id)
            if order is None or order.status.terminal:
                del self._expiry[link_id]
            elif now >= due and self.cancel(order.request.instrument, link_id):
                self.stats.expired_cancels += 1
                del self._expiry[link_id]
        self.on_reports(self.exchange.reports())

    @property
    def held(self) -> int:
        """Requests waiting for a rate token or a back-off."""
        return len(self._held)

    # --- reports in --------------------------------------------------------------

    def on_reports(self, reports: list[ExecutionReport]) -> None:
        """Journal, then apply, each report in order."""
        for report in reports:
            if report.fill is not None:
                self._apply_fill(report.fill)
            else:
                self._apply_status(report.link_id, report.status, report.ts_ns, report.reason)

    def _apply_status(
        self, link_id: str, status: OrderStatus, ts_ns: int, reason: str, order_id: str = ""
    ) -> None:
        order = self.orders.get(link_id)
        if order is None or order.status is status or order.status.terminal:
            return  # not ours, a repeat, or news of an order already settled
        if status in (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED):
            return  # fills move these, through _apply_fill
        if status is OrderStatus.REJECTED and order.status is not OrderStatus.NEW:
            # refused after acceptance (a post-only that would take liquidity on arrival):
            # Bybit reports that as a cancel with a reason, and so does the journal
            status, reason = OrderStatus.CANCELLED, f"refused after acceptance: {reason}"
        self.journal.status(link_id, status, ts_ns, reason, order_id)
        self.orders[link_id] = Order(order.request, status, order.filled_lots, order.filled_cost)
        if reason:
            self.reasons[link_id] = reason
        if status is OrderStatus.REJECTED:
            self.unknown.discard(link_id)

    def _apply_fill(self, fill: Fill) -> None:
        order = self.orders.get(fill.link_id)
        if order is None:
            return  # another session's order: reconciliation reports it
        if not self.journal.fill(fill):
            return  # journaled before (a report seen twice, or replayed after a restart)
        order = self.orders[fill.link_id] = order.with_fill(fill)
        self.unknown.discard(fill.link_id)
        self.stats.fills += 1
        if self.ledger is not None:
            self.ledger.apply(fill)
        if self.on_fill is not None:
            self.on_fill(fill, order)
