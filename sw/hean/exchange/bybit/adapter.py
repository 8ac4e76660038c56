"""The Bybit V5 order adapter: :class:`hean.exchange.base.Exchange` over pybit's REST client.

Testnet unless asked otherwise twice: mainnet needs ``testnet=False`` *and*
``live=True``. Keys come from the arguments or ``$BYBIT_API_KEY``/``$BYBIT_API_SECRET``
(:mod:`.keys`) and are checked when the adapter is built, not at the first order.

pybit's own retries are off, so each call is one request and every failure is
an exception the caller sees (why, in :mod:`.rest`). Failures are the exception classes
of :mod:`hean.exchange.base`, mapped from Bybit's codes as tabled in :mod:`.errors`;
order events come from polled REST state as described in :mod:`.reports`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from hean.domain import Fill, InstrumentSpec, Order, OrderRequest
from hean.exchange.base import (
    Ack,
    AuthError,
    DuplicateOrderError,
    ExecutionReport,
    FeeRates,
    RejectedError,
    UnavailableError,
)
from hean.exchange.bybit import parse
from hean.exchange.bybit.keys import load_credentials
from hean.exchange.bybit.reports import Tracker
from hean.exchange.bybit.rest import Rest

logger = logging.getLogger(__name__)

HISTORY_MS = 730 * 24 * 3600 * 1000  # how far back a unified account's executions go


def _now_ms() -> int:
    return time.time_ns() // parse.MS


class BybitExchange:
    """Bybit (V5, ``category`` linear by default) behind the :class:`Exchange` interface.

    Parameters
    ----------
    instruments : dict of int to InstrumentSpec
        The instruments to trade, by HEAN id; orders, fills and positions of other
        symbols are left out (with a warning).
    testnet : bool
        Use Bybit's testnet (the default).
    live : bool
        Must be True, together with ``testnet=False``, to trade on mainnet.
    api_key, api_secret : str, optional
        Default: ``$BYBIT_API_KEY`` and ``$BYBIT_API_SECRET``.
    session : pybit.unified_trading.HTTP, optional
        A session to use instead of building one (tests point one at a local server);
        it keeps its own endpoint, keys, timeout and recv_window, and gets the retry
        settings of :func:`configure_session`.
    category : str
        Bybit's product type.
    recv_window : int
        ms a signed request stays valid (Bybit's default 5000).
    settle_coin : str
        The settle coin that selects all positions and open orders at once.
    timeout : float
        Seconds to wait for each answer.
    lost_after_s : float
        See :mod:`.reports`: when a placement with a lost answer counts as never made.

    Notes
    -----
    One caller at a time: the adapter keeps the state of :meth:`reports` unlocked, as
    the router calls it from one thread.

    Raises
    ------
    ValueError
        For mainnet without ``live=True`` (or ``live=True`` on testnet), or keys given
        together with a session.
    AuthError
        If the API key or secret is missing.
    """

    def __init__(
        self,
        instruments: Mapping[int, InstrumentSpec],
        *,
        testnet: bool = True,
        live: bool = False,
        api_key: str | None = None,
        api_secret: str | None = None,
        session: Any = None,
        category: str = "linear",
        recv_window: int = 5000,
        settle_coin: str = "USDT",
        timeout: float = 10.0,
        lost_after_s: float = 60.0,
    ) -> None:
        if not testnet and not live:
            raise ValueError(
                "Bybit mainnet trades real money: pass live=True together with testnet=False "
                "to mean it (the default is testnet)"
            )
        if testnet and live:
            raise ValueError("live=True asks for mainnet, but testnet=True: pass testnet=False")
        self._specs = dict(instruments)
        self._by_symbol = {s.symbol: s for s in self._specs.values()}
        if session is None:
            from pybit.unified_trading import HTTP

            creds = load_credentials(api_key, api_secret)
            session = HTTP(
                testnet=testnet,
                api_key=creds.api_key,
                api_secret=creds.api_secret,
                recv_window=recv_window,
                timeout=timeout,
                max_retries=1,
                log_requests=False,
            )
        elif api_key is not None or api_secret is not None:
            raise ValueError("pass the keys or a session that has them, not both")
        elif not getattr(session, "api_key", None) or not getattr(session, "api_secret", None):
            raise AuthError("the given pybit session has no API key and secret")
        self._rest = Rest(session, category)
        self.name = "bybit-testnet" if testnet else "bybit"
        self._settle_coin = settle_coin
        self._tracker = Tracker(lost_after_s)
        self._warned: set[str] = set()

    def __repr__(self) -> str:  # never the session: pybit's dataclass repr shows the keys
        symbols = ", ".join(sorted(self._by_symbol))
        category = self._rest.category
        return f"BybitExchange({self.name}, category={category!r}, instruments=[{symbols}])"

    __str__ = __repr__

    def __reduce__(self):  # a pickle would carry the session, and with it the keys
        raise TypeError("BybitExchange cannot be pickled")

    def close(self) -> None:
        """Close the HTTP connections (the adapter can still be used; they reopen)."""
        client = getattr(self._rest.session, "client", None)
        if client is not None:
            client.close()

    # --- orders ---------------------------------------------------------------------

    def place(self, request: OrderRequest) -> Ack:
        """Send a new order: limit when ``price_ticks`` is set, else market.

        ``timeInForce`` is sent for limit orders only (Bybit fills market orders IOC).

        Raises
        ------
        DuplicateOrderError
            An order with this link id exists (an earlier try went through); it is
            followed by :meth:`reports` like any other.
        UnavailableError
            The outcome is unknown; the order is followed by :meth:`reports`, which
            reports it if Bybit has it.
        ExchangeError
            The other subclasses, as in :mod:`.errors`.
        """
        spec = self._spec(request.instrument)
        params: dict[str, Any] = {
            "symbol": spec.symbol,
            "side": request.side.value,
            "orderType": "Market" if request.price_ticks is None else "Limit",
            "qty": parse.qty_str(spec, request.qty_lots),
            "orderLinkId": request.link_id,
            "reduceOnly": request.reduce_only,
        }
        if request.price_ticks is not None:
            params["price"] = parse.price_str(spec, request.price_ticks)
            params["timeInForce"] = request.tif.value
        what = f"place {spec.symbol} {request.link_id}"
        sent_ms = _now_ms()
        try:
            response = self._rest.call(what, "place_order", params)
        except (UnavailableError, DuplicateOrderError) as exc:
            # The order may exist (or does): follow it so reports() tells what became of it.
            confirmed = isinstance(exc, DuplicateOrderError)
            self._tracker.track(request, spec, sent_ms, confirmed=confirmed)
            raise
        ack = self._ack(response, what, request.link_id)
        self._tracker.track(request, spec, ack.ts_ns // parse.MS, confirmed=True)
        return ack

    def amend(
        self,
        instrument: int,
        link_id: str,
        qty_lots: int | None = None,
        price_ticks: int | None = None,
    ) -> Ack:
        """Change an open order's total size and/or price (by ``orderLinkId``)."""
        spec = self._spec(instrument)
        if qty_lots is None and price_ticks is None:
            raise RejectedError(f"amend {link_id}: neither a size nor a price to change")
        if any(v is not None and v <= 0 for v in (qty_lots, price_ticks)):
            raise RejectedError(f"amend {link_id}: size and price must be positive")
        params: dict[str, Any] = {"symbol": spec.symbol, "orderLinkId": link_id}
        if qty_lots is not None:
            params["qty"] = parse.qty_str(spec, qty_lots)
        if price_ticks is not None:
            params["price"] = parse.price_str(spec, price_ticks)
        what = f"amend {spec.symbol} {link_id}"
        ack = self._ack(self._rest.call(what, "amend_order", params), what, link_id)
        self._tracker.amended(link_id, qty_lots)
        return ack

    def cancel(self, instrument: int, link_id: str) -> Ack:
        """Cancel an open order (by ``orderLinkId``)."""
        spec = self._spec(instrument)
        params = {"symbol": spec.symbol, "orderLinkId": link_id}
        what = f"cancel {spec.symbol} {link_id}"
        return self._ack(self._rest.call(what, "cancel_order", params), what, link_id)

    # --- queries --------------------------------------------------------------------

    def open_orders(self, instrument: int | None = None) -> list[Order]:
        """The orders resting now (all pages), with what has filled.

        Orders without an ``orderLinkId`` (placed by hand, not by HEAN) are left out.
        """
        params: dict[str, Any] = {"limit": 50}
        if instrument is None:
            params["settleCoin"] = self._settle_coin
        else:
            params["symbol"] = self._spec(instrument).symbol
        out = []
        for entry in self._rest.paged("open orders", "get_open_orders", params):
            spec = self._known(entry)
            link = entry.get("orderLinkId", "")
            if spec is None:
                continue
            if not link:
                self._warn(f"order {entry.get('orderId')}", "has no orderLinkId; left out")
                continue
            known = self._tracker.request(link)
            order, _ = parse.order(spec, entry, known.strategy if known else "")
            out.append(order)
        return out

    def positions(self) -> dict[int, int]:
        """Signed position in lots per instrument (all ``settle_coin`` positions, net of
        both sides in hedge mode), instruments held only."""
        params = {"settleCoin": self._settle_coin, "limit": 200}
        held: dict[int, int] = {}
        for entry in self._rest.paged("positions", "get_positions", params):
            spec = self._known(entry)
            if spec is not None:
                held[spec.id] = held.get(spec.id, 0) + parse.signed_lots(spec, entry)
        return {k: v for k, v in held.items() if v}

    def executions(self, since_ns: int = 0) -> list[Fill]:
        """Fills at or after ``since_ns``, oldest first, each once (by ``execId``).

        Bybit answers at most 7 days per query, so the span is read week by week, each
        week through all its pages; it keeps 730 days, so ``since_ns=0`` reads all of
        those (about 105 queries). Funding and settlement entries are not fills.
        """
        now = _now_ms()
        start = max(since_ns // parse.MS, now - HISTORY_MS)
        fills: list[Fill] = []
        seen: set[str] = set()
        for entry in sorted(self._rest.executions(start, now), key=parse.exec_sort_key):
            if entry.get("execType", "Trade") not in parse.FILL_EXEC_TYPES:
                continue
            spec = self._known(entry)
            if spec is None or entry.get("execId") in seen:
                continue
            seen.add(entry.get("execId"))
            fill = parse.fill(spec, entry)
            if fill.ts_ns >= since_ns:
                fills.append(fill)
        return fills

    def fee_rates(self, instrument: int) -> FeeRates:
        """The account's maker and taker rates for the instrument."""
        spec = self._spec(instrument)
        what = f"fee-rate {spec.symbol}"
        res = self._rest.result(what, "get_fee_rates", {"symbol": spec.symbol})
        return parse.fee_rates(res, spec.symbol)

    def reports(self) -> list[ExecutionReport]:
        """Events of the orders this adapter placed since the last call, oldest first,
        each once; how they are derived from REST queries is in :mod:`.reports`.
        No order followed, no query.
        """
        links = self._tracker.active()
        if not links:
            return []
        now = _now_ms()
        executions = self._rest.executions(min(self._tracker.exec_start_ms(), now), now)
        params = {"settleCoin": self._settle_coin, "limit": 50}
        listed = self._rest.paged("open orders", "get_open_orders", params)
        resting = {e.get("orderLinkId"): e for e in listed}
        states: dict[str, Mapping[str, Any]] = {}
        for link in links:
            if link in resting:
                states[link] = resting[link]
                continue
            symbol = self._spec(self._tracker.request(link).instrument).symbol
            what = f"order history {link}"
            query = {"symbol": symbol, "orderLinkId": link}
            found = parse.entries(self._rest.result(what, "get_order_history", query), what)
            if found:
                states[link] = found[0]
        return self._tracker.update(states, executions, now)

    # --- plumbing -------------------------------------------------------------------

    def _spec(self, instrument: int) -> InstrumentSpec:
        try:
            return self._specs[instrument]
        except KeyError:
            raise RejectedError(f"instrument {instrument} is not configured for Bybit") from None

    def _known(self, entry: Mapping[str, Any]) -> InstrumentSpec | None:
        symbol = str(entry.get("symbol", ""))
        spec = self._by_symbol.get(symbol)
        if spec is None:
            self._warn(symbol, "is not among the configured instruments; left out")
        return spec

    def _warn(self, subject: str, text: str) -> None:
        if subject not in self._warned:  # once each, not on every poll
            self._warned.add(subject)
            logger.warning("Bybit %s %s", subject, text)

    def _ack(self, response: Any, what: str, link_id: str) -> Ack:
        res = parse.result(response, what)
        ts = response.get("time")
        ts_ms = int(ts) if isinstance(ts, int) else _now_ms()
        link = str(res.get("orderLinkId") or link_id)
        return Ack(link, str(res.get("orderId", "")), ts_ms * parse.MS)
