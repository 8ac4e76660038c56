"""The backtest's own settings: the latency model and the replay (``[latency]``,
``[backtest]`` in the config file)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from hean.exchange.paper.latency import LatencyModel


@dataclass(frozen=True)
class LatencyConfig:
    """When the strategy sees a record, and when the exchange sees an order.

    ``decision_us`` is the time from a message's arrival (its ``recv_ts_ns``) to the order
    it causes leaving: the feature engine plus the decision path. ``entry_ms`` is the
    order's trip to the matching engine, ``response_ms`` the report's trip back. Our
    defaults are assumptions, not measurements of a Bybit connection: set them to what
    your own round trips show.
    """

    decision_us: float = 20.0
    entry_ms: float = 5.0
    response_ms: float = 5.0

    def __post_init__(self) -> None:
        for name in ("decision_us", "entry_ms", "response_ms"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"latency.{name} must be a number >= 0, got {value}")

    @property
    def decision_ns(self) -> int:
        return round(self.decision_us * 1e3)

    def model(self) -> LatencyModel:
        """The paper exchange's entry and response latency."""
        entry, response = round(self.entry_ms * 1e6), round(self.response_ms * 1e6)
        return LatencyModel(entry=entry, response=response)


@dataclass(frozen=True)
class BacktestConfig:
    """How the replay runs.

    Attributes
    ----------
    seed : int
        Seeds the paper exchange's latency draws and the slicers' jitter: same data,
        config and seed, same result.
    batch : int
        Messages per feature-engine batch.
    step_ms : float
        While an order works (in flight, resting, being sliced), the replay stops at
        least this often to deliver reports, expire orders and place slices.
    sample_ms : float
        The equity curve and the feature snapshots are sampled this often.
    trade_flow : bool
        Feed the stream's trades to the software trade-flow analyzer and volume profile
        (the impulse engine then uses their flow ratio and confidence). Off: the
        records' own flow accumulators are used, as the hardware computes them.
    """

    seed: int = 0
    batch: int = 65_536
    step_ms: float = 10.0
    sample_ms: float = 1000.0
    trade_flow: bool = False

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise ValueError(f"backtest.seed must be >= 0, got {self.seed}")
        if not 1 <= self.batch <= 1 << 22:
            raise ValueError(f"backtest.batch must be in 1..4194304, got {self.batch}")
        for name in ("step_ms", "sample_ms"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"backtest.{name} must be a number > 0, got {value}")
