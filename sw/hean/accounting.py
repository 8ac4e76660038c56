"""Accounting: positions from fills, average price, realized and unrealized PnL, fees, equity.

Everything is exact. A position's size is in lots, its cost in tick-lots (price times
size in the instrument's integer units), kept as a fraction once a partial close splits
the average; PnL turns into the quote currency only through the instrument's
``tick * lot`` (:attr:`hean.domain.InstrumentSpec.unit_value`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from hean.domain import Fill, InstrumentSpec


@dataclass
class Position:
    """One instrument's position: signed size (lots, + long) and what it cost."""

    qty: int = 0
    cost: Fraction = Fraction(0)  # signed, tick-lots: what the open size was bought/sold at
    realized: Fraction = Fraction(0)  # tick-lots
    fees: Decimal = Decimal(0)
    opened_ns: int | None = None

    @property
    def avg_price(self) -> Fraction | None:
        """Average entry price in ticks (None when flat)."""
        return None if self.qty == 0 else self.cost / self.qty

    def unrealized(self, mark_ticks: int) -> Fraction:
        """Open PnL at ``mark_ticks``, in tick-lots."""
        return self.qty * mark_ticks - self.cost


def _to_decimal(x: Fraction, unit: Decimal) -> Decimal:
    return Decimal(x.numerator) * unit / Decimal(x.denominator)


@dataclass
class Ledger:
    """Positions, PnL and the equity curve of one account.

    Parameters
    ----------
    instruments : dict of int to InstrumentSpec
        By HL2 id.
    starting_equity : Decimal
        Cash before any fill (quote currency).
    """

    instruments: dict[int, InstrumentSpec]
    starting_equity: Decimal
    positions: dict[int, Position] = field(default_factory=dict)
    marks: dict[int, int] = field(default_factory=dict)
    curve: list[tuple[int, Decimal]] = field(default_factory=list)
    fills: int = 0

    def position(self, instrument: int) -> Position:
        return self.positions.setdefault(instrument, Position())

    def apply(self, fill: Fill) -> Position:
        """Book a fill: grow, reduce, close or flip the position; realize what closes.

        Raises
        ------
        KeyError
            If the fill's instrument is unknown.
        """
        if fill.instrument not in self.instruments:
            raise KeyError(f"fill for unknown instrument {fill.instrument}")
        pos = self.position(fill.instrument)
        s, q, px = fill.side.sign, fill.qty_lots, fill.price_ticks
        pos.fees += fill.fee
        self.fills += 1
        if pos.qty == 0 or (pos.qty > 0) == (s > 0):  # opens or grows
            if pos.qty == 0:
                pos.opened_ns = fill.ts_ns
            pos.qty += s * q
            pos.cost += s * q * px
            return pos
        closing = min(q, abs(pos.qty))
        avg = pos.cost / pos.qty
        direction = 1 if pos.qty > 0 else -1
        pos.realized += direction * closing * (px - avg)
        pos.cost -= direction * closing * avg
        pos.qty -= direction * closing
        if pos.qty == 0:
            pos.cost = Fraction(0)
            pos.opened_ns = None
        rest = q - closing
        if rest:  # the fill flips the position
            pos.qty, pos.cost, pos.opened_ns = s * rest, Fraction(s * rest * px), fill.ts_ns
        return pos

    def mark(self, instrument: int, ticks: int) -> None:
        """The price open positions are valued at (mid, or last trade)."""
        self.marks[instrument] = ticks

    def realized(self) -> Decimal:
        """Realized PnL before fees, quote currency."""
        return sum(
            (
                _to_decimal(p.realized, self.instruments[i].unit_value)
                for i, p in self.positions.items()
            ),
            Decimal(0),
        )

    def unrealized(self) -> Decimal:
        """Open PnL at the latest marks (a position without a mark counts at cost)."""
        total = Decimal(0)
        for i, p in self.positions.items():
            if p.qty and i in self.marks:
                total += _to_decimal(p.unrealized(self.marks[i]), self.instruments[i].unit_value)
        return total

    def fees(self) -> Decimal:
        return sum((p.fees for p in self.positions.values()), Decimal(0))

    def equity(self) -> Decimal:
        """Starting equity + realized + unrealized - fees."""
        return self.starting_equity + self.realized() + self.unrealized() - self.fees()

    def record(self, ts_ns: int) -> Decimal:
        """Append the equity now to the equity curve and return it."""
        e = self.equity()
        self.curve.append((ts_ns, e))
        return e
