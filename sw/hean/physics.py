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

import numpy as np

from hean.wire import Status


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


@dataclass(frozen=True)
class PhysicsState:
    """One reading."""

    temperature: float
    entropy: float
    phase: str
    phase_confidence: float
    trend_z: float
    flow_imbalance: float
    samples: int


class Physics:
    """Temperature, entropy and phase of one instrument, fed record by record."""

    def __init__(self, config: PhysicsConfig | None = None) -> None:
        self.config = config or PhysicsConfig()
        self._returns: deque[float] = deque(maxlen=self.config.window)
        self._bucket: int | None = None
        self._last_mid: float | None = None  # last mid of the bucket being filled
        self._prev_mid: float | None = None  # last mid of the previous bucket
        self._buy = self._sell = 0

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
                self._returns.append(math.log(self._last_mid / self._prev_mid))
            self._prev_mid = self._last_mid
            self._bucket = bucket
        if self._prev_mid is None and self._last_mid is None:
            self._prev_mid = mid
        self._last_mid = mid

    def update_record(self, rec: np.void, tick: float = 1.0) -> None:
        """:meth:`update` from a feature record (END records with a two-sided book only)."""
        status = int(rec["status"])
        if not status & Status.END or status & (Status.BID_EMPTY | Status.ASK_EMPTY):
            return
        mid = (int(rec["bid_px"]) + int(rec["ask_px"])) * tick / 2
        self.update(int(rec["recv_ts_ns"]), mid, int(rec["buy_flow"]), int(rec["sell_flow"]))

    def state(self) -> PhysicsState:
        """The current reading."""
        c = self.config
        r = np.fromiter(self._returns, dtype=float)
        total = self._buy + self._sell
        flow = 0.0 if total == 0 else (self._buy - self._sell) / total
        if len(r) < c.window:
            return PhysicsState(0.0, 0.0, "unknown", 0.0, 0.0, flow, len(r))
        ke = float(np.mean(r * r))
        temperature = ke / (ke + c.ref_return**2)
        x = np.clip(np.rint(r / c.ref_return) + c.bins // 2, 0, c.bins - 1).astype(int)
        p = np.bincount(x, minlength=c.bins) / len(x)
        p = p[p > 0]
        entropy = float(-(p * np.log(p)).sum() / math.log(c.bins))
        # a floor under sd, so that a perfectly steady drift counts as the trend it is
        sd = max(float(r.std()), c.ref_return / 10)
        z = float(r.sum() / (sd * math.sqrt(len(r))))
        if z >= c.z_trend or z <= -c.z_trend:
            phase = "markup" if z > 0 else "markdown"
            conf = min(1.0, abs(z) / (2 * c.z_trend))
        else:
            phase = "accumulation" if flow >= 0 else "distribution"
            conf = abs(flow) * (1 - abs(z) / c.z_trend)
        return PhysicsState(temperature, entropy, phase, conf, z, flow, len(r))
