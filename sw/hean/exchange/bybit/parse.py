"""Bybit V5 answers as HEAN values, and HEAN values as Bybit's decimal strings.

Every price and size crosses this module exactly: out, ``ticks * tickSize`` and
``lots * qtyStep`` written as plain decimals (never ``1E-7``); in, a decimal that is
not a whole number of the instrument's ticks or lots is a :class:`BadResponseError`
naming the symbol, the field and the value, never silently rounded.

Bybit's ``orderStatus`` values map onto :class:`hean.domain.OrderStatus` as:

=========================  =================
Bybit                      HEAN
=========================  =================
New, Untriggered,          ACCEPTED
Triggered
PartiallyFilled            PARTIALLY_FILLED
Filled                     FILLED
Cancelled, Deactivated,    CANCELLED
PartiallyFilledCanceled
Rejected                   REJECTED
=========================  =================

Bybit has no "expired" status for linear contracts: the unfilled rest of an IOC or FOK
order, or a post-only order that would have crossed, is ``Cancelled`` with the reason in
``cancelType``/``rejectReason``, which the reports carry.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from hean.domain import Fill, InstrumentSpec, Order, OrderRequest, OrderStatus, Side, TimeInForce
from hean.exchange.base import FeeRates
from hean.exchange.bybit.errors import BadResponseError

STATUSES: dict[str, OrderStatus] = {
    "New": OrderStatus.ACCEPTED,
    "Untriggered": OrderStatus.ACCEPTED,
    "Triggered": OrderStatus.ACCEPTED,
    "PartiallyFilled": OrderStatus.PARTIALLY_FILLED,
    "Filled": OrderStatus.FILLED,
    "Cancelled": OrderStatus.CANCELLED,
    "Deactivated": OrderStatus.CANCELLED,
    "PartiallyFilledCanceled": OrderStatus.CANCELLED,
    "Rejected": OrderStatus.REJECTED,
}

#: Executions that move the position. Funding and Settle entries are cash flows on a
#: position, not trades, and are not fills.
FILL_EXEC_TYPES = frozenset(
    {"Trade", "AdlTrade", "BustTrade", "BlockTrade", "MovePosition", "Delivery"}
)

MS = 1_000_000  # ns per ms: Bybit's times are ms since the epoch


def plain(value: Decimal) -> str:
    """``value`` as Bybit wants a number: plain positional notation, no exponent."""
    return format(value, "f")


def price_str(spec: InstrumentSpec, ticks: int) -> str:
    return plain(spec.price(ticks))


def qty_str(spec: InstrumentSpec, lots: int) -> str:
    return plain(spec.qty(lots))


def field(entry: Mapping[str, Any], name: str, what: str) -> Any:
    """``entry[name]``, or a :class:`BadResponseError` that says what was read."""
    try:
        return entry[name]
    except (KeyError, TypeError):
        raise BadResponseError(f"Bybit {what}: the answer has no {name!r}") from None


def decimal(entry: Mapping[str, Any], name: str, what: str) -> Decimal:
    raw = field(entry, name, what)
    try:
        return Decimal(str(raw))
    except InvalidOperation:
        raise BadResponseError(f"Bybit {what}: {name}={raw!r} is not a number") from None


def ms_field(entry: Mapping[str, Any], name: str, what: str) -> int:
    raw = field(entry, name, what)
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise BadResponseError(f"Bybit {what}: {name}={raw!r} is not a time in ms") from None


def ticks(spec: InstrumentSpec, entry: Mapping[str, Any], name: str, what: str) -> int:
    """The price ``entry[name]`` in ticks of ``spec``, exactly."""
    value = decimal(entry, name, what)
    try:
        return spec.ticks(value)
    except ValueError as exc:
        raise BadResponseError(f"Bybit {what}: {name}: {exc}") from None


def lots(spec: InstrumentSpec, entry: Mapping[str, Any], name: str, what: str) -> int:
    """The size ``entry[name]`` in lots of ``spec``, exactly."""
    value = decimal(entry, name, what)
    try:
        return spec.lots(value)
    except ValueError as exc:
        raise BadResponseError(f"Bybit {what}: {name}: {exc}") from None


def result(response: Any, what: str) -> Mapping[str, Any]:
    """The ``result`` object of a successful V5 answer.

    pybit raises for ``retCode != 0`` already; this guards against an answer of the
    wrong shape (which would otherwise fail later with a bare KeyError).
    """
    if not isinstance(response, Mapping) or response.get("retCode") != 0:
        code = response.get("retCode") if isinstance(response, Mapping) else None
        raise BadResponseError(f"Bybit {what}: unexpected answer (retCode {code!r})")
    res = response.get("result")
    if not isinstance(res, Mapping):
        raise BadResponseError(f"Bybit {what}: the answer has no result object")
    return res


def entries(res: Mapping[str, Any], what: str) -> list[Mapping[str, Any]]:
    items = res.get("list")
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise BadResponseError(f"Bybit {what}: the answer has no list of entries")
    return items


def status(entry: Mapping[str, Any], what: str) -> OrderStatus:
    raw = field(entry, "orderStatus", what)
    try:
        return STATUSES[raw]
    except KeyError:
        raise BadResponseError(f"Bybit {what}: unknown orderStatus {raw!r}") from None


def reason(entry: Mapping[str, Any]) -> str:
    """Why an order ended: ``cancelType`` and/or ``rejectReason``, where they say so."""
    parts = [
        str(entry.get(k, ""))
        for k in ("cancelType", "rejectReason")
        if entry.get(k) not in (None, "", "UNKNOWN", "EC_NoError")
    ]
    return "; ".join(parts)


def order(spec: InstrumentSpec, entry: Mapping[str, Any], strategy: str = "") -> tuple[Order, str]:
    """An open-orders / order-history entry as an :class:`Order` and its ``orderId``.

    ``strategy`` is HEAN's, which Bybit does not know: the adapter passes it for the
    orders it placed itself.
    """
    link = field(entry, "orderLinkId", "order")
    what = f"order {link or field(entry, 'orderId', 'order')}"
    market = field(entry, "orderType", what) == "Market"
    try:
        tif = TimeInForce(field(entry, "timeInForce", what))
    except ValueError:
        tif = TimeInForce.GTC  # market orders answer "IOC"; anything unknown rests as GTC
    if market and tif is TimeInForce.POST_ONLY:
        tif = TimeInForce.GTC
    try:
        request = OrderRequest(
            ms_field(entry, "createdTime", what) * MS,
            spec.id,
            Side(field(entry, "side", what)),
            lots(spec, entry, "qty", what),
            None if market else ticks(spec, entry, "price", what),
            strategy,
            link,
            bool(entry.get("reduceOnly", False)),
            tif,
        )
    except ValueError as exc:
        raise BadResponseError(f"Bybit {what}: {exc}") from None
    filled = lots(spec, entry, "cumExecQty", what)
    value = decimal(entry, "cumExecValue", what)
    cost = value / spec.unit_value  # sum of size x price, in tick-lots
    if cost != cost.to_integral_value():
        raise BadResponseError(
            f"Bybit {what}: cumExecValue {value} is not a whole number of "
            f"{spec.symbol} tick-lots ({spec.unit_value})"
        )
    return Order(request, status(entry, what), filled, int(cost)), str(entry.get("orderId", ""))


def fill(spec: InstrumentSpec, entry: Mapping[str, Any]) -> Fill:
    """An execution-list entry as a :class:`Fill` (``execFee`` > 0 is a fee paid)."""
    exec_id = str(field(entry, "execId", "execution"))
    what = f"execution {exec_id}"
    try:
        return Fill(
            ms_field(entry, "execTime", what) * MS,
            spec.id,
            Side(field(entry, "side", what)),
            lots(spec, entry, "execQty", what),
            ticks(spec, entry, "execPrice", what),
            decimal(entry, "execFee", what),
            str(entry.get("orderLinkId", "")),
            _flag(field(entry, "isMaker", what)),
            exec_id,
        )
    except ValueError as exc:
        raise BadResponseError(f"Bybit {what}: {exc}") from None


def _flag(raw: Any) -> bool:
    # A JSON boolean in the V5 answers; a string from some older gateways.
    return raw if isinstance(raw, bool) else str(raw).lower() == "true"


def exec_sort_key(entry: Mapping[str, Any]) -> tuple[int, str, Decimal, str]:
    """Oldest first. Bybit's list is newest first and unordered within one ms; it advises
    ordering such ties by order and remaining size, so one order's fills come out in the
    order they happened (its remaining size only falls)."""
    return (
        int(entry.get("execTime", 0)),
        str(entry.get("orderId", "")),
        -Decimal(str(entry.get("leavesQty", "0") or "0")),
        str(entry.get("execId", "")),
    )


def signed_lots(spec: InstrumentSpec, entry: Mapping[str, Any]) -> int:
    """A position-list entry's size in lots, positive long, negative short."""
    what = f"position {spec.symbol}"
    size = lots(spec, entry, "size", what)
    side = entry.get("side", "")
    if size == 0 or side in ("", "None", None):
        return 0
    try:
        return Side(side).sign * size
    except ValueError:
        raise BadResponseError(f"Bybit {what}: unknown side {side!r}") from None


def fee_rates(res: Mapping[str, Any], symbol: str) -> FeeRates:
    """The maker and taker rates of ``symbol`` in a fee-rate answer."""
    what = f"fee-rate {symbol}"
    for entry in entries(res, what):
        if entry.get("symbol") == symbol:
            return FeeRates(
                maker=decimal(entry, "makerFeeRate", what),
                taker=decimal(entry, "takerFeeRate", what),
            )
    raise BadResponseError(f"Bybit {what}: no rates for {symbol} in the answer")
