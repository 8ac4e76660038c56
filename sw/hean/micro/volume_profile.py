"""The volume profile: traded volume by price over a rolling window, its VPOC and value area.

Trades are binned by price (``bin_ticks`` ticks a bin), buy- and sell-aggressor volume
apart, over the last ``window_ns``. From the bins:

- **VPOC**, the point of control: the bin with the most volume (the lowest on a tie);
- **value area**: grown from the VPOC one bin at a time towards the side with more
  volume until it holds ``value_area`` (70 %) of the volume; its low and high prices;
- **pressure gradients**: for the bins below the VPOC (the bid side of the profile) and
  above it (the ask side), the least-squares slope of the bins' buy-minus-sell share of
  volume against price, in share per bin: a positive ask gradient means buying grows as
  price rises above the VPOC, a positive bid gradient that selling grows as price falls
  below it (the buy share rises with price);
- :meth:`confidence`: a signal's multiplier, ``breakout`` (1.2) for a buy above the value
  area or a sell below it, ``inside`` (0.8) within it, 1.0 otherwise or without trades.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass


@dataclass(frozen=True)
class VolumeProfileConfig:
    bin_ticks: int = 10
    window_ns: int = 3_600_000_000_000  # ours: the last hour
    value_area: float = 0.70
    breakout: float = 1.2
    inside: float = 0.8

    def __post_init__(self) -> None:
        if self.bin_ticks < 1 or self.window_ns <= 0 or not 0 < self.value_area <= 1:
            raise ValueError("volume profile: bin_ticks >= 1, window_ns > 0, 0 < value_area <= 1")


@dataclass(frozen=True)
class Profile:
    vpoc: int  # price in ticks (the bin's low edge)
    value_low: int
    value_high: int  # the top bin's high edge, exclusive
    bid_gradient: float
    ask_gradient: float
    volume: int


class VolumeProfile:
    """Trades in, the profile out."""

    def __init__(self, config: VolumeProfileConfig | None = None) -> None:
        self.config = config or VolumeProfileConfig()
        self._trades: deque[tuple[int, int, bool, int]] = deque()  # ts, bin, buy, qty
        self._buy: dict[int, int] = defaultdict(int)
        self._sell: dict[int, int] = defaultdict(int)

    def add(self, ts_ns: int, price: int, qty: int, buy: bool) -> None:
        b = price // self.config.bin_ticks
        self._trades.append((ts_ns, b, buy, qty))
        (self._buy if buy else self._sell)[b] += qty
        self._expire(ts_ns)

    def _expire(self, now_ns: int) -> None:
        while self._trades and self._trades[0][0] <= now_ns - self.config.window_ns:
            _, b, buy, qty = self._trades.popleft()
            side = self._buy if buy else self._sell
            side[b] -= qty
            if not side[b]:
                del side[b]

    def profile(self) -> Profile | None:
        """The profile of the window, or None before any trade."""
        c = self.config
        bins = sorted(set(self._buy) | set(self._sell))
        if not bins:
            return None
        vol = {b: self._buy.get(b, 0) + self._sell.get(b, 0) for b in bins}
        total = sum(vol.values())
        poc = max(bins, key=lambda b: (vol[b], -b))
        lo = hi = bins.index(poc)
        held = vol[poc]
        while held < c.value_area * total:
            below = vol[bins[lo - 1]] if lo > 0 else -1
            above = vol[bins[hi + 1]] if hi < len(bins) - 1 else -1
            if above >= below:
                hi += 1
                held += above
            else:
                lo -= 1
                held += below
        share = {b: (self._buy.get(b, 0) - self._sell.get(b, 0)) / vol[b] for b in bins}
        bid = [(poc - b, share[b]) for b in bins if b < poc]
        ask = [(b - poc, share[b]) for b in bins if b > poc]
        return Profile(
            vpoc=poc * c.bin_ticks,
            value_low=bins[lo] * c.bin_ticks,
            value_high=(bins[hi] + 1) * c.bin_ticks,
            bid_gradient=-_slope(bid),  # bid distances grow as price falls: flip to price
            ask_gradient=_slope(ask),
            volume=total,
        )

    def confidence(self, buy: bool, price: int) -> float:
        """The signal multiplier for a buy or sell at ``price`` ticks."""
        p = self.profile()
        if p is None:
            return 1.0
        if (buy and price >= p.value_high) or (not buy and price < p.value_low):
            return self.config.breakout
        if p.value_low <= price < p.value_high:
            return self.config.inside
        return 1.0


def _slope(points: list[tuple[int, float]]) -> float:
    """Least-squares slope of y on x (0 with fewer than two distinct x)."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return 0.0 if sxx == 0 else sum((x - mx) * (y - my) for x, y in points) / sxx
