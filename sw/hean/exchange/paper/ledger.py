"""Fills, fees and execution reports of the paper exchange.

The matching engines tell the :class:`Ledger` what happened (it is their
:class:`~hean.exchange.paper.orders.MatchSink`); the ledger turns each event into an
:class:`~hean.exchange.base.ExecutionReport` stamped with the exchange time plus a
response latency, and each execution into a :class:`~hean.domain.Fill` with its fee and
a unique ``exec_id``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Mapping
from decimal import Decimal

import numpy as np

from hean.domain import Fill, InstrumentSpec
from hean.exchange.base import ExecutionReport, FeeRates
from hean.exchange.paper.latency import LatencyModel
from hean.exchange.paper.orders import LiveOrder


def fee(
    rates: FeeRates, maker: bool, qty_lots: int, price_ticks: int, spec: InstrumentSpec
) -> Decimal:
    """The fee of an execution: rate times notional, notional = lots * ticks * unit value.

    Positive is paid, negative a rebate (a negative maker rate).
    """
    rate = rates.maker if maker else rates.taker
    return rate * (qty_lots * price_ticks) * spec.unit_value


class Ledger:
    """Records executions and queues reports for delivery.

    Parameters
    ----------
    specs : mapping of int to InstrumentSpec
        The instruments, for the unit value of a tick-lot.
    fees : FeeRates
        Maker and taker rates.
    latency : LatencyModel
        For the response latency of each report.
    rng : numpy.random.Generator
        The exchange's generator (one stream, so a seed fixes every draw).
    clock : callable
        The exchange time now, ns.
    """

    def __init__(
        self,
        specs: Mapping[int, InstrumentSpec],
        fees: FeeRates,
        latency: LatencyModel,
        rng: np.random.Generator,
        clock: Callable[[], int],
    ) -> None:
        self._specs = specs
        self._fees = fees
        self._latency = latency
        self._rng = rng
        self._clock = clock
        self._fills: list[Fill] = []
        self._outbox: deque[ExecutionReport] = deque()
        self._last_stamp = 0
        self._exec_seq = 0

    # the MatchSink side

    def filled(self, order: LiveOrder, qty: int, price: int, maker: bool) -> None:
        """Record an execution of ``order`` (already updated) and report it."""
        req = order.request
        self._exec_seq += 1
        fill = Fill(
            ts_ns=self._clock(),
            instrument=req.instrument,
            side=req.side,
            qty_lots=qty,
            price_ticks=price,
            fee=fee(self._fees, maker, qty, price, self._specs[req.instrument]),
            link_id=req.link_id,
            maker=maker,
            exec_id=f"paper-{self._exec_seq}",
        )
        self._fills.append(fill)
        self._outbox.append(ExecutionReport(self._stamp(), req.link_id, order.status, fill))

    def status(self, order: LiveOrder, reason: str = "") -> None:
        """Report ``order``'s status as it is now."""
        report = ExecutionReport(self._stamp(), order.link_id, order.status, None, reason)
        self._outbox.append(report)

    def _stamp(self) -> int:
        # reports travel one connection, in order: a short draw cannot overtake a long one
        stamp = max(self._clock() + self._latency.response_ns(self._rng), self._last_stamp)
        self._last_stamp = stamp
        return stamp

    # the query side

    def reports(self, until_ns: int) -> list[ExecutionReport]:
        """Reports delivered by ``until_ns`` and not returned before, oldest first."""
        out = []
        while self._outbox and self._outbox[0].ts_ns <= until_ns:
            out.append(self._outbox.popleft())
        return out

    def pending_reports(self) -> int:
        """Reports made but not yet delivered."""
        return len(self._outbox)

    def executions(self, since_ns: int = 0) -> list[Fill]:
        """Fills at or after ``since_ns``, oldest first."""
        # fills are made in exchange time, which never goes back: the list is sorted
        start = bisect_left(self._fills, since_ns, key=lambda f: f.ts_ns)
        return self._fills[start:]
