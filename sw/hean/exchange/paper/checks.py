"""Input checks of the paper exchange: HL2 message validity and request validation.

Requests that fail raise :class:`~hean.exchange.base.RejectedError` at once, in the
caller's thread, as a real exchange's REST answer would; bad messages are skipped, as
the HL2 validity rules require.
"""

from __future__ import annotations

from collections.abc import Container

import numpy as np

from hean.domain import OrderRequest, Side, TimeInForce
from hean.exchange.base import RejectedError
from hean.exchange.paper.book import MAX_PRICE
from hean.exchange.paper.orders import LiveOrder
from hean.wire import MsgType

#: Largest order size in lots (HL2 sizes are u32).
MAX_QTY = 0xFFFFFFFF


def is_int(value: object) -> bool:
    """An integer (Python or numpy), not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


_SET, _TRADE, _CLEAR = int(MsgType.SET), int(MsgType.TRADE), int(MsgType.CLEAR)
_HEARTBEAT = int(MsgType.HEARTBEAT)


def valid_message(mtype: int, side: int, price: int, qty: int) -> bool:
    """The HL2 validity rules that concern a message's own fields (spec, "Validity").

    The instrument rule is the caller's: an instrument not traded is ignored anyway.
    """
    if mtype in (_SET, _TRADE):  # ints, not enum members: once per message
        if side > 1 or not 0 < price <= MAX_PRICE:
            return False
        return mtype == _SET or qty > 0
    if mtype == _CLEAR:
        return side <= 2
    return mtype == _HEARTBEAT


def _check_qty(qty: object, what: str) -> None:
    if not is_int(qty) or not 0 < qty <= MAX_QTY:  # type: ignore[operator]
        raise RejectedError(f"{what} must be an integer of 1..{MAX_QTY} lots, got {qty!r}")


def _check_price(price: object, what: str) -> None:
    if not is_int(price) or not 0 < price <= MAX_PRICE:  # type: ignore[operator]
        raise RejectedError(f"{what} must be an integer of 1..{MAX_PRICE} ticks, got {price!r}")


def check_time(ts_ns: object) -> None:
    """A request time: an integer number of ns >= 0."""
    if not is_int(ts_ns) or ts_ns < 0:  # type: ignore[operator]
        raise RejectedError(f"request time must be an integer number of ns >= 0, got {ts_ns!r}")


def check_request(request: object, instruments: Container[int]) -> None:
    """Raise :class:`RejectedError` unless ``request`` is a well-formed order for us."""
    if not isinstance(request, OrderRequest):
        raise RejectedError(f"place() needs an OrderRequest, got {type(request).__name__}")
    if request.instrument not in instruments:
        raise RejectedError(f"instrument {request.instrument!r} is not traded here")
    if not isinstance(request.side, Side):
        raise RejectedError(f"side must be a hean.domain.Side, got {request.side!r}")
    if not isinstance(request.tif, TimeInForce):
        raise RejectedError(f"tif must be a hean.domain.TimeInForce, got {request.tif!r}")
    _check_qty(request.qty_lots, "order size")
    if request.price_ticks is not None:
        _check_price(request.price_ticks, "limit price")
    elif request.tif is TimeInForce.POST_ONLY:
        raise RejectedError("a market order cannot be post-only")
    check_time(request.ts_ns)


def check_amend(order: LiveOrder, qty_lots: object, price_ticks: object) -> None:
    """Raise :class:`RejectedError` unless the amend of an open ``order`` makes sense."""
    req = order.request
    if qty_lots is None and price_ticks is None:
        raise RejectedError("an amend needs a new size or a new price")
    if req.price_ticks is None or req.tif in (TimeInForce.IOC, TimeInForce.FOK):
        raise RejectedError(f"order {req.link_id!r} does not rest and cannot be amended")
    if qty_lots is not None:
        _check_qty(qty_lots, "new size")
        if qty_lots <= order.filled_lots:  # type: ignore[operator]
            raise RejectedError(f"new size {qty_lots} is not above the {order.filled_lots} filled")
    if price_ticks is not None:
        _check_price(price_ticks, "new price")
