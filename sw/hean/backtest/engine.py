"""A session replayed through the whole stack, in exchange time.

::

    HL2 messages --> feature engine --> Trader (physics, impulse, risk, sizing)
                                          |  order requests, at recv_ts + decision latency
                                          v
                     ExitWatch ------> Execution (iceberg, slicing, order type)
                                          |
                                          v
                                   Router (journal first) --> PaperExchange
                                          ^                      | entry latency,
                                          +---- reports ---------+ matching, response latency

The feature engine runs over a batch of messages at a time (one record per message).
The trader then screens the batch with numpy and calls back (:meth:`Trader.on_batch`'s
``before``) before each record that goes down its decision path; there the backtest
brings the paper exchange (fed up to that message), the router's reports, the account,
the exits and the risk governor up to that record's time, so each decision sees the
world as it was when its message arrived. Between decisions, messages go to the paper
exchange in bulk; while an order works they go in steps of ``backtest.step_ms`` so that
reports, time-to-live expiries and slices happen on time.

Clocks: the strategy's clock is the latest record's ``recv_ts_ns`` (the router's clock
too); the exchange's is the paper exchange's (``exch_ts_ns`` of what it was fed, and
request arrivals). An order leaves ``latency.decision_us`` after its record's arrival;
the paper exchange adds the entry and response latencies.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np

from hean.accounting import Ledger
from hean.backtest.trace import PHASES, FeatureSeries, FillSeries, Trace
from hean.config import HeanConfig
from hean.domain import Fill, InstrumentSpec, Order, OrderRequest, Side, TimeInForce
from hean.engine import FeatureEngine, open_engine
from hean.exchange.base import FeeRates
from hean.exchange.paper.exchange import PaperExchange
from hean.execution.executor import Execution
from hean.execution.journal import Journal
from hean.execution.router import Router
from hean.risk.governor import RiskGovernor, RiskState, Transition
from hean.strategy.exits import Due, ExitWatch, OpenPosition, WholeUpdates
from hean.strategy.impulse import ImpulseEngine
from hean.trader import Trader
from hean.wire import MSG_DTYPE, REC_DTYPE, REC_STRUCT, MsgType, Params, Status
from hean.wire import Side as BookSide

_END = int(Status.END)
_ONE_SIDED = int(Status.BID_EMPTY | Status.ASK_EMPTY)
#: the feed-latency histogram takes every FEED_SAMPLE-th message
FEED_SAMPLE = 8
_PHASE_CODE = {name: k for k, name in enumerate(PHASES)}
_F = {name: k for k, name in enumerate(REC_DTYPE.names or ())}
_BID, _ASK = _F["bid_px"], _F["ask_px"]


class _Tap:
    """The paper exchange as the router sees it, noting each order's send time and the
    stamp of its first report (the order latency of the report)."""

    def __init__(self, exchange: PaperExchange) -> None:
        self._x = exchange
        self.sent: dict[str, int] = {}
        self.latency: list[int] = []
        self.placed: list[str] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self._x, name)

    def place(self, request: OrderRequest):  # -> Ack
        ack = self._x.place(request)
        # the paper exchange sends at max(its clock, the request's stamp)
        self.sent[request.link_id] = max(self._x.now, request.ts_ns)
        self.placed.append(request.link_id)
        return ack

    def reports(self, until_ns: int | None = None) -> list:
        out = self._x.reports(until_ns)
        for r in out:
            sent = self.sent.pop(r.link_id, None)
            if sent is not None:
                self.latency.append(r.ts_ns - sent)
        return out


@dataclass
class _Series:
    """Samples of one instrument, appended as the replay goes."""

    ts: list[int]
    mid: list[float]
    imb1: list[float]
    imbn: list[float]
    ofi: list[float]
    temp: list[float]
    ent: list[float]
    phase: list[int]


@dataclass
class BacktestResult:
    """What :meth:`Backtest.run` returns."""

    backtest: Backtest
    trace: Trace
    wall_s: float
    messages: int


class Backtest:
    """One replay of a session through the whole stack.

    Parameters
    ----------
    instruments : dict of int to InstrumentSpec
        From the file's sidecar (or defaults).
    config : HeanConfig, optional
    engine : str or FeatureEngine
        The feature engine by name (``open_engine``) or an engine object.
    params : Params, optional
        The feature engine's build parameters (K, N, shifts).
    journal : path, optional
        Where the order journal goes (a new file); a temporary one by default.

    Raises
    ------
    ValueError
        If the journal file exists already, or an argument is bad.
    """

    def __init__(
        self,
        instruments: dict[int, InstrumentSpec],
        config: HeanConfig | None = None,
        *,
        engine: str | FeatureEngine = "mirror",
        params: Params | None = None,
        journal: str | Path | None = None,
    ) -> None:
        cfg = self.config = config or HeanConfig()
        self.specs = dict(instruments)
        self.params = params or Params()
        self.engine = open_engine(engine, self.params) if isinstance(engine, str) else engine
        self._own_engine = isinstance(engine, str)  # opened here: closed here too
        self.fees = FeeRates(cfg.fees.maker, cfg.fees.taker)
        self.paper = PaperExchange(self.specs, self.fees, latency=cfg.latency.model(),
                                   seed=cfg.backtest.seed)  # fmt: skip
        self.tap = _Tap(self.paper)
        self._tmp: TemporaryDirectory | None = None
        if journal is None:
            self._tmp = TemporaryDirectory(prefix="hean-backtest-")
            journal = Path(self._tmp.name) / "journal.db"
        elif Path(journal).exists():
            raise ValueError(f"{journal}: exists; a backtest writes a new journal")
        self.journal_path = Path(journal)
        self.journal = Journal(self.journal_path, durable=False)
        self.ledger = Ledger(self.specs, Decimal(str(cfg.account.starting_equity)))
        self.now = 0  # the strategy's clock: the latest record's recv_ts_ns
        self.router = Router(self.tap, self.journal, ledger=self.ledger, clock=lambda: self.now,  # type: ignore[arg-type]
                             blocking=False, config=cfg.router)  # fmt: skip
        self.execution = Execution(self.router, self.specs, fees=self.fees,
                                   config=cfg.execution, seed=cfg.backtest.seed)  # fmt: skip
        self._then = self.router.on_fill
        self.router.on_fill = self._on_fill
        self.transitions: list[Transition] = []
        self.governor = RiskGovernor(cfg.risk, on_transition=self.transitions.append)
        self.impulse = ImpulseEngine(cfg.impulse)
        self.trader = Trader(self.specs, self.governor, self.impulse, sink=self._on_request,
                             positions=self._position, physics=cfg.physics,
                             flash_crash=cfg.flash_crash, sizer=cfg.sizer)  # fmt: skip
        self.exits = ExitWatch(cfg.exits, cfg.risk.position_ttl_s)
        self.exit_reasons: dict[str, int] = {}
        self._decision_ns = cfg.latency.decision_ns
        self._step_ns = max(1, round(cfg.backtest.step_ms * 1e6))
        self._sample_ns = max(1, round(cfg.backtest.sample_ms * 1e6))
        self._next_sample = 0
        self._levels: dict[int, tuple[float, float]] = {}  # instrument -> (tp, sl) of its entry
        self._exit_of: dict[int, str] = {}  # instrument -> link id of its working exit
        self._exit_touch: dict[str, float] = {}
        self._dirty: set[int] = set()  # instruments whose position changed
        self._working: set[str] = set()  # link ids not yet settled
        self._exit_seq = 0
        self._carry: dict[int, tuple] = {}  # instrument -> its latest whole record before
        self._upd = WholeUpdates(np.zeros(0, REC_DTYPE))
        self._seen = self._flowed = self._k = 0
        self._series = {i: _Series([], [], [], [], [], [], [], []) for i in self.specs}
        self._fills: list[tuple] = []
        self._feed_lat: list[np.ndarray] = []
        self._msg_base = 0  # messages of the batches before this one
        self.no_recv_ts = 0  # messages that came without a receive time
        self._engine_ns: list[float] = []
        self._equity: list[tuple[int, float]] = []
        self._halted = False
        # the batch being replayed
        self._msgs = np.zeros(0, MSG_DTYPE)
        self._recs = np.zeros(0, REC_DTYPE)
        self._raw = b""
        self._recv = np.zeros(0, np.int64)
        self._fed = 0

    # ------------------------------------------------------------------ the replay

    def run(
        self, msgs: np.ndarray, progress: Callable[[int], None] | None = None
    ) -> BacktestResult:
        """Replay ``msgs`` (``MSG_DTYPE``, in arrival order) and settle at the end.

        ``progress(n)`` is called with the messages done after each batch.
        """
        if not isinstance(msgs, np.ndarray) or msgs.dtype != MSG_DTYPE or msgs.ndim != 1:
            raise ValueError("run() needs a 1-d numpy array of hean.wire.MSG_DTYPE")
        if hasattr(self.engine, "warm_up"):
            self.engine.warm_up()  # compile (or build) before the clock starts
        self.trader.warm_up()
        started = time.perf_counter()
        equity0 = float(self.config.account.starting_equity)
        batch = self.config.backtest.batch
        first = True
        for lo in range(0, len(msgs), batch):
            part = msgs[lo : lo + batch]
            unseen = part["recv_ts_ns"] == 0
            missing = int(unseen.sum())
            if missing:
                # no receive time (Bybit's historical downloads): the strategy sees the
                # message at its exchange time, the only clock the file has (in a copy:
                # the caller's array, or a read-only file map, stays as it is)
                part = part.copy()
                part["recv_ts_ns"][unseen] = part["exch_ts_ns"][unseen]
                self.no_recv_ts += missing
            t0 = time.perf_counter_ns()
            recs = self.engine.process(part)
            self._engine_ns.append((time.perf_counter_ns() - t0) / len(part))
            self._begin(part, recs)
            if first:
                first = False
                self.now = int(self._recv[0])
                self.governor.on_equity(self.now, equity0)
                self._equity.append((self.now, equity0))
                self._next_sample = (self.now // self._sample_ns + 1) * self._sample_ns
            self.trader.on_batch(recs, before=self._advance)
            self._advance(len(part) - 1, final=True)
            self._sync()
            if progress is not None:
                progress(len(part))
        self._settle()
        wall = time.perf_counter() - started
        return BacktestResult(self, self._trace(), wall, len(msgs))

    def _begin(self, msgs: np.ndarray, recs: np.ndarray) -> None:
        if len(self._recs):  # the previous batch's last rows stand in until new ones come
            for inst in self.specs:
                row = self._last_row(inst)
                if row is not None:
                    self._carry[inst] = row
        self._msgs, self._recs, self._raw = msgs, recs, recs.tobytes()
        self._upd = WholeUpdates(recs)
        # the strategy's clock never goes back, even over a file out of arrival order
        recv = msgs["recv_ts_ns"].astype(np.int64)
        self._recv = np.maximum.accumulate(recv)
        if self.now:
            np.maximum(self._recv, self.now, out=self._recv)
        self._fed = self._seen = self._flowed = 0
        # feed latency of every FEED_SAMPLE-th message of the stream (wherever batches end)
        lat = recv - msgs["exch_ts_ns"].astype(np.int64)
        self._feed_lat.append(lat[(-self._msg_base) % FEED_SAMPLE :: FEED_SAMPLE])
        self._msg_base += len(msgs)

    def _advance(self, k: int, final: bool = False) -> None:
        """Bring the exits, the account and the risk state up to record ``k`` of the batch.

        While nothing of ours works, the paper exchange is left behind (it has nothing
        to report) and is fed in bulk when an order is about to go (:meth:`_sync`);
        while an order works, it is fed up to each ``step_ms`` boundary of the clock
        and its reports applied there. Every stop is fixed by the stream itself (a
        decision, a step or sample boundary, an exit), never by where a batch ends
        (``final``: the batch's last records, applied without a stop of their own), so
        the batch size does not change the result.
        """
        recv, n = self._recv, len(self._recv)
        if (
            not final
            and not self._working
            and recv[k] < self._next_sample
            and not self.execution.working
            and (not self.exits.positions or self.exits.first_due(self._upd, self._seen, k + 1)
                 is None)
        ):  # fmt: skip
            # the common case: nothing works, no exit and no sample due
            if self._seen <= k:
                self._seen, self.now = k + 1, int(recv[k])
            self._k = k
            self._flow_to(k)
            return
        while self._seen <= k:
            lo = self._seen
            stop, cut = k + 1, not final
            working = bool(self._working) or self.execution.working
            if working:  # stop at the next step boundary: reports and expiries on time
                edge = (int(recv[lo]) // self._step_ns + 1) * self._step_ns
                g = max(lo + 1, int(np.searchsorted(recv, edge, "left")))
                if g < n and g <= stop:  # the boundary falls inside this batch
                    stop, cut = g, True
            if recv[stop - 1] >= self._next_sample:  # stop at the first sample boundary
                stop = min(stop, int(np.searchsorted(recv, self._next_sample, "left")) + 1)
                cut = True
            due = self.exits.first_due(self._upd, lo, stop)
            if due is not None:
                stop, cut = due.index + 1, True
            self._seen = stop
            self.now = int(recv[stop - 1])
            if cut and (working or due is not None):
                self._sync()
                self._pump()
            if due is not None:
                self._exit(due)
            if self.now >= self._next_sample:
                self._sample()
        self._k = k
        self._flow_to(k)

    def _flow_to(self, k: int) -> None:
        """Trades up to record ``k`` to the trade-flow analyzer (``backtest.trade_flow``)."""
        if self.config.backtest.trade_flow and self._flowed <= k:
            self._trades(self._flowed, k + 1)
            self._flowed = k + 1

    def _sync(self) -> None:
        """Feed the paper exchange every message the strategy has seen."""
        if self._fed < self._seen:
            self.paper.feed(self._msgs[self._fed : self._seen])
            self._fed = self._seen

    def _last_row(self, inst: int) -> tuple | None:
        """The instrument's latest whole, two-sided record seen so far."""
        at = self._upd.last(inst, self._seen - 1) if self._seen else None
        if at is None:
            return self._carry.get(inst)
        return REC_STRUCT.unpack_from(self._raw, at * REC_STRUCT.size)

    def _trades(self, lo: int, hi: int) -> None:
        part = self._msgs[lo:hi]
        trades = np.flatnonzero(part["type"] == MsgType.TRADE)
        if trades.size == 0:
            return
        t = part[trades]
        for inst, ts, side, qty, price in zip(
            t["instrument"].tolist(), t["recv_ts_ns"].tolist(), t["side"].tolist(),
            t["qty"].tolist(), t["price"].tolist(), strict=True,
        ):  # fmt: skip
            if qty > 0 and side <= 1:  # the exchange's bad messages are not trades
                self.trader.on_trade(inst, ts, side == BookSide.BID, qty, price)

    def _pump(self) -> None:
        """Deliver reports, place due slices, expire orders; then the positions' news."""
        if self.execution.working:  # slices are priced against the latest tops
            for inst in self.specs:
                row = self._last_row(inst)
                if row is not None:
                    self.execution.on_row(row)
        self.execution.pump()
        if self._working:
            orders = self.router.orders
            for link in [x for x in self._working if orders[x].status.terminal]:
                self._working.discard(link)
                for inst, exit_link in list(self._exit_of.items()):
                    if exit_link == link:
                        del self._exit_of[inst]
                        self._dirty.add(inst)
        self._take_placed()
        if self._dirty:
            self._update_exits()
        if self.governor.state is RiskState.HARD_STOP and not self._halted:
            self._halted = True  # the kill switch: flatten everything, once
            for inst in list(self.exits.positions):
                self._exit(Due(self._fed - 1, inst, "kill switch"))

    def _take_placed(self) -> None:
        """Every order placed since the last call is working until it settles."""
        self._working.update(self.tap.placed)
        self.tap.placed.clear()

    def _update_exits(self) -> None:
        for inst in self._dirty:
            pos = self.ledger.positions.get(inst)
            if pos is None or pos.qty == 0 or inst in self._exit_of:
                self.exits.forget(inst)
                continue
            tp, sl = self._levels.get(inst, (self.config.impulse.take_profit_bps,
                                             self.config.impulse.stop_loss_bps))  # fmt: skip
            avg = pos.avg_price
            self.exits.watch(OpenPosition(inst, pos.qty, float(avg) if avg else 0.0,
                                          pos.opened_ns or self.now, tp, sl))  # fmt: skip
        self._dirty.clear()
        if self.ledger.fills:
            self._mark_equity()

    def _rows(self) -> dict[int, tuple]:
        rows = {i: self._last_row(i) for i in self.specs}
        return {i: r for i, r in rows.items() if r is not None}

    def _mark_equity(self, rows: dict[int, tuple] | None = None) -> None:
        for inst, row in (self._rows() if rows is None else rows).items():
            self.ledger.mark(inst, (row[_BID] + row[_ASK]) // 2)
        equity = float(self.ledger.equity())
        self.governor.on_equity(self.now, equity)
        self._equity.append((self.now, equity))

    def _sample(self) -> None:
        rows = self._rows()
        self._mark_equity(rows)
        for inst, row in rows.items():
            s = self._series[inst]
            state = self.trader.physics[inst].state()
            tick = float(self.specs[inst].tick)
            s.ts.append(self.now)
            s.mid.append((row[_BID] + row[_ASK]) * tick / 2)
            s.imb1.append(row[_F["imb_l1"]] / 32768)
            s.imbn.append(row[_F["imb_depth"]] / 32768)
            s.ofi.append(float(row[_F["ofi"]]))
            s.temp.append(state.temperature)
            s.ent.append(state.entropy)
            s.phase.append(_PHASE_CODE.get(state.phase, len(PHASES) - 1))
        self._next_sample = (self.now // self._sample_ns + 1) * self._sample_ns

    # ------------------------------------------------------------------ orders

    def _position(self, instrument: int) -> int:
        pos = self.ledger.positions.get(instrument)
        return 0 if pos is None else pos.qty

    def _on_request(self, request: OrderRequest) -> None:
        """An entry from the trader: priced and sent by execution."""
        sig = self.trader.last_signal
        inst = request.instrument
        book = self.paper.book(inst)
        self.execution.refresh_book(inst, book.levels(BookSide.BID, 20),
                                    book.levels(BookSide.ASK, 20), self.now)  # fmt: skip
        self._sync()
        self.execution.on_row(REC_STRUCT.unpack_from(self._raw, self._k * REC_STRUCT.size))
        request = request.replace(ts_ns=request.ts_ns + self._decision_ns)
        edge = 0.0 if sig is None else sig.take_profit_bps * sig.strength
        outcome = self.execution.submit(request, edge)
        if outcome.action != "skip" and sig is not None:
            self._levels[inst] = (sig.take_profit_bps, sig.stop_loss_bps)
        self._take_placed()

    def _exit(self, due: Due) -> None:
        """Close the instrument's position with a reduce-only market order."""
        inst = due.instrument
        held = self._position(inst)
        if held == 0 or inst in self._exit_of:
            self.exits.forget(inst)
            return
        decision = self.governor.check(self.now, "exit", 0.0, reduces=True)
        if not decision.allowed:
            return  # no order budget now: the watch finds it due again at the next record
        self._exit_seq += 1
        link = f"exit-{inst}-{self._exit_seq}"
        side = Side.SELL if held > 0 else Side.BUY
        req = OrderRequest(self.now + self._decision_ns, inst, side, abs(held), None, "exit",
                           link, reduce_only=True, tif=TimeInForce.IOC)  # fmt: skip
        self._sync()
        if not self.router.submit(req):
            return
        row = self._last_row(inst)
        if row is not None:
            self._exit_touch[link] = float(row[_BID] if side is Side.SELL else row[_ASK])
        self._exit_of[inst] = link
        self.exits.forget(inst)
        self.exit_reasons[due.reason] = self.exit_reasons.get(due.reason, 0) + 1
        self._take_placed()

    def _on_fill(self, fill: Fill, order: Order) -> None:
        touch = self.execution.touch_of(fill.link_id) or self._exit_touch.get(fill.link_id)
        slip = float("nan")
        if touch:
            slip = fill.side.sign * (fill.price_ticks - touch) / touch * 1e4
        spec = self.specs[fill.instrument]
        self._fills.append((fill.ts_ns, fill.instrument, fill.side.sign,
                            fill.price_ticks * float(spec.tick), fill.qty_lots * float(spec.lot),
                            fill.maker, slip, float(fill.fee)))  # fmt: skip
        self._dirty.add(fill.instrument)
        if self._then is not None:
            self._then(fill, order)

    def _settle(self) -> None:
        """Cancel what rests, let every report come back, and take a last sample."""
        for order in self.paper.open_orders():
            self.router.cancel(order.request.instrument, order.request.link_id)
        latency = self.config.latency
        end = max(self.now, self.paper.now) + round((latency.entry_ms + latency.response_ms)
                                                     * 1e6) + self._step_ns  # fmt: skip
        self.paper.advance(end)
        self.now = end
        self._pump()
        self._sample()

    # ------------------------------------------------------------------ results

    def _trace(self) -> Trace:
        f = self._fills
        cols = list(zip(*f, strict=True)) if f else [()] * 8
        fills = FillSeries(
            ts_ns=np.array(cols[0], np.int64), instrument=np.array(cols[1], np.int16),
            side=np.array(cols[2], np.int8), price=np.array(cols[3], np.float64),
            qty=np.array(cols[4], np.float64), maker=np.array(cols[5], bool),
            slippage_bps=np.array(cols[6], np.float64), fee=np.array(cols[7], np.float64),
        )  # fmt: skip
        features = {i: self._features(i, s) for i, s in self._series.items()}
        return Trace(
            equity_ts_ns=np.array([t for t, _ in self._equity], np.int64),
            equity=np.array([e for _, e in self._equity], np.float64), features=features,
            fills=fills,
            risk=[(t.ts_ns, t.new.name, t.reason) for t in self.transitions],
            feed_latency_ns=np.concatenate(self._feed_lat) if self._feed_lat
            else np.zeros(0, np.int64),
            order_latency_ns=np.array(self.tap.latency, np.int64),
            engine_ns_per_msg=np.array(self._engine_ns, np.float64),
        )  # fmt: skip

    def _features(self, inst: int, s: _Series) -> FeatureSeries:
        return FeatureSeries(
            self.specs[inst].symbol, np.array(s.ts, np.int64), np.array(s.mid),
            np.array(s.imb1), np.array(s.imbn), np.array(s.ofi), np.array(s.temp),
            np.array(s.ent), np.array(s.phase, np.int8),
        )  # fmt: skip

    def close(self) -> None:
        """Close the journal (and remove it, when it was a temporary one), and the
        feature engine when it was opened here by name (the Verilator engine's harness
        is a process of its own)."""
        self.journal.close()
        close_engine = getattr(self.engine, "close", None)
        if self._own_engine and close_engine is not None:
            close_engine()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
