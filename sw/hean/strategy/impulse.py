"""The impulse engine: momentum impulses on the feature stream, behind the seeds' filters.

On every END record with a two-sided, uncrossed book (:func:`hean.features.tradable`),
an impulse is a top-of-book imbalance of at least ``imbalance`` whose depth imbalance
and OFI accumulator point the same way (buy: all positive), with the spread at most
``max_spread_bps``. It then passes, in order:

1. the **volatility gate**: market temperature at most ``max_temperature``;
2. the **physics filter** (seed 004, 5.2): phase confidence at least 0.5; no extreme
   chaos (temperature > 0.75 and entropy > 0.75); a phase compatible with the side
   (a buy in accumulation, markup or unknown; a sell in distribution, markdown or
   unknown); no unstable market (temperature > 0.85 or entropy > 0.90);
3. the **flow filter**: a buy is blocked when the trade-flow ratio buy/sell is below 0.5
   (a sell when it is above 2), and a buy's take-profit is widened when the ratio is
   above 2 (a sell's when it is below 0.5);
4. **iceberg awareness**: a buy is blocked while the ask side is flagged ICEBERG (a
   hidden seller absorbs buying there), a sell while the bid side is;
5. the **predictor** slot: a callable giving the probability that the price rises, or
   None; with one, a buy needs at least ``min_up_probability``, a sell at most
   ``1 - min_up_probability``;
6. a per-instrument **cooldown** of ``cooldown_ns`` between signals.

Every refusal is counted by reason in :attr:`ImpulseEngine.rejected`. A signal's
strength is the imbalance, scaled by the volume profile's confidence when one is given
(a breakout of the value area 1.2, inside it 0.8).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hean import features as fv
from hean.domain import Side, Signal
from hean.micro.volume_profile import VolumeProfile
from hean.physics import Physics, PhysicsState
from hean.wire import REC_DTYPE, Status


@dataclass(frozen=True)
class ImpulseConfig:
    """Thresholds of the impulse engine (the seeds' where they name one, else ours)."""

    imbalance: float = 0.3
    max_spread_bps: float = 10.0
    max_temperature: float = 0.85
    physics_filter: bool = True
    min_phase_confidence: float = 0.5  # seed
    chaos_temperature: float = 0.75  # seed
    chaos_entropy: float = 0.75  # seed
    unstable_temperature: float = 0.85  # seed
    unstable_entropy: float = 0.90  # seed
    flow_block_below: float = 0.5  # issue: block buys when flow ratio < 0.5
    flow_widen_above: float = 2.0  # issue: widen take-profit when flow ratio > 2
    take_profit_bps: float = 20.0
    stop_loss_bps: float = 10.0
    widen_factor: float = 1.5
    min_up_probability: float = 0.55
    cooldown_ns: int = 1_000_000_000

    def __post_init__(self) -> None:
        if not 0 < self.imbalance < 1:
            raise ValueError(f"impulse.imbalance must be in (0, 1), got {self.imbalance}")
        if not 0 < self.flow_block_below < 1 < self.flow_widen_above:
            raise ValueError("impulse: flow_block_below < 1 < flow_widen_above is required")
        if self.cooldown_ns < 0 or self.max_spread_bps <= 0:
            raise ValueError("impulse: cooldown_ns >= 0 and max_spread_bps > 0 are required")


_F = {name: k for k, name in enumerate(REC_DTYPE.names or ())}
_STATUS, _INST, _TS = _F["status"], _F["instrument"], _F["recv_ts_ns"]
_BID, _ASK, _IMB, _IMB_DEPTH = _F["bid_px"], _F["ask_px"], _F["imb_l1"], _F["imb_depth"]
_OFI, _BUY, _SELL = _F["ofi"], _F["buy_flow"], _F["sell_flow"]
_END = int(Status.END)
_NOT_TRADABLE = int(Status.BID_EMPTY | Status.ASK_EMPTY | Status.CROSSED | Status.BAD_MSG)
_ICE_BID, _ICE_ASK = int(Status.ICEBERG_BID), int(Status.ICEBERG_ASK)

_BUY_PHASES = ("accumulation", "markup", "unknown")
_SELL_PHASES = ("distribution", "markdown", "unknown")


class ImpulseEngine:
    """Feature records in, :class:`~hean.domain.Signal` out (or None).

    Parameters
    ----------
    config : ImpulseConfig
    predictor : callable, optional
        ``predictor(row) -> probability of a rise, or None``, with the record as a tuple
        (``rec.item()``, fields in ``REC_DTYPE`` order).
    name : str
        The strategy's name on its signals (the risk governor tracks it by name).
    """

    def __init__(
        self,
        config: ImpulseConfig | None = None,
        predictor: Callable[[tuple], float | None] | None = None,
        name: str = "impulse",
    ) -> None:
        self.config = config or ImpulseConfig()
        self.predictor = predictor
        self.name = name
        self.rejected: Counter[str] = Counter()
        self._last: dict[int, int] = {}
        self.last_physics: PhysicsState | None = None

    def _refuse(self, reason: str) -> None:
        """Count a refusal; returns None, the engine's answer."""
        self.rejected[reason] += 1

    def on_record(self, rec: np.void, physics: PhysicsState | Physics) -> Signal | None:
        """Evaluate one record; a Signal when an impulse passes every filter.

        ``physics`` is a reading, or the instrument's :class:`~hean.physics.Physics`,
        which is then read only when an impulse needs it.
        """
        return self.on_row(rec.item(), physics)

    #: What :meth:`screen` says of a record, by code: go on, or the reason refused.
    SCREEN_REASONS = ("", "no confirmation", "spread")

    def screen(self, recs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The gates of :meth:`on_row` that read only the record, over a batch.

        Returns
        -------
        candidate : numpy.ndarray of bool
            The records that pass the first gates (END, tradable, top-of-book imbalance
            at the threshold); :meth:`on_row` refuses the others without counting them.
        code : numpy.ndarray of int
            For a candidate, an index into :attr:`SCREEN_REASONS`: 0 when it goes on to
            the physics and flow filters, else the reason :meth:`on_row` would count at
            its confirmation or spread gate. The arithmetic is :meth:`on_row`'s.
        """
        c = self.config
        status = recs["status"].astype(np.int64)
        imb_l1 = recs["imb_l1"]
        imb = np.abs(imb_l1.astype(np.float64)) / fv.IMB_SCALE
        candidate = ((status & _END) != 0) & ((status & _NOT_TRADABLE) == 0)
        candidate &= ~(imb < c.imbalance)
        depth, ofi = recs["imb_depth"].astype(np.int64), recs["ofi"]
        confirmed = np.where(imb_l1 > 0, (depth > 0) & (ofi > 0), (depth < 0) & (ofi < 0))
        bid, ask = recs["bid_px"].astype(np.int64), recs["ask_px"].astype(np.int64)
        wide = (ask - bid) * 2e4 / (ask + bid) > c.max_spread_bps
        return candidate, np.where(~confirmed, 1, np.where(wide, 2, 0))

    def on_row(
        self,
        row: tuple,
        physics: PhysicsState | Physics,
        flow_ratio: float | None = None,
        profile: VolumeProfile | None = None,
    ) -> Signal | None:
        """:meth:`on_record` for a record as a tuple (``rec.item()``): the fast path.

        ``flow_ratio`` is the trade-flow analyzer's 10 s ratio when trades are fed (else
        the record's decayed accumulators give it); ``profile`` scales the signal's
        strength by :meth:`~hean.micro.volume_profile.VolumeProfile.confidence`.
        """
        c = self.config
        status = row[_STATUS]
        if not status & _END or status & _NOT_TRADABLE:
            return None
        imb = row[_IMB] / fv.IMB_SCALE
        if abs(imb) < c.imbalance:
            return None
        buy = imb > 0
        sign = 1 if buy else -1
        if sign * row[_IMB_DEPTH] <= 0 or sign * row[_OFI] <= 0:
            return self._refuse(self.SCREEN_REASONS[1])
        bid, ask = row[_BID], row[_ASK]
        if (ask - bid) * 2e4 / (ask + bid) > c.max_spread_bps:
            return self._refuse(self.SCREEN_REASONS[2])
        ph = physics.state() if isinstance(physics, Physics) else physics
        if reason := self.physics_gate(buy, ph):
            return self._refuse(reason)
        ratio = flow_ratio
        if ratio is None:
            b_flow, s_flow = row[_BUY], row[_SELL]
            ratio = b_flow / s_flow if s_flow else (math.inf if b_flow else 1.0)
        if ratio < c.flow_block_below if buy else ratio > c.flow_widen_above:
            return self._refuse("flow against")
        if status & (_ICE_ASK if buy else _ICE_BID):
            return self._refuse("iceberg")
        if self.predictor is not None:
            p = self.predictor(row)
            if p is not None and (
                p < c.min_up_probability if buy else p > 1 - c.min_up_probability
            ):
                return self._refuse("predictor")
        inst, ts = row[_INST], row[_TS]
        last = self._last.get(inst)
        if last is not None and ts - last < c.cooldown_ns:
            return self._refuse("cooldown")
        self._last[inst] = ts
        self.last_physics = ph  # the reading the signal was taken on (the sizer's input)
        widen = ratio > c.flow_widen_above if buy else ratio < c.flow_block_below
        tp = c.take_profit_bps * (c.widen_factor if widen else 1.0)
        price = ask if buy else bid
        strength = abs(imb) * (profile.confidence(buy, price) if profile is not None else 1.0)
        # the reason stays a constant: formatting a string here would cost the fast path
        return Signal(ts, inst, Side.BUY if buy else Side.SELL, strength, price, self.name,
                      "impulse", tp, c.stop_loss_bps)  # fmt: skip

    def physics_gate(self, buy: bool, ph: PhysicsState) -> str | None:
        """The reason :meth:`on_row` refuses a buy (or sell) on the physics reading
        ``ph``, or None when the reading lets it on to the flow filters."""
        if ph.temperature > self.config.max_temperature:
            return "volatility"
        return self._physics(buy, ph) if self.config.physics_filter else None

    def _physics(self, buy: bool, ph: PhysicsState) -> str | None:
        c = self.config
        if ph.phase_confidence < c.min_phase_confidence:
            return "low phase confidence"
        if ph.temperature > c.chaos_temperature and ph.entropy > c.chaos_entropy:
            return "extreme chaos"
        if ph.phase not in (_BUY_PHASES if buy else _SELL_PHASES):
            return f"phase mismatch ({ph.phase})"
        if ph.temperature > c.unstable_temperature or ph.entropy > c.unstable_entropy:
            return "unstable market"
        return None
