"""The physics-aware position sizer: 1 % risk, scaled by phase, temperature, entropy, vol.

``size = equity * base_risk * clamp(phase * temperature * entropy * volatility, 0.25, 2)
/ price``, with the seeds' factors:

- phase alignment: a buy in accumulation 1.5, markup 1.3, distribution 0.6, markdown
  0.4 (a sell the mirror image); an unknown phase 1.0;
- temperature: below 0.3 gives 1.3, below 0.5 gives 1.0, below 0.7 gives 0.8, else 0.5;
- entropy: ``1 - 0.5 * entropy``;
- volatility: 1.0 up to the 2 % reference, ``0.02 / vol`` above it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

PHASES = ("accumulation", "markup", "distribution", "markdown")
_BUY = {"accumulation": 1.5, "markup": 1.3, "distribution": 0.6, "markdown": 0.4}
_SELL = {"accumulation": 0.4, "markup": 0.6, "distribution": 1.5, "markdown": 1.3}


@dataclass(frozen=True)
class SizerConfig:
    """The sizer's constants (the seeds' numbers)."""

    base_risk: float = 0.01
    min_mult: float = 0.25
    max_mult: float = 2.0
    reference_vol: float = 0.02

    def __post_init__(self) -> None:
        for name in ("base_risk", "min_mult", "max_mult", "reference_vol"):
            v = getattr(self, name)
            if (
                isinstance(v, bool)
                or not isinstance(v, int | float)
                or not math.isfinite(v)
                or v <= 0
            ):
                raise ValueError(f"sizer.{name} must be a finite number > 0, got {v!r}")
        if self.min_mult > self.max_mult:
            raise ValueError("sizer.min_mult must not exceed sizer.max_mult")


_DEFAULT = SizerConfig()


class Sizing(NamedTuple):
    """A size and the factors that made it (for logs and reports)."""

    quantity: float
    mult: float
    phase: float
    temperature: float
    entropy: float
    volatility: float


def phase_mult(buy: bool, phase: str) -> float:
    """How well the order's direction fits the market phase."""
    return (_BUY if buy else _SELL).get(phase, 1.0)


def temperature_mult(temperature: float) -> float:
    """Hotter markets, smaller positions."""
    if temperature < 0.3:
        return 1.3
    if temperature < 0.5:
        return 1.0
    if temperature < 0.7:
        return 0.8
    return 0.5


def entropy_mult(entropy: float) -> float:
    """From 1.0 at entropy 0 down to 0.5 at entropy 1."""
    return 1.0 - 0.5 * min(max(entropy, 0.0), 1.0)


def size(
    *,
    buy: bool,
    equity: float,
    price: float,
    phase: str,
    temperature: float,
    entropy: float,
    volatility: float,
    config: SizerConfig | None = None,
) -> Sizing:
    """The position size, in units of the instrument, for one entry.

    Raises
    ------
    ValueError
        If ``price`` is not positive or ``equity`` or ``volatility`` is negative.
    """
    c = config or _DEFAULT
    if not price > 0 or equity < 0 or volatility < 0:
        raise ValueError(f"bad sizing inputs: price {price}, equity {equity}, vol {volatility}")
    f_phase = phase_mult(buy, phase)
    f_temp = temperature_mult(temperature)
    f_ent = entropy_mult(entropy)
    f_vol = 1.0 if volatility <= c.reference_vol else c.reference_vol / volatility
    mult = min(max(f_phase * f_temp * f_ent * f_vol, c.min_mult), c.max_mult)
    return Sizing(equity * c.base_risk * mult / price, mult, f_phase, f_temp, f_ent, f_vol)


def quantity(
    buy: bool,
    equity: float,
    price: float,
    phase: str,
    temperature: float,
    entropy: float,
    volatility: float,
    config: SizerConfig = _DEFAULT,
) -> float:
    """:func:`size`'s quantity alone, with positional arguments: the fast path's call.

    The same formula and checks, without building a :class:`Sizing` (keyword calls and
    the record cost microseconds the order path does not have).
    """
    c = config
    if not price > 0 or equity < 0 or volatility < 0:
        raise ValueError(f"bad sizing inputs: price {price}, equity {equity}, vol {volatility}")
    f_vol = 1.0 if volatility <= c.reference_vol else c.reference_vol / volatility
    e = 0.0 if entropy < 0.0 else (1.0 if entropy > 1.0 else entropy)
    mult = (_BUY if buy else _SELL).get(phase, 1.0) * temperature_mult(temperature)
    mult *= (1.0 - 0.5 * e) * f_vol
    mult = c.min_mult if mult < c.min_mult else (c.max_mult if mult > c.max_mult else mult)
    return equity * c.base_risk * mult / price
