"""Order events for :meth:`BybitExchange.reports`, from polled REST state.

Bybit pushes order and execution events on its private WebSocket; this adapter stays on
REST, so it derives the events from what it polls. On each call the adapter reads, for
the orders it placed that are not yet finished:

1. the executions since the last call (``/v5/execution/list`` from a watermark that
   trails the previous call by :data:`OVERLAP_MS`, so an execution that shows up late is
   still seen; duplicates are dropped by ``execId``);
2. the open orders (``/v5/order/realtime``, one paginated query for all of them);
3. for each tracked order that is not open, its entry in ``/v5/order/history``.

:class:`Tracker` turns that into events, per order in this order, each one exactly once:

* ACCEPTED, the first time the order is seen at Bybit (open, in history, or filled);
* one PARTIALLY_FILLED or FILLED report per execution, carrying the :class:`Fill`
  (FILLED when Bybit says nothing is left of the order, ``leavesQty`` 0);
* CANCELLED or REJECTED, with Bybit's ``cancelType``/``rejectReason`` as the reason,
  only once every execution the order history counts (``cumExecQty``) has been
  reported, so the fills of a partly filled order always come before its end.

Nothing is marked as reported until all queries of the call have succeeded: a call that
raises loses nothing, and the next one reports it.

A placement whose answer was lost (an UnavailableError) is tracked too. If Bybit still
has no trace of it ``lost_after_s`` after it was sent, it is reported REJECTED with the
reason "not found at Bybit", since an order Bybit never created can have no other event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from hean.domain import Fill, InstrumentSpec, OrderRequest, OrderStatus
from hean.exchange.base import ExecutionReport
from hean.exchange.bybit import parse

#: How far each execution query reaches back before the previous one, in ms.
OVERLAP_MS = 60_000


@dataclass(slots=True)
class _Tracked:
    request: OrderRequest
    spec: InstrumentSpec
    sent_ms: int
    confirmed: bool  # Bybit acknowledged the placement
    seen: bool = False  # ACCEPTED (or REJECTED) reported
    filled_lots: int = 0
    exec_ids: set[str] = field(default_factory=set)


class Tracker:
    """The orders this adapter placed, and what has been reported about each.

    Parameters
    ----------
    lost_after_s : float
        How long an unacknowledged placement may stay invisible at Bybit before it is
        reported as never created.
    """

    def __init__(self, lost_after_s: float = 60.0) -> None:
        self._orders: dict[str, _Tracked] = {}
        self._lost_after_ms = int(lost_after_s * 1000)
        self._watermark_ms: int | None = None

    def track(
        self, request: OrderRequest, spec: InstrumentSpec, sent_ms: int, *, confirmed: bool
    ) -> None:
        """Follow ``request`` (sent at ``sent_ms``, Bybit's clock when it answered)."""
        known = self._orders.get(request.link_id)
        if known is not None:
            known.confirmed = known.confirmed or confirmed
            return
        self._orders[request.link_id] = _Tracked(request, spec, sent_ms, confirmed)

    def amended(self, link_id: str, qty_lots: int | None) -> None:
        known = self._orders.get(link_id)
        if known is not None and qty_lots is not None:
            known.request = known.request.replace(qty_lots=qty_lots)

    def request(self, link_id: str) -> OrderRequest | None:
        known = self._orders.get(link_id)
        return None if known is None else known.request

    def active(self) -> list[str]:
        """Link ids of the orders still followed, oldest first."""
        return list(self._orders)

    def exec_start_ms(self) -> int:
        """Where the next execution query starts (only valid while orders are active)."""
        # Executions of an order cannot predate its placement, and those before the
        # watermark were read by an earlier call.
        first = min(t.sent_ms for t in self._orders.values()) - OVERLAP_MS
        return first if self._watermark_ms is None else max(first, self._watermark_ms)

    def update(
        self,
        states: Mapping[str, Mapping[str, Any]],
        executions: Iterable[Mapping[str, Any]],
        now_ms: int,
    ) -> list[ExecutionReport]:
        """The new events, given the orders' entries and the executions just read.

        Parameters
        ----------
        states : mapping
            ``orderLinkId`` -> the order's open-orders or order-history entry, for the
            tracked orders Bybit knows.
        executions : iterable of mapping
            Execution-list entries (any order, duplicates allowed).
        now_ms : int
            When the queries were made (local clock, ms).
        """
        fills: dict[str, list[Mapping[str, Any]]] = {}
        batch: set[Any] = set()  # the overlapping week windows can list one execution twice
        for entry in sorted(executions, key=parse.exec_sort_key):
            link = entry.get("orderLinkId", "")
            known = self._orders.get(link)
            if known is None or entry.get("execType", "Trade") not in parse.FILL_EXEC_TYPES:
                continue
            exec_id = entry.get("execId")
            if exec_id in known.exec_ids or exec_id in batch:
                continue
            batch.add(exec_id)
            fills.setdefault(link, []).append(entry)
        # Work on copies and commit only when every order went through: an answer that
        # cannot be read (BadResponseError) leaves the state as it was, nothing half-told.
        events: list[ExecutionReport] = []
        after: dict[str, _Tracked] = {}
        for link, known in self._orders.items():
            t = replace(known, exec_ids=set(known.exec_ids))
            out, done = self._events(t, states.get(link), fills.get(link, []), now_ms)
            events.extend(out)
            if not done:
                after[link] = t
        self._orders = after
        self._watermark_ms = now_ms - OVERLAP_MS
        events.sort(key=lambda r: r.ts_ns)  # stable: one order's events keep their order
        return events

    def _events(
        self,
        t: _Tracked,
        state: Mapping[str, Any] | None,
        fills: list[Mapping[str, Any]],
        now_ms: int,
    ) -> tuple[list[ExecutionReport], bool]:
        """``t``'s new events (``t`` updated in place), and whether it is finished."""
        link = t.request.link_id
        out: list[ExecutionReport] = []
        status = None if state is None else parse.status(state, f"order {link}")
        if not t.seen and (state is not None or fills):
            t.seen = True
            if status is not OrderStatus.REJECTED:
                ts = (
                    parse.ms_field(state, "createdTime", f"order {link}")
                    if state is not None
                    else parse.ms_field(fills[0], "execTime", f"order {link}")
                )
                out.append(ExecutionReport(ts * parse.MS, link, OrderStatus.ACCEPTED))
        done = False
        cum = None if state is None else parse.lots(t.spec, state, "cumExecQty", f"order {link}")
        for entry in fills:
            f: Fill = parse.fill(t.spec, entry)
            t.exec_ids.add(f.exec_id)
            t.filled_lots += f.qty_lots
            left = parse.decimal(entry, "leavesQty", f"execution {f.exec_id}")
            # Nothing left, or the order is Filled and this is the last of its fills
            # (should Bybit's leavesQty of tied executions come out of order).
            last = status is OrderStatus.FILLED and cum is not None and t.filled_lots >= cum
            now = OrderStatus.FILLED if left == 0 or last else OrderStatus.PARTIALLY_FILLED
            out.append(ExecutionReport(f.ts_ns, link, now, fill=f))
            done = done or now is OrderStatus.FILLED
        ended = status is not None and status.terminal
        if ended and not done and cum is not None and t.filled_lots >= cum:
            # Every fill the order counts is out, so its end may follow.
            if status is not OrderStatus.FILLED:
                ts = parse.ms_field(state, "updatedTime", f"order {link}") * parse.MS
                out.append(ExecutionReport(ts, link, status, reason=parse.reason(state)))
            done = True
        if not t.seen and not t.confirmed and now_ms - t.sent_ms >= self._lost_after_ms:
            out.append(
                ExecutionReport(
                    now_ms * parse.MS,
                    link,
                    OrderStatus.REJECTED,
                    reason="not found at Bybit after a placement whose answer was lost",
                )
            )
            done = True
        # Bybit's clocks for one order (createdTime, execTime, updatedTime) need not be
        # strictly ordered; the events of one order keep their logical order regardless.
        for i in range(1, len(out)):
            if out[i].ts_ns < out[i - 1].ts_ns:
                out[i] = replace(out[i], ts_ns=out[i - 1].ts_ns)
        return out, done
