"""The order state machine: which :class:`~hean.domain.OrderStatus` may follow which.

An order starts NEW when the router journals its intent, before it is sent, and ends in
one of the four terminal states (FILLED, CANCELLED, REJECTED, EXPIRED), which it never
leaves. In between:

========================  ==============================================================
from                      to
========================  ==============================================================
NEW                       ACCEPTED, REJECTED, PARTIALLY_FILLED, FILLED, CANCELLED, EXPIRED
ACCEPTED                  PARTIALLY_FILLED, FILLED, CANCELLED, EXPIRED
PARTIALLY_FILLED          PARTIALLY_FILLED, FILLED, CANCELLED, EXPIRED
FILLED, CANCELLED,        nothing
REJECTED, EXPIRED
========================  ==============================================================

Why these and no others:

* NEW may go straight to any outcome, because the acknowledgement is not an event of
  its own on Bybit's streams: an IOC or market order usually reports its first fill (or
  FILLED) before, or instead of, an ACCEPTED; an IOC that finds no liquidity, or a
  post-only order that would cross, comes back CANCELLED without ever resting; and a
  cancel can overtake a lost acknowledgement. Forbidding NEW -> FILLED would make the
  commonest market order illegal.
* REJECTED is reachable only from NEW: the exchange refuses an order when it is placed.
  Once accepted, a refused amend or cancel leaves the order as it was; it does not
  reject it.
* PARTIALLY_FILLED -> PARTIALLY_FILLED is a further partial fill: the status stays, the
  filled size grows. It is the only transition from a status to itself; every other
  repeat (ACCEPTED twice, say) is a replayed report, which the caller recognizes and
  ignores (:meth:`hean.execution.journal.Journal.status` returns False for it) rather
  than a transition.
* Nothing goes back to NEW or ACCEPTED: a filled lot cannot be unfilled.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from hean.domain import Order, OrderRequest, OrderStatus, Side, TimeInForce

_S = OrderStatus

#: The statuses each status may move to. Terminal statuses map to the empty set.
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    _S.NEW: frozenset(
        {_S.ACCEPTED, _S.REJECTED, _S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELLED, _S.EXPIRED}
    ),
    _S.ACCEPTED: frozenset({_S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELLED, _S.EXPIRED}),
    _S.PARTIALLY_FILLED: frozenset({_S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELLED, _S.EXPIRED}),
    _S.FILLED: frozenset(),
    _S.CANCELLED: frozenset(),
    _S.REJECTED: frozenset(),
    _S.EXPIRED: frozenset(),
}

#: The statuses of an order that may still trade.
OPEN_STATUSES: frozenset[OrderStatus] = frozenset({_S.NEW, _S.ACCEPTED, _S.PARTIALLY_FILLED})


class TransitionError(ValueError):
    """A status change the state machine does not allow.

    Parameters
    ----------
    old, new : OrderStatus
        The status the order has and the one asked for.
    link_id : str, optional
        The order, named in the message when given.
    """

    def __init__(self, old: OrderStatus, new: OrderStatus, link_id: str = "") -> None:
        who = f"order {link_id}: " if link_id else ""
        if old.terminal:
            why = f"{old.value} is terminal"
        elif new is OrderStatus.NEW:
            why = "an order is NEW only until the exchange answers"
        elif new is OrderStatus.REJECTED:
            why = "only a NEW order can be rejected"
        elif old is new:
            why = f"{old.value} does not follow itself"
        else:
            allowed = ", ".join(sorted(s.value for s in TRANSITIONS[old]))
            why = f"{old.value} may become only {allowed}"
        super().__init__(f"{who}{old.value} -> {new.value} is not allowed ({why})")
        self.old = old
        self.new = new
        self.link_id = link_id


def allowed(old: OrderStatus, new: OrderStatus) -> bool:
    """Whether ``old -> new`` is a transition of the state machine."""
    return new in TRANSITIONS[old]


def check_transition(old: OrderStatus, new: OrderStatus, link_id: str = "") -> None:
    """Raise unless ``old -> new`` is allowed.

    Parameters
    ----------
    old, new : OrderStatus
    link_id : str, optional
        Named in the error message.

    Raises
    ------
    TransitionError
        For any pair outside :data:`TRANSITIONS`, a repeat of the same status included
        (except PARTIALLY_FILLED -> PARTIALLY_FILLED, a further partial fill).
    """
    if new not in TRANSITIONS[old]:
        raise TransitionError(old, new, link_id)


@dataclass(frozen=True, slots=True)
class OrderState:
    """One order as the journal knows it: what was asked, where it stands, what filled.

    ``filled_cost`` is the sum of fill size times price (tick-lots), as in
    :class:`hean.domain.Order`; ``order_id`` is the exchange's id once known;
    ``reason`` is the latest reason reported (why it was rejected, cancelled, expired).
    """

    link_id: str
    instrument: int
    side: Side
    qty_lots: int
    price_ticks: int | None
    strategy: str
    reduce_only: bool
    tif: TimeInForce
    created_ns: int
    status: OrderStatus = OrderStatus.NEW
    filled_lots: int = 0
    filled_cost: int = 0
    order_id: str = ""
    reason: str = ""
    updated_ns: int = 0

    @classmethod
    def from_request(cls, request: OrderRequest) -> OrderState:
        """The NEW state of ``request``, before it is sent."""
        return cls(
            request.link_id, request.instrument, request.side, request.qty_lots,
            request.price_ticks, request.strategy, request.reduce_only, request.tif,
            request.ts_ns, updated_ns=request.ts_ns,
        )  # fmt: skip

    @property
    def request(self) -> OrderRequest:
        """The request this order was journaled from."""
        return OrderRequest(
            self.created_ns, self.instrument, self.side, self.qty_lots, self.price_ticks,
            self.strategy, self.link_id, self.reduce_only, self.tif,
        )  # fmt: skip

    @property
    def open(self) -> bool:
        """Whether the order may still trade (NEW, ACCEPTED or PARTIALLY_FILLED)."""
        return self.status in OPEN_STATUSES

    @property
    def remaining_lots(self) -> int:
        return self.qty_lots - self.filled_lots

    @property
    def avg_fill_ticks(self) -> float | None:
        return self.filled_cost / self.filled_lots if self.filled_lots else None

    def to_order(self) -> Order:
        """The same order as a :class:`hean.domain.Order`."""
        return Order(self.request, self.status, self.filled_lots, self.filled_cost)

    def with_status(
        self, status: OrderStatus, ts_ns: int, reason: str = "", order_id: str = ""
    ) -> OrderState:
        """The order after a status change.

        Raises
        ------
        TransitionError
            If the state machine forbids it.
        """
        check_transition(self.status, status, self.link_id)
        return replace(
            self, status=status, updated_ns=ts_ns, reason=reason or self.reason,
            order_id=order_id or self.order_id,
        )  # fmt: skip

    def with_fill(self, qty_lots: int, price_ticks: int, ts_ns: int) -> OrderState:
        """The order after a fill of ``qty_lots`` at ``price_ticks``.

        An open order becomes PARTIALLY_FILLED or FILLED. A CANCELLED or EXPIRED order
        keeps its status: a fill reported after the cancel happened before it, and the
        lots are real (see :mod:`hean.execution.journal`).

        Raises
        ------
        ValueError
            If the fill is not positive, overfills the order, or the order is FILLED or
            REJECTED (neither can trade again).
        """
        if qty_lots <= 0 or price_ticks <= 0:
            raise ValueError(f"order {self.link_id}: a fill has a positive size and price")
        if self.status in (OrderStatus.FILLED, OrderStatus.REJECTED):
            raise ValueError(f"order {self.link_id} is {self.status.value}: it cannot fill")
        if qty_lots > self.remaining_lots:
            raise ValueError(
                f"order {self.link_id}: a fill of {qty_lots} lots overfills it "
                f"({self.filled_lots} of {self.qty_lots} filled)"
            )
        lots = self.filled_lots + qty_lots
        status = self.status
        if self.open:
            status = OrderStatus.FILLED if lots == self.qty_lots else OrderStatus.PARTIALLY_FILLED
            check_transition(self.status, status, self.link_id)
        return replace(
            self, status=status, filled_lots=lots,
            filled_cost=self.filled_cost + qty_lots * price_ticks, updated_ns=ts_ns,
        )  # fmt: skip
