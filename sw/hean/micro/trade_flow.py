"""The trade-flow analyzer: the last 10 seconds of trades, their ratio, size and momentum.

- **flow ratio**: buy volume / sell volume in the window (inf with no selling, 1 with no
  trades);
- **large trade**: a trade of at least ``large_mult`` times the window's mean trade size
  (counted once the window holds ``min_trades`` trades);
- **momentum**: ``(last price - first price) / first price`` over the window.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class TradeFlowConfig:
    window_ns: int = 10_000_000_000  # the seeds' 10 s
    large_mult: float = 5.0
    min_trades: int = 20

    def __post_init__(self) -> None:
        if self.window_ns <= 0 or self.large_mult <= 1 or self.min_trades < 1:
            raise ValueError("trade flow: window_ns > 0, large_mult > 1, min_trades >= 1")


class TradeFlow:
    """Trades in, the window's flow ratio, momentum and large trades out."""

    def __init__(self, config: TradeFlowConfig | None = None) -> None:
        self.config = config or TradeFlowConfig()
        self._trades: deque[tuple[int, bool, int, int]] = deque()  # ts, buy, qty, price
        self.buy_volume = self.sell_volume = 0
        self.large: list[tuple[int, bool, int, int]] = []

    def add(self, ts_ns: int, buy: bool, qty: int, price: int) -> bool:
        """Take one trade; True when it is a large one."""
        c = self.config
        self._expire(ts_ns)
        n = len(self._trades)
        mean = (self.buy_volume + self.sell_volume) / n if n else 0.0
        is_large = n >= c.min_trades and qty >= c.large_mult * mean
        self._trades.append((ts_ns, buy, qty, price))
        if buy:
            self.buy_volume += qty
        else:
            self.sell_volume += qty
        if is_large:
            self.large.append((ts_ns, buy, qty, price))
        return is_large

    def _expire(self, now_ns: int) -> None:
        while self._trades and self._trades[0][0] <= now_ns - self.config.window_ns:
            _, buy, qty, _ = self._trades.popleft()
            if buy:
                self.buy_volume -= qty
            else:
                self.sell_volume -= qty

    def flow_ratio(self, now_ns: int | None = None) -> float:
        if now_ns is not None:
            self._expire(now_ns)
        if self.sell_volume == 0:
            return math.inf if self.buy_volume else 1.0
        return self.buy_volume / self.sell_volume

    def momentum(self) -> float:
        if len(self._trades) < 2:
            return 0.0
        first, last = self._trades[0][3], self._trades[-1][3]
        return (last - first) / first
