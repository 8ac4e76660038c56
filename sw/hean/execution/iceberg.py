"""Iceberg-aware sizing: do not run a whole order into a hidden counterparty.

The feature engine flags a level that keeps refilling and absorbing more than it shows
(``ICEBERG_BID`` / ``ICEBERG_ASK`` in the record's status, its price in ``ice_px_bid``
/ ``ice_px_ask``). Such a level soaks up the order flow without moving, so an order that
trades into it buys from (or sells to) a patient, larger participant. An iceberg is
*against* an order when it sits on the side the order takes: ``ICEBERG_ASK`` (a hidden
seller) for a buy, ``ICEBERG_BID`` (a hidden buyer) for a sell; and the order reaches
it: a market order always, a limit at or through the iceberg's price (a buy limit at or
above ``ice_px_ask``, a sell limit at or below ``ice_px_bid``). An unknown price (0)
counts as reached.

Against an iceberg, per :class:`IcebergConfig`:

- ``HALVE`` (the audit's rule): the size times ``size_factor`` (0.5), rounded down;
- ``STEP``: the limit price moved ``step_ticks`` (1) away from the iceberg, just in
  front of it without trading into it (a buy at ``ice_px_ask - 1``); a market order
  has no price to step and is halved instead.

The result is never under one lot: an order that would be is skipped, with the reason.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, NamedTuple

from hean.domain import Side
from hean.wire import REC_DTYPE, Status

# Positions of the fields in a record read as a tuple (``REC_STRUCT.unpack_from``).
_STATUS = REC_DTYPE.names.index("status")
_ICE_PX_BID = REC_DTYPE.names.index("ice_px_bid")
_ICE_PX_ASK = REC_DTYPE.names.index("ice_px_ask")


class IcebergMode(enum.Enum):
    HALVE = "halve"  # reduce the size
    STEP = "step"  # keep the size, price one step in front of the iceberg


class IcebergAction(enum.Enum):
    UNCHANGED = "unchanged"
    REDUCED = "reduced"
    STEPPED = "stepped"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class IcebergConfig:
    """Settings of :func:`adjust_for_iceberg`.

    Parameters
    ----------
    mode : IcebergMode
        ``HALVE`` (the audit's rule, the default) or ``STEP``.
    size_factor : float
        The size kept in ``HALVE`` mode (0.5: the audit's 50 %).
    step_ticks : int
        How far in front of the iceberg ``STEP`` puts the price (1 tick).

    Raises
    ------
    ValueError
        For a factor outside (0, 1) or a step under one tick.
    """

    mode: IcebergMode = IcebergMode.HALVE
    size_factor: float = 0.5
    step_ticks: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.mode, IcebergMode):
            raise ValueError(f"iceberg: mode must be an IcebergMode, got {self.mode!r}")
        if not 0.0 < self.size_factor < 1.0:
            raise ValueError(f"iceberg: size_factor must be within (0, 1), got {self.size_factor}")
        if self.step_ticks < 1:
            raise ValueError(f"iceberg: step_ticks must be >= 1, got {self.step_ticks}")


class IcebergAdjustment(NamedTuple):
    """The order after the check: its size and price (None: market), what changed, why.

    For ``SKIP``, ``qty_lots`` is 0: do not send the order.
    """

    qty_lots: int
    price_ticks: int | None
    action: IcebergAction
    reason: str


def adjust_for_iceberg(
    side: Side,
    qty_lots: int,
    price_ticks: int | None,
    status: int,
    ice_px_bid: int,
    ice_px_ask: int,
    config: IcebergConfig | None = None,
) -> IcebergAdjustment:
    """Size or price an order around an iceberg against it.

    Parameters
    ----------
    side : Side
    qty_lots : int
    price_ticks : int or None
        The limit price; None for a market order.
    status : int
        The feature record's status bits.
    ice_px_bid, ice_px_ask : int
        The record's iceberg prices (ticks; 0 when unknown).
    config : IcebergConfig, optional

    Returns
    -------
    IcebergAdjustment

    Raises
    ------
    ValueError
        For a size under one lot or a limit price that is not positive.
    """
    if qty_lots < 1:
        raise ValueError(f"order size must be at least one lot, got {qty_lots}")
    if price_ticks is not None and price_ticks <= 0:
        raise ValueError(f"limit price must be positive, got {price_ticks}")
    c = config or IcebergConfig()
    if side is Side.BUY:
        flagged, ice_px, name = bool(status & Status.ICEBERG_ASK), ice_px_ask, "hidden seller"
        reached = price_ticks is None or not ice_px or price_ticks >= ice_px
    else:
        flagged, ice_px, name = bool(status & Status.ICEBERG_BID), ice_px_bid, "hidden buyer"
        reached = price_ticks is None or not ice_px or price_ticks <= ice_px
    if not flagged:
        return IcebergAdjustment(qty_lots, price_ticks, IcebergAction.UNCHANGED, "no iceberg")
    where = f"{name} at {ice_px}" if ice_px else f"{name} (price unknown)"
    if not reached:
        return IcebergAdjustment(
            qty_lots, price_ticks, IcebergAction.UNCHANGED,
            f"{where}, not reached by the limit at {price_ticks}",
        )  # fmt: skip
    if c.mode is IcebergMode.STEP and price_ticks is not None and ice_px:
        stepped = ice_px - side.sign * c.step_ticks
        if stepped <= 0:
            return IcebergAdjustment(
                0, None, IcebergAction.SKIP, f"{where}: no positive price in front of it"
            )
        return IcebergAdjustment(
            qty_lots, stepped, IcebergAction.STEPPED,
            f"{where}: price {price_ticks} -> {stepped}, in front of it",
        )  # fmt: skip
    # HALVE, or STEP with no price to step (a market order, an unknown iceberg price).
    lots = int(qty_lots * c.size_factor)
    if lots < 1:
        return IcebergAdjustment(
            0, None, IcebergAction.SKIP,
            f"{where}: {qty_lots} lots x {c.size_factor} is under one lot",
        )  # fmt: skip
    return IcebergAdjustment(
        lots, price_ticks, IcebergAction.REDUCED, f"{where}: size {qty_lots} -> {lots} lots"
    )


def adjust_for_record(
    side: Side,
    qty_lots: int,
    price_ticks: int | None,
    record: Any,
    config: IcebergConfig | None = None,
) -> IcebergAdjustment:
    """:func:`adjust_for_iceberg` with the fields taken from a feature record.

    ``record`` is a :data:`hean.wire.REC_DTYPE` element (``records[i]``) or the same
    record as a tuple in dtype order (``REC_STRUCT.unpack_from``, the fast path's form).
    """
    if isinstance(record, tuple):
        status, bid, ask = record[_STATUS], record[_ICE_PX_BID], record[_ICE_PX_ASK]
    else:
        status, bid, ask = record["status"], record["ice_px_bid"], record["ice_px_ask"]
    return adjust_for_iceberg(side, qty_lots, price_ticks, int(status), int(bid), int(ask), config)
