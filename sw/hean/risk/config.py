"""Risk limits, validated on construction; every default is the seeds' number or says why."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields


class RiskConfigError(ValueError):
    """A risk setting out of range; the message names the key."""


@dataclass(frozen=True)
class RiskConfig:
    """Limits of the risk governor.

    Attributes
    ----------
    strategy_drawdown : float
        A strategy whose equity falls this fraction below its peak is quarantined (it may
        only reduce) and the account goes to SOFT_BRAKE. Seed: 7 %.
    hourly_loss : float
        A loss of this fraction of the trailing hour's highest equity puts the account in
        QUARANTINE: no new exposure, exits only. Seed: 15 %.
    kill_switch : float
        A drawdown of this fraction from the account's equity peak is HARD_STOP: the kill
        switch, latched until a person resets it; only reduce-only orders pass. Seed: 20 %.
    soft_brake_size : float
        Size multiplier for every other strategy while in SOFT_BRAKE (ours: half size).
    position_ttl_s : float
        Positions older than this are due to be closed (the seeds monitor a TTL without
        a number; ours: 4 hours).
    max_notional_fraction : float
        Largest position per instrument, as a fraction of equity (ours: 50 %).
    order_rate_per_s, order_burst : float, int
        Order budget, a token bucket kept below Bybit's 10 orders/s per endpoint.
    """

    strategy_drawdown: float = 0.07
    hourly_loss: float = 0.15
    kill_switch: float = 0.20
    soft_brake_size: float = 0.5
    position_ttl_s: float = 4 * 3600.0
    max_notional_fraction: float = 0.5
    order_rate_per_s: float = 8.0
    order_burst: int = 8

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise RiskConfigError(f"risk.{f.name} must be a number, got {value!r}")
            if not math.isfinite(value) or value <= 0:
                raise RiskConfigError(f"risk.{f.name} must be a finite number > 0, got {value}")
        for name in ("strategy_drawdown", "hourly_loss", "kill_switch", "soft_brake_size"):
            if getattr(self, name) >= 1:
                raise RiskConfigError(
                    f"risk.{name} is a fraction below 1, got {getattr(self, name)}"
                )
        if not self.strategy_drawdown < self.kill_switch:
            raise RiskConfigError("risk.strategy_drawdown must be below risk.kill_switch")
        if self.order_rate_per_s >= 10:
            raise RiskConfigError("risk.order_rate_per_s must stay below Bybit's 10 orders/s")

    @classmethod
    def from_dict(cls, values: dict) -> RiskConfig:
        """Build from a config table, refusing unknown keys by name."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise RiskConfigError(f"unknown risk setting(s): {', '.join(unknown)}")
        return cls(**values)
