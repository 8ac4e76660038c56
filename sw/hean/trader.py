"""The decision path: feature record -> physics -> impulse -> risk -> order request.

Trades of the HL2 stream feed the trade-flow analyzer and the volume profile
(:meth:`Trader.on_trade`); the mid of every END record feeds the flash-crash detector,
which halts new entries while a crash is on.

:class:`Trader` wires the pieces into one :class:`hean.bus.FastPath`: a record goes in,
and an :class:`~hean.domain.OrderRequest` comes out, or nothing, in the caller's thread,
with no queue in between. Risk transitions leave through the governor's
``on_transition`` (hook the event bus's ``publish_nowait`` there), the only part that
may be asynchronous.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from hean.bus import FastPath
from hean.domain import InstrumentSpec, OrderRequest, Side, Signal
from hean.micro.flash_crash import FlashCrashConfig, FlashCrashDetector
from hean.micro.trade_flow import TradeFlow
from hean.micro.volume_profile import VolumeProfile
from hean.physics import Physics, PhysicsConfig
from hean.risk.governor import RiskGovernor
from hean.risk.sizer import SizerConfig, quantity
from hean.strategy.impulse import ImpulseEngine
from hean.wire import REC_DTYPE, REC_STRUCT, Status

_F = {name: k for k, name in enumerate(REC_DTYPE.names or ())}
_INST, _STATUS, _TS = _F["instrument"], _F["status"], _F["recv_ts_ns"]
_BID, _ASK = _F["bid_px"], _F["ask_px"]
_BUY_FLOW, _SELL_FLOW = _F["buy_flow"], _F["sell_flow"]
_unpack, _unpack_from, _REC_SIZE = REC_STRUCT.unpack, REC_STRUCT.unpack_from, REC_STRUCT.size
_END = int(Status.END)
_ONE_SIDED = int(Status.BID_EMPTY | Status.ASK_EMPTY)


class Trader:
    """Records in, order requests out, for the instruments of one account.

    Parameters
    ----------
    instruments : dict of int to InstrumentSpec
    governor : RiskGovernor
        Holds the account's equity (fed by accounting) and the limits.
    engine : ImpulseEngine
    sink : callable
        Receives each order request (the router, or the paper exchange).
    positions : callable
        ``positions(instrument) -> signed lots`` held now (accounting's view).
    physics : PhysicsConfig, optional
    link_ids : callable, optional
        ``link_ids(strategy, instrument) -> orderLinkId``. Live, pass
        :class:`hean.execution.journal.LinkIds`, whose ids are unique across restarts;
        the default counts from 1 in this process (backtests).
    flash_crash : FlashCrashConfig, optional
        The crash detector's window and thresholds (the config file's ``[flash_crash]``).
    sizer : SizerConfig, optional
        The position sizer's settings (``[sizer]``).

    Attributes
    ----------
    last_signal : Signal or None
        The signal behind the latest order request (its take-profit, stop-loss and
        strength are what execution and the exits need).
    """

    def __init__(
        self,
        instruments: dict[int, InstrumentSpec],
        governor: RiskGovernor,
        engine: ImpulseEngine,
        sink: Callable[[OrderRequest], None],
        positions: Callable[[int], int] = lambda instrument: 0,
        physics: PhysicsConfig | None = None,
        link_ids: Callable[[str, int], str] | None = None,
        flash_crash: FlashCrashConfig | None = None,
        sizer: SizerConfig | None = None,
    ) -> None:
        self.instruments = instruments
        self.governor = governor
        self.engine = engine
        self.positions = positions
        # float steps for sizing, once (Decimal arithmetic per order costs microseconds)
        self._steps = {i: (float(sp.tick), float(sp.lot)) for i, sp in instruments.items()}
        self.physics_config = physics or PhysicsConfig()
        self.physics = {i: Physics(self.physics_config) for i in instruments}
        self.flow = {i: TradeFlow() for i in instruments}
        self.profiles = {i: VolumeProfile() for i in instruments}
        self.crash = {i: FlashCrashDetector(flash_crash) for i in instruments}
        self._crash_config = flash_crash
        self.sizer = sizer or SizerConfig()
        self.last_signal: Signal | None = None
        self._traded: set[int] = set()  # instruments whose trades are fed
        self._ids = itertools.count(1)
        self._link_ids = link_ids
        self.path = FastPath(self._signal, self._order, sink=sink)

    def warm_up(self) -> None:
        """Compile :meth:`on_batch`'s numba part (the crash window) now, on a throwaway
        detector, so that the first batch does not pay for it (seconds on a fresh
        checkout; numba caches it on disk afterwards)."""
        spare = FlashCrashDetector(self._crash_config)
        spare.update_many(np.array([0, 1], dtype=np.int64), np.array([1.0, 1.0]))

    def on_trade(self, instrument: int, ts_ns: int, buy: bool, qty: int, price: int) -> None:
        """A trade from the HL2 stream: the trade-flow analyzer and the volume profile."""
        if instrument in self.flow:
            self._traded.add(instrument)
            self.flow[instrument].add(ts_ns, buy, qty, price)
            self.profiles[instrument].add(ts_ns, price, qty, buy)

    def on_record(self, rec: np.void) -> OrderRequest | None:
        """One feature record through the whole decision path."""
        return self.on_row(_unpack(rec.tobytes()))

    def on_record_at(self, records: np.ndarray | bytes, k: int) -> OrderRequest | None:
        """Record ``k`` of a batch (a ``REC_DTYPE`` array, or the raw bytes of one, as a
        board's DMA buffer holds them) through the decision path, read in place."""
        return self.on_row(_unpack_from(records, k * _REC_SIZE))

    def on_row(self, row: tuple) -> OrderRequest | None:
        """:meth:`on_record` for a record as a tuple of its fields in ``REC_DTYPE`` order
        (``rec.item()``): plain Python values, far cheaper to read than numpy scalars."""
        inst = row[_INST]
        ph = self.physics.get(inst)
        if ph is None:
            return None
        status = row[_STATUS]
        if status & _END and not status & _ONE_SIDED:  # a whole update, a two-sided book
            ts = row[_TS]
            mid = (row[_BID] + row[_ASK]) / 2
            ph.update(ts, mid, row[_BUY_FLOW], row[_SELL_FLOW])
            crash = self.crash[inst]
            crash.update(ts, mid)
            if crash.halted(ts):
                self.engine.rejected["flash crash"] += 1
                return None
        return self.path(row)

    def on_batch(
        self, recs: np.ndarray, before: Callable[[int], None] | None = None
    ) -> list[OrderRequest]:
        """Records of a batch (``REC_DTYPE``, in stream order), with the same decisions,
        orders, counters and state as :meth:`on_row` on each, in a fraction of the time.

        ``before(k)``, when given, is called before record ``k`` of the batch goes down
        the decision path: a backtest brings the exchange, the account and the risk
        state up to that record's time there, so the decision sees them as they were.

        numpy finds the records that can start a signal (END, tradable, a top-of-book
        imbalance at the engine's threshold), and refuses those its record-only gates
        refuse; of the rest, those the physics gates refuse stop there (counted as
        the engine counts them); only the others go down the decision path.
        Physics gets those that pass the screen's gates (the only ones where its reading
        is taken), plus the first and the last record of every bucket of each
        instrument: its reading depends only on a bucket's last mid and the latest flow
        accumulators, so its state is the same wherever it is read. The flash-crash
        detector sees every whole, two-sided update, as before, through its numba window
        (:meth:`~hean.micro.flash_crash.FlashCrashDetector.update_many`).
        """
        if len(recs) == 0:
            return []
        status = recs["status"].astype(np.int64)
        known = np.isin(
            recs["instrument"], np.fromiter(self.physics, dtype=np.int64, count=len(self.physics))
        )
        idx = np.flatnonzero(known & ((status & _END) != 0) & ((status & _ONE_SIDED) == 0))
        sel = recs[idx]  # the whole, two-sided updates: physics and the crash window's input
        candidate, code = self.engine.screen(sel)
        ids = sel["instrument"]
        ts_a = sel["recv_ts_ns"].astype(np.int64)
        mids_a = (sel["bid_px"].astype(np.int64) + sel["ask_px"]) / 2
        bucket = ts_a // self.physics_config.bucket_ns
        feed = np.zeros(len(idx), dtype=bool)
        halt = np.zeros(len(idx), dtype=bool)
        for i in np.unique(ids).tolist():
            mine = np.flatnonzero(ids == i)
            b = bucket[mine]  # physics: the first and last record of each bucket
            edge = np.ones(len(mine), dtype=bool)
            edge[1:-1] = (b[1:-1] != b[:-2]) | (b[1:-1] != b[2:])
            feed[mine] |= edge
            # the flash-crash window over every whole update, in numba: its halts depend
            # on nothing else, so they can be known before the loop
            halt[mine] = self.crash[i].update_many(ts_a[mine], mids_a[mine])
        halted = int(halt.sum())
        rejected = self.engine.rejected
        if halted:
            rejected["flash crash"] += halted
        go = candidate & ~halt
        # physics is read only where a record passes the screen's gates: fed there too
        feed |= go & (code == 0)
        work = np.flatnonzero(feed | go)
        ts, mids = ts_a[work].tolist(), mids_a[work].tolist()
        buys, sells = sel["buy_flow"][work].tolist(), sel["sell_flow"][work].tolist()
        ids_l, fed, run = ids[work].tolist(), feed[work].tolist(), go[work].tolist()
        gates, at = code[work].tolist(), idx[work].tolist()
        up = (sel["imb_l1"][work] > 0).tolist()  # the side an impulse would take
        reasons, gate = self.engine.SCREEN_REASONS, self.engine.physics_gate
        physics, path = self.physics, self.path
        out: list[OrderRequest] = []
        called = 0
        for j in range(len(work)):
            if fed[j]:
                physics[ids_l[j]].update(ts[j], mids[j], buys[j], sells[j])
            if run[j]:
                g = gates[j]
                if g:
                    rejected[reasons[g]] += 1  # the engine's count for this refusal
                    continue
                # the physics gates read only the reading: most candidates stop here,
                # without the cost of the whole path (which would refuse them the same)
                if refused := gate(up[j], physics[ids_l[j]].state()):
                    rejected[refused] += 1
                    continue
                called += 1
                if before is not None:
                    before(at[j])
                order = path(_unpack_from(recs, at[j] * _REC_SIZE))
                if order is not None:
                    out.append(order)
        # on_row hands every other record of a known instrument to the path too, where
        # the impulse engine's first gate refuses it uncounted; count them as it would
        path.signals += int(known.sum()) - halted - called
        return out

    def _signal(self, row: tuple) -> Signal | None:
        inst = row[_INST]
        ratio = self.flow[inst].flow_ratio(row[_TS]) if inst in self._traded else None
        profile = self.profiles[inst] if inst in self._traded else None
        return self.engine.on_row(row, self.physics[inst], ratio, profile)

    def _order(self, sig: Signal) -> OrderRequest | None:
        tick, lot = self._steps[sig.instrument]
        state = self.engine.last_physics or self.physics[sig.instrument].state()
        price = sig.price_ticks * tick
        equity = self.governor.equity
        equity = equity if equity > 0.0 else 0.0
        buy = sig.side is Side.BUY
        qty = quantity(buy, equity, price, state.phase, state.temperature, state.entropy,
                       hourly_volatility(state.temperature, self.physics_config),
                       self.sizer)  # fmt: skip
        lots = int(qty / lot)
        if lots <= 0:
            return None
        held = self.positions(sig.instrument)
        if self.governor.max_position_lots:
            room = self.governor.position_room(sig.instrument, held, lots if buy else -lots)
            if room == 0:
                self.engine.rejected["max position"] += 1
                return None
            lots = abs(room)
        notional_after = abs(held + (lots if buy else -lots)) * lot * price
        decision = self.governor.check(sig.ts_ns, sig.strategy, notional_after, reduces=False)
        lots = int(lots * decision.size_mult)
        if not decision.allowed or lots <= 0:
            return None
        self.last_signal = sig
        if self._link_ids is None:
            link = f"{sig.strategy[:12]}-{sig.instrument}-{next(self._ids)}"
        else:
            link = self._link_ids(sig.strategy, sig.instrument)
        return OrderRequest(sig.ts_ns, sig.instrument, sig.side, lots, sig.price_ticks,
                            sig.strategy, link)  # fmt: skip


def hourly_volatility(temperature: float, config: PhysicsConfig) -> float:
    """The return size the temperature implies, per bucket, scaled to one hour.

    ``T = KE / (KE + r_ref**2)`` gives the rms return ``r_ref * sqrt(T / (1 - T))`` per
    bucket; times ``sqrt(buckets per hour)``, it is comparable with the sizer's 2 %
    reference volatility.
    """
    t = 0.0 if temperature < 0.0 else (0.999999 if temperature > 0.999999 else temperature)
    per_bucket = config.ref_return * (t / (1 - t)) ** 0.5
    return per_bucket * (3600e9 / config.bucket_ns) ** 0.5
