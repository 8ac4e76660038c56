"""Market "physics": temperature, entropy and phase, updated one feature record at a time.

The inputs are what the feature engine already gives: the mid price of every END record
(the book after a whole exchange update) and the trade-flow accumulators. Mids are
sampled once per ``bucket_ns`` (the last mid of the bucket) into log returns, and the
last ``window`` returns are kept. With ``r`` those returns, ``r_ref`` the reference
return size (``ref_return``) and ``W`` the window:

- **temperature** ``T = KE / (KE + r_ref**2)`` with ``KE = mean(r**2)``, the kinetic
  energy of the returns: 0 for a still market, 1/2 when returns are typically ``r_ref``,
  towards 1 as they grow;
- **entropy** ``H = -sum(p_k log p_k) / log(B)`` over ``B`` bins of ``r / r_ref``
  rounded to the nearest whole number (bins one ``r_ref`` wide, centred on 0, the
  outer two open): 0 when every return falls in one bin (a still or a steadily
  trending market), 1 when they spread evenly over all of them (chop);
- **phase**, from the trend ``z = sum(r) / (max(sd(r), r_ref / 10) * sqrt(W))`` (a
  t-statistic of the drift; the floor keeps a perfectly steady drift a trend) and the
  flow imbalance ``f = (buy - sell) / (buy + sell)`` of the trade-flow accumulators.
  ``z >= z_trend`` is *markup* and ``z <= -z_trend`` *markdown*. Otherwise the market
  ranges: buying into it (``f >= 0``) is *accumulation*, selling *distribution*. The
  confidence is ``min(1, |z| / (2 z_trend))`` for a trend (1 at twice the threshold)
  and ``|f| * (1 - |z| / z_trend)`` in a range; "unknown" with confidence 0 until the
  window is full.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from hean.wire import REC_DTYPE, Status


@dataclass(frozen=True)
class PhysicsConfig:
    """Sampling and reference scales (ours; the seeds name the readings, not these)."""

    bucket_ns: int = 1_000_000_000
    window: int = 60
    ref_return: float = 5e-4
    bins: int = 11
    z_trend: float = 2.0

    def __post_init__(self) -> None:
        if self.bucket_ns <= 0 or self.window < 3 or self.bins < 2:
            raise ValueError("physics: bucket_ns > 0, window >= 3 and bins >= 2 are required")
        if not (self.ref_return > 0 and self.z_trend > 0):
            raise ValueError("physics: ref_return and z_trend must be > 0")


class PhysicsState(NamedTuple):
    """One reading."""

    temperature: float
    entropy: float
    phase: str
    phase_confidence: float
    trend_z: float
    flow_imbalance: float
    samples: int


_FIXED = float(2**40)  # fixed-point scale of the returns' running sums
_FIXED2 = _FIXED * _FIXED
_END = int(Status.END)
_ONE_SIDED = int(Status.BID_EMPTY | Status.ASK_EMPTY)
_F = {name: k for k, name in enumerate(REC_DTYPE.names or ())}
_STATUS, _BID, _ASK = _F["status"], _F["bid_px"], _F["ask_px"]
_BUY, _SELL, _TS = _F["buy_flow"], _F["sell_flow"], _F["recv_ts_ns"]


class Physics:
    """Temperature, entropy and phase of one instrument, fed record by record.

    The window's sums (of r, of r squared, and the entropy bins' counts) are kept
    up to date as returns come and go, so a reading costs O(bins), not O(window).
    """

    def __init__(self, config: PhysicsConfig | None = None) -> None:
        c = self.config = config or PhysicsConfig()
        self._returns: deque[float] = deque()
        self._bins: deque[int] = deque()
        self._counts = [0] * c.bins
        self._klogk = 0.0  # sum of k log k over the bins' counts: the entropy in O(1)
        # k log k for every count a bin can hold (0..window + 1)
        self._table = [_klogk(n) for n in range(c.window + 2)]
        self._mid_bin, self._top_bin = c.bins // 2, c.bins - 1
        self._log_bins = math.log(c.bins)
        self._sd_floor = c.ref_return / 10
        # sums of the returns and their squares in fixed point (units of 2**-40): exact
        # integers, so they never drift and never need a recomputation over the window
        self._s1 = self._s2 = 0
        self._since_exact = 0
        self._bucket: int | None = None
        self._last_mid: float | None = None  # last mid of the bucket being filled
        self._prev_mid: float | None = None  # last mid of the previous bucket
        self._buy = self._sell = 0
        self._base: tuple[float, float, float] | None = None  # T, H, z of the window now

    def _push(self, r: float) -> None:
        # inlined bin arithmetic and a k log k table: this runs on every new bucket, and
        # on the order path (a signal comes with a new bucket at most once per cooldown)
        c = self.config
        k = round(r / c.ref_return) + self._mid_bin
        k = 0 if k < 0 else (self._top_bin if k > self._top_bin else k)
        returns, bins, counts, table = self._returns, self._bins, self._counts, self._table
        returns.append(r)
        bins.append(k)
        n = counts[k]
        counts[k] = n + 1
        dk = table[n + 1] - table[n]
        q = round(r * _FIXED)
        self._s1 += q
        self._s2 += q * q
        if len(returns) > c.window:
            old = returns.popleft()
            j = bins.popleft()
            m = counts[j]
            counts[j] = m - 1
            dk += table[m - 1] - table[m]
            q = round(old * _FIXED)  # the same integer it added
            self._s1 -= q
            self._s2 -= q * q
        self._klogk += dk
        self._base = None
        self._since_exact += 1
        if self._since_exact >= c.window:  # no float drift of the entropy sum either
            self._klogk = math.fsum(table[n] for n in counts)  # bins terms: a short sum
            self._since_exact = 0

    def update(self, ts_ns: int, mid: float, buy_flow: int, sell_flow: int) -> None:
        """Take one END record's mid price (any unit) and flow accumulators at ``ts_ns``."""
        if not mid > 0:
            return
        self._buy, self._sell = buy_flow, sell_flow
        bucket = ts_ns // self.config.bucket_ns
        if self._bucket is None:
            self._bucket = bucket
        elif bucket != self._bucket:
            if self._prev_mid is not None and self._last_mid is not None:
                self._push(math.log(self._last_mid / self._prev_mid))
            self._prev_mid = self._last_mid
            self._bucket = bucket
        if self._prev_mid is None and self._last_mid is None:
            self._prev_mid = mid
        self._last_mid = mid

    def update_row(self, row: tuple) -> None:
        """:meth:`update` from a record as a tuple (``rec.item()``): END, two-sided only."""
        status = row[_STATUS]
        if status & _END and not status & _ONE_SIDED:
            self.update(row[_TS], (row[_BID] + row[_ASK]) / 2, row[_BUY], row[_SELL])

    def update_record(self, rec: np.void) -> None:
        """:meth:`update_row` from a feature record."""
        self.update_row(rec.item())

    def state(self) -> PhysicsState:
        """The current reading."""
        c = self.config
        n = len(self._returns)
        total = self._buy + self._sell
        flow = 0.0 if total == 0 else (self._buy - self._sell) / total
        if n < c.window:
            return PhysicsState(0.0, 0.0, "unknown", 0.0, 0.0, flow, n)
        if self._base is None:  # once per new return; the flow changes more often
            # conditionals, not min/max: a builtin call costs more than the arithmetic here
            ke = self._s2 / (_FIXED2 * n)
            temperature = ke / (ke + c.ref_return**2)
            # -sum (k/n) log(k/n) = log n - sum(k log k) / n
            entropy = (math.log(n) - self._klogk / n) / self._log_bins
            entropy = 0.0 if entropy < 0.0 else (1.0 if entropy > 1.0 else entropy)
            s1 = self._s1 / _FIXED
            mean = s1 / n
            # a floor under sd, so that a perfectly steady drift counts as the trend it is
            var = ke - mean * mean
            sd = math.sqrt(var) if var > 0.0 else 0.0
            sd = sd if sd > self._sd_floor else self._sd_floor
            self._base = (temperature, entropy, s1 / (sd * math.sqrt(n)))
        temperature, entropy, z = self._base
        if z >= c.z_trend or z <= -c.z_trend:
            phase = "markup" if z > 0 else "markdown"
            conf = min(1.0, abs(z) / (2 * c.z_trend))
        else:
            phase = "accumulation" if flow >= 0 else "distribution"
            conf = abs(flow) * (1 - abs(z) / c.z_trend)
        return PhysicsState(temperature, entropy, phase, conf, z, flow, n)


def _klogk(k: int) -> float:
    return k * math.log(k) if k > 1 else 0.0
