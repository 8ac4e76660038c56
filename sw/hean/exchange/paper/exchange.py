"""The paper exchange: HEAN's :class:`~hean.exchange.base.Exchange`, matched locally.

It runs in exchange time. Feeding it HL2 messages (:meth:`PaperExchange.feed`,
:meth:`PaperExchange.on_message`) moves its clock to each message's ``exch_ts_ns`` and
its books with the message; :meth:`PaperExchange.advance` moves the clock without a
message. Requests (place, amend, cancel) are acknowledged at once, as a gateway would,
and reach the matching engine after an entry latency; reports come back after a
response latency. Everything runs in one thread on one random stream, so the same
seed, messages and calls give the same fills.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from hean.domain import Fill, InstrumentSpec, Order, OrderRequest
from hean.exchange.base import (
    BYBIT_VIP0,
    Ack,
    DuplicateOrderError,
    ExecutionReport,
    FeeRates,
    OrderNotFoundError,
    RejectedError,
)
from hean.exchange.paper.book import L2Book
from hean.exchange.paper.bulk import BULK_MIN, SLOW_RUN, apply_idle, first_due, valid_mask
from hean.exchange.paper.checks import check_amend, check_request, check_time, is_int, valid_message
from hean.exchange.paper.latency import FeedLatency, LatencyModel
from hean.exchange.paper.ledger import Ledger
from hean.exchange.paper.matching import Matcher
from hean.exchange.paper.orders import LiveOrder
from hean.exchange.paper.queue import QueueModel, RiskAverseQueueModel
from hean.wire import MSG_DTYPE


class PaperExchange:
    """A matching simulator over a replayed (or live) L2 feed.

    Parameters
    ----------
    instruments : mapping of int to InstrumentSpec
        The instruments traded, by HL2 id. Messages of other instruments are ignored.
    fees : FeeRates
        Maker and taker rates, for every instrument.
    queue_model : QueueModel, optional
        Queue position of resting orders; :class:`RiskAverseQueueModel` by default.
    latency : LatencyModel, optional
        Entry and response latency; none by default.
    seed : int
        Seed of the ``numpy.random.PCG64`` generator the latencies are drawn from.

    Attributes
    ----------
    feed_latency : FeedLatency
        ``recv_ts_ns - exch_ts_ns`` of the messages fed.
    bad_messages : int
        Messages ignored as bad by the HL2 validity rules.
    foreign_messages : int
        Valid messages of instruments not traded here, ignored.

    Raises
    ------
    ValueError
        For a bad argument (an instrument keyed by another id, a negative seed, ...).

    Notes
    -----
    A request is processed when the clock passes its arrival time: before the first
    message stamped later, or by :meth:`advance`. So even with no latency,
    ``advance(now)`` is what delivers a request at once.
    """

    name = "paper"

    def __init__(
        self,
        instruments: Mapping[int, InstrumentSpec],
        fees: FeeRates = BYBIT_VIP0,
        queue_model: QueueModel | None = None,
        latency: LatencyModel | None = None,
        seed: int = 0,
    ) -> None:
        if not isinstance(instruments, Mapping) or not instruments:
            raise ValueError("instruments must be a non-empty mapping of id -> InstrumentSpec")
        for key, spec in instruments.items():
            if not isinstance(spec, InstrumentSpec):
                raise ValueError(f"instrument {key!r} is {spec!r}, not an InstrumentSpec")
            if key != spec.id or not is_int(key) or not 0 <= key <= 255:
                raise ValueError(f"instrument key {key!r} must equal its spec's id (0..255)")
        if not isinstance(fees, FeeRates):
            raise ValueError(f"fees must be FeeRates, got {fees!r}")
        queue_model = RiskAverseQueueModel() if queue_model is None else queue_model
        if not isinstance(queue_model, QueueModel):
            raise ValueError(f"queue_model must be a QueueModel, got {queue_model!r}")
        latency = LatencyModel() if latency is None else latency
        if not isinstance(latency, LatencyModel):
            raise ValueError(f"latency must be a LatencyModel, got {latency!r}")
        if not is_int(seed) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
        self.queue_model = queue_model
        self.latency = latency
        self._specs = dict(instruments)
        self._fees = fees
        self._rng = np.random.Generator(np.random.PCG64(int(seed)))
        self._now = 0
        self._ledger = Ledger(self._specs, fees, latency, self._rng, lambda: self._now)
        self._matchers = {i: Matcher(s, queue_model, self._ledger) for i, s in self._specs.items()}
        self._orders: dict[str, LiveOrder] = {}
        # (arrival ns, sequence, action, argument tuple): the heap of requests in flight
        self._events: list[tuple[int, int, Callable[..., Any], tuple[Any, ...]]] = []
        self._event_seq = 0
        self._last_entry = 0
        self.feed_latency = FeedLatency()
        self.bad_messages = 0
        self.foreign_messages = 0

    # ------------------------------------------------------------------ time and feed

    @property
    def now(self) -> int:
        """Exchange time, ns: the latest message, event or :meth:`advance` reached."""
        return self._now

    def on_message(self, row: np.void | tuple[int, ...]) -> None:
        """Apply one HL2 message: first the requests arriving before it, then the message.

        Parameters
        ----------
        row : numpy.void or tuple
            One element of a ``hean.wire.MSG_DTYPE`` array, or its nine fields.

        Raises
        ------
        ValueError
            For a row that is not an HL2 message.
        """
        if isinstance(row, np.void):
            if row.dtype != MSG_DTYPE:
                raise ValueError(f"row has dtype {row.dtype}, not hean.wire.MSG_DTYPE")
            fields = row.item()
        else:
            fields = tuple(row)
            if len(fields) != len(MSG_DTYPE.names) or not all(is_int(v) for v in fields):
                raise ValueError(f"an HL2 message has nine integer fields, got {row!r}")
        self.feed_latency.observe(int(fields[7]), int(fields[8]))
        self._ingest(*(int(v) for v in fields))

    def feed(self, msgs: np.ndarray) -> None:
        """Apply an array of HL2 messages in order (see :meth:`on_message`).

        While no order of ours rests and no request is due, runs of messages are applied
        at once (:mod:`~hean.exchange.paper.bulk`), with the same result as one by one.

        Raises
        ------
        ValueError
            For an array that is not of ``hean.wire.MSG_DTYPE``.
        """
        if not isinstance(msgs, np.ndarray) or msgs.dtype != MSG_DTYPE or msgs.ndim != 1:
            raise ValueError("feed() needs a 1-d numpy array of hean.wire.MSG_DTYPE")
        ingest, matchers = self._ingest, self._matchers.values()
        if msgs.size < BULK_MIN:  # too few for the array passes below to pay
            observe = self.feed_latency.observe
            for fields in msgs.tolist():
                observe(fields[7], fields[8])
                ingest(*fields)
            return
        self.feed_latency.observe_messages(msgs)
        valid, exch = valid_mask(msgs), msgs["exch_ts_ns"]
        pos, n = 0, msgs.size
        while pos < n:
            resting = not all(m.idle for m in matchers)
            if not resting:
                # nothing of ours rests: in bulk up to the message a request runs before
                end = first_due(valid, exch, pos, self._events[0][0]) if self._events else n
                if end - pos >= BULK_MIN:
                    bad, latest, foreign = apply_idle(msgs[pos:end], valid[pos:end], self._matchers)
                    self.bad_messages += bad
                    self.foreign_messages += foreign
                    self._now = max(self._now, latest)
                    pos = end
                    continue
            # one message (it runs a request), a run too short for the bulk path, or,
            # while orders rest, a short run before looking again whether it applies
            stop = min(n, pos + SLOW_RUN) if resting else max(pos + 1, end)
            for fields in msgs[pos:stop].tolist():  # Python ints: faster than numpy's
                ingest(*fields)
            pos = stop

    def _ingest(
        self, mtype: int, side: int, flags: int, inst: int, seq: int, price: int, qty: int,
        exch_ts: int, recv_ts: int,
    ) -> None:  # fmt: skip
        if not valid_message(mtype, side, price, qty):
            # a bad message changes nothing, not even the clock: its time may be garbage
            self.bad_messages += 1
            return
        if exch_ts:
            # requests arriving at the message's own time see the whole exchange update
            # (its messages share one timestamp), so only earlier ones go first
            self._run(exch_ts, inclusive=False)
            if exch_ts > self._now:
                self._now = exch_ts
        matcher = self._matchers.get(inst)
        if matcher is None:
            self.foreign_messages += 1
            return
        matcher.apply(mtype, side, flags, price, qty)

    def advance(self, ts_ns: int) -> None:
        """Process every request arriving at or before ``ts_ns`` and move the clock there.

        The clock never goes back: a time before :attr:`now` processes what is due and
        leaves the clock as it is.

        Raises
        ------
        ValueError
            For a time that is not an integer >= 0.
        """
        if not is_int(ts_ns) or ts_ns < 0:
            raise ValueError(f"time must be an integer number of ns >= 0, got {ts_ns!r}")
        self._run(int(ts_ns), inclusive=True)
        self._now = max(self._now, int(ts_ns))

    def _run(self, until: int, inclusive: bool) -> None:
        events = self._events
        while events and (events[0][0] < until or (inclusive and events[0][0] == until)):
            ts, _, action, args = heapq.heappop(events)
            if ts > self._now:
                self._now = ts
            action(*args)

    def _send(self, t: int, action: Callable[..., Any], *args: Any) -> None:
        """Schedule a request sent at ``t`` to reach the engine after the entry latency."""
        # one connection, in order: a request never overtakes an earlier one
        arrive = max(t + self.latency.entry_ns(self._rng), self._last_entry)
        self._last_entry = arrive
        self._event_seq += 1
        heapq.heappush(self._events, (arrive, self._event_seq, action, args))

    def _sent_at(self, ts_ns: int | None) -> int:
        if ts_ns is None:
            return self._now
        check_time(ts_ns)
        return max(self._now, int(ts_ns))

    # ------------------------------------------------------------------ requests

    def place(self, request: OrderRequest) -> Ack:
        """Send a new order; it reaches the engine after the entry latency.

        The order is sent at ``max(now, request.ts_ns)``: a request stamped with the
        strategy's time (a message's receive time) is not sent before the strategy saw
        the message.

        Raises
        ------
        DuplicateOrderError
            If an order with this ``link_id`` was placed before.
        RejectedError
            For an unknown instrument or a malformed request.
        """
        check_request(request, self._specs)
        if request.link_id in self._orders:
            raise DuplicateOrderError(f"orderLinkId {request.link_id!r} is already used")
        t = self._sent_at(request.ts_ns)
        order = LiveOrder(request, f"paper-order-{len(self._orders) + 1}")
        self._orders[request.link_id] = order
        self._send(t, self._matchers[request.instrument].arrive, order)
        return Ack(request.link_id, order.order_id, t)

    def amend(
        self, instrument: int, link_id: str, qty_lots: int | None = None,
        price_ticks: int | None = None, *, ts_ns: int | None = None,
    ) -> Ack:  # fmt: skip
        """Change an open limit order's total size and/or price, after the entry latency.

        If the order fills or ends before the amend arrives, the amend does nothing.

        Raises
        ------
        OrderNotFoundError
            For an unknown or finished order.
        RejectedError
            For no change given, a bad size or price, a size not above what has
            filled, or an order that cannot rest (market, IOC, FOK).
        """
        order = self._open(instrument, link_id)
        check_amend(order, qty_lots, price_ticks)
        t = self._sent_at(ts_ns)
        qty = None if qty_lots is None else int(qty_lots)
        price = None if price_ticks is None else int(price_ticks)
        self._send(t, self._matchers[instrument].amend, order, qty, price)
        return Ack(link_id, order.order_id, t)

    def cancel(self, instrument: int, link_id: str, *, ts_ns: int | None = None) -> Ack:
        """Cancel an open order (also one still in flight), after the entry latency.

        A fill that happens before the cancel arrives stands, as on a real exchange.

        Raises
        ------
        OrderNotFoundError
            For an unknown or finished order.
        """
        order = self._open(instrument, link_id)
        t = self._sent_at(ts_ns)
        self._send(t, self._matchers[instrument].cancel, order)
        return Ack(link_id, order.order_id, t)

    def _open(self, instrument: int, link_id: str) -> LiveOrder:
        order = self._orders.get(link_id)
        if order is None or order.request.instrument != instrument or order.done:
            raise OrderNotFoundError(f"no open order {link_id!r} on instrument {instrument}")
        return order

    # ------------------------------------------------------------------ queries

    def _matcher(self, instrument: int) -> Matcher:
        matcher = self._matchers.get(instrument)
        if matcher is None:
            raise RejectedError(f"instrument {instrument!r} is not traded here")
        return matcher

    def open_orders(self, instrument: int | None = None) -> list[Order]:
        """Orders resting now (arrived, not finished), in time priority.

        Raises
        ------
        RejectedError
            For an instrument not traded here.
        """
        matchers = self._matchers.values() if instrument is None else [self._matcher(instrument)]
        return [o.snapshot() for m in matchers for o in m.resting()]

    def order(self, link_id: str) -> Order:
        """The order placed with ``link_id``, in whatever state (NEW while in flight).

        Raises
        ------
        OrderNotFoundError
            If no order was placed with this link id.
        """
        order = self._orders.get(link_id)
        if order is None:
            raise OrderNotFoundError(f"no order {link_id!r}")
        return order.snapshot()

    def positions(self) -> dict[int, int]:
        """Signed position in lots per instrument (instruments held only)."""
        return {i: m.position for i, m in self._matchers.items() if m.position}

    def executions(self, since_ns: int = 0) -> list[Fill]:
        """Fills at or after exchange time ``since_ns``, oldest first.

        Raises
        ------
        ValueError
            For a time that is not an integer.
        """
        if not is_int(since_ns):
            raise ValueError(f"since_ns must be an integer number of ns, got {since_ns!r}")
        return self._ledger.executions(int(since_ns))

    def fee_rates(self, instrument: int) -> FeeRates:
        """The maker and taker rates (the same for every instrument).

        Raises
        ------
        RejectedError
            For an instrument not traded here.
        """
        self._matcher(instrument)
        return self._fees

    def reports(self, until_ns: int | None = None) -> list[ExecutionReport]:
        """Reports delivered by ``until_ns`` (default: :attr:`now`) not returned before.

        A report is stamped with the exchange time of its event plus a response
        latency, so it is held back until the clock (or ``until_ns``) passes its stamp.

        Raises
        ------
        ValueError
            For a time that is not an integer.
        """
        if until_ns is None:
            return self._ledger.reports(self._now)
        if not is_int(until_ns):
            raise ValueError(f"until_ns must be an integer number of ns, got {until_ns!r}")
        return self._ledger.reports(int(until_ns))

    def book(self, instrument: int) -> L2Book:
        """The instrument's full L2 book as fed (read it, do not change it).

        Raises
        ------
        RejectedError
            For an instrument not traded here.
        """
        return self._matcher(instrument).book

    def in_flight(self) -> int:
        """Requests sent that have not reached the engine yet."""
        return len(self._events)
