"""The order state machine: every pair of statuses, and the OrderState record."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from hean.domain import Order, OrderRequest, OrderStatus, Side, TimeInForce
from hean.execution.state import (
    OPEN_STATUSES,
    TRANSITIONS,
    OrderState,
    TransitionError,
    allowed,
    check_transition,
)

S = OrderStatus

# The table written out again by hand, so that a change to TRANSITIONS shows up here.
ALLOWED = {
    (S.NEW, S.ACCEPTED),
    (S.NEW, S.REJECTED),
    (S.NEW, S.PARTIALLY_FILLED),
    (S.NEW, S.FILLED),  # an IOC / market order filled before its acknowledgement
    (S.NEW, S.CANCELLED),  # an IOC that found nothing, a post-only that would cross
    (S.NEW, S.EXPIRED),
    (S.ACCEPTED, S.PARTIALLY_FILLED),
    (S.ACCEPTED, S.FILLED),
    (S.ACCEPTED, S.CANCELLED),
    (S.ACCEPTED, S.EXPIRED),
    (S.PARTIALLY_FILLED, S.PARTIALLY_FILLED),  # a further partial fill
    (S.PARTIALLY_FILLED, S.FILLED),
    (S.PARTIALLY_FILLED, S.CANCELLED),
    (S.PARTIALLY_FILLED, S.EXPIRED),
}

PAIRS = list(itertools.product(OrderStatus, OrderStatus))


@pytest.mark.parametrize(("old", "new"), PAIRS, ids=[f"{a.name}-{b.name}" for a, b in PAIRS])
def test_every_pair(old: OrderStatus, new: OrderStatus) -> None:
    assert allowed(old, new) is ((old, new) in ALLOWED)
    if (old, new) in ALLOWED:
        check_transition(old, new)
    else:
        with pytest.raises(TransitionError) as e:
            check_transition(old, new, "L1")
        assert e.value.old is old and e.value.new is new and e.value.link_id == "L1"
        assert f"order L1: {old.value} -> {new.value} is not allowed" in str(e.value)


def test_table_covers_every_status_and_terminals_lead_nowhere() -> None:
    assert set(TRANSITIONS) == set(OrderStatus)
    for status, targets in TRANSITIONS.items():
        assert (not targets) is status.terminal
    assert {s for s in OrderStatus if not s.terminal} == OPEN_STATUSES


@pytest.mark.parametrize(
    ("old", "new", "why"),
    [
        (S.FILLED, S.CANCELLED, "Filled is terminal"),
        (S.ACCEPTED, S.NEW, "NEW only until the exchange answers"),
        (S.ACCEPTED, S.REJECTED, "only a NEW order can be rejected"),
        (S.ACCEPTED, S.ACCEPTED, "Accepted does not follow itself"),
    ],
)
def test_errors_say_why(old: OrderStatus, new: OrderStatus, why: str) -> None:
    with pytest.raises(TransitionError, match=why):
        check_transition(old, new)


def test_transition_error_is_a_value_error() -> None:
    assert issubclass(TransitionError, ValueError)


def request(qty: int = 10, price: int | None = 100) -> OrderRequest:
    return OrderRequest(5, 2, Side.SELL, qty, price, "imp", "L1", True, TimeInForce.IOC)


def test_order_state_round_trips_its_request() -> None:
    r = request()
    o = OrderState.from_request(r)
    assert o.request == r and o.status is S.NEW and o.open and o.remaining_lots == 10
    assert o.created_ns == o.updated_ns == 5 and o.avg_fill_ticks is None
    assert o.to_order() == Order(r)
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.status = S.FILLED  # type: ignore[misc]


def test_order_state_with_status() -> None:
    o = OrderState.from_request(request()).with_status(S.ACCEPTED, 7, order_id="X")
    assert (o.status, o.updated_ns, o.order_id) == (S.ACCEPTED, 7, "X")
    c = o.with_status(S.CANCELLED, 8, reason="user")
    assert c.status is S.CANCELLED and c.reason == "user" and c.order_id == "X" and not c.open
    with pytest.raises(TransitionError):
        c.with_status(S.ACCEPTED, 9)


def test_order_state_with_fill() -> None:
    o = OrderState.from_request(request())
    p = o.with_fill(4, 100, 6)
    assert (p.status, p.filled_lots, p.filled_cost, p.remaining_lots) == (
        S.PARTIALLY_FILLED, 4, 400, 6,
    )  # fmt: skip
    p2 = p.with_fill(2, 110, 7)
    assert p2.status is S.PARTIALLY_FILLED and p2.filled_cost == 620
    f = p2.with_fill(4, 100, 8)
    assert f.status is S.FILLED and f.filled_lots == 10 and f.avg_fill_ticks == 102.0
    assert OrderState.from_request(request()).with_fill(10, 100, 6).status is S.FILLED
    assert f.to_order() == Order(request(), S.FILLED, 10, 1020)


def test_order_state_fill_refusals() -> None:
    o = OrderState.from_request(request())
    with pytest.raises(ValueError, match="overfills"):
        o.with_fill(11, 100, 6)
    with pytest.raises(ValueError, match="positive"):
        o.with_fill(0, 100, 6)
    with pytest.raises(ValueError, match="cannot fill"):
        o.with_fill(10, 100, 6).with_fill(1, 100, 7)
    with pytest.raises(ValueError, match="cannot fill"):
        o.with_status(S.REJECTED, 6).with_fill(1, 100, 7)


def test_a_late_fill_keeps_a_cancelled_order_cancelled() -> None:
    c = OrderState.from_request(request()).with_fill(3, 100, 6).with_status(S.CANCELLED, 7)
    late = c.with_fill(2, 100, 8)
    assert late.status is S.CANCELLED and late.filled_lots == 5
