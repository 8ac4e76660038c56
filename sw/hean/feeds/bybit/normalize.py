"""Bybit V5 public messages to HL2 (HL2 v1, "Gateway normalization: Bybit V5").

:class:`Normalizer` takes Bybit's raw messages, exactly as they arrive on the public
WebSocket (or as Bybit's historical downloads store them), one at a time, and returns
the HL2 messages each one stands for:

- ``orderbook.{depth}.{symbol}`` snapshot, or any book message with ``data.u == 1``:
  CLEAR both sides, then one SET per ``data.b`` entry, then one per ``data.a`` entry;
  every one flagged SNAPSHOT, the last one also END;
- a book delta: one SET per ``data.b`` entry, then per ``data.a`` entry; the last one
  END. An empty delta emits nothing;
- ``publicTrade.{symbol}``: one TRADE per ``data`` entry (0 for ``"Buy"``, 1 for
  ``"Sell"``); the last one END.

An instrument is *stale* until its first snapshot; a delta whose ``u`` does not follow
the previous one (a gap), or any book message that cannot be converted, makes it stale
again, and the normalizer asks its source for a new snapshot through ``on_stale``.
Deltas of a stale instrument emit nothing. A message that cannot be converted (a
malformed or missing field, a price or size that is not a whole number of ticks or
lots, an unknown symbol or topic) is rejected whole: nothing of it is emitted, it is
counted, and :attr:`Normalizer.last_error` says why.

Prices and sizes are converted with exact decimal arithmetic: ``"1.9531"`` with tick
``0.0001`` is 19531 ticks; ``"1.95315"`` is rejected rather than rounded.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from decimal import Decimal, DivisionByZero, Inexact, InvalidOperation, localcontext
from typing import Any

import numpy as np

from hean.feeds.sidecar import Instrument
from hean.wire import MSG_DTYPE, Flag, MsgType, Side

#: Largest price an HL2 SET or TRADE may carry (prices above it are bad messages).
MAX_PRICE = 0x7FFFFFFF
#: Largest size an HL2 message can carry (u32).
MAX_QTY = 0xFFFFFFFF
_U32 = 1 << 32
_NS_PER_MS = 1_000_000
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")


class BybitInputError(ValueError):
    """A Bybit message that cannot be converted to HL2; the text says why."""


@dataclass
class NormalizerCounters:
    """What a :class:`Normalizer` has seen.

    Attributes
    ----------
    messages : int
        Exchange messages taken in (rejected ones included).
    hl2 : int
        HL2 messages emitted.
    rejected : int
        Messages rejected whole (nothing emitted).
    gaps : int
        Deltas whose ``u`` did not follow the instrument's previous one.
    snapshots : int
        Snapshots applied (``type == "snapshot"`` or ``u == 1``).
    ignored : int
        Deltas of a stale instrument, dropped while it waits for a snapshot.
    trades : int
        Trade messages converted (each may hold several trades).
    """

    messages: int = 0
    hl2: int = 0
    rejected: int = 0
    gaps: int = 0
    snapshots: int = 0
    ignored: int = 0
    trades: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class _State:
    """One instrument's gateway state."""

    inst: Instrument
    tick: Decimal
    lot: Decimal
    seq: int = 0  # last HL2 seq emitted (the first one is 1)
    last_u: int | None = None
    stale: bool = True


def to_units(value: object, step: Decimal, what: str) -> int:
    """Convert a Bybit decimal string to a whole number of ``step`` (ticks or lots).

    Parameters
    ----------
    value : object
        The field as Bybit sent it; it must be a plain decimal string (``"1.9531"``).
    step : Decimal
        The instrument's tick or lot size.
    what : str
        Names the field in the error.

    Returns
    -------
    int
        ``value / step``, which must be exact.

    Raises
    ------
    BybitInputError
        If ``value`` is not a plain non-negative decimal string or not a whole
        multiple of ``step``.
    """
    if not isinstance(value, str) or _DECIMAL.fullmatch(value) is None:
        raise BybitInputError(f"{what} must be a decimal string such as '1.25', got {value!r}")
    with localcontext() as ctx:
        ctx.prec = 60
        ctx.traps[Inexact] = True
        try:
            units = Decimal(value) / step
        except (Inexact, InvalidOperation, DivisionByZero):
            raise BybitInputError(f"{what} {value} is not a multiple of {step}") from None
    if units != units.to_integral_value():
        raise BybitInputError(f"{what} {value} is not a multiple of {step}")
    return int(units)


def _int_field(obj: dict, key: str, what: str) -> int:
    if key not in obj:
        raise BybitInputError(f"{what}: missing field {key!r}")
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BybitInputError(f"{what}: {key} must be a non-negative integer, got {value!r}")
    return value


def _ms_to_ns(ms: int, what: str) -> int:
    ns = ms * _NS_PER_MS
    if ns >= 1 << 64:
        raise BybitInputError(f"{what}: timestamp {ms} ms does not fit HL2's u64 ns")
    return ns


def parse_topic(topic: object) -> tuple[str, str]:
    """Split a Bybit topic into its kind (``"orderbook"`` or ``"publicTrade"``) and symbol.

    Raises
    ------
    BybitInputError
        If the topic is missing, malformed or of a kind the gateway does not handle.
    """
    if not isinstance(topic, str):
        raise BybitInputError(f"not a Bybit market-data message: topic is {topic!r}")
    parts = topic.split(".")
    if parts[0] == "orderbook" and len(parts) == 3 and parts[1].isdigit() and parts[2]:
        return "orderbook", parts[2]
    if parts[0] == "publicTrade" and len(parts) == 2 and parts[1]:
        return "publicTrade", parts[1]
    raise BybitInputError(
        f"unsupported topic {topic!r} (expected orderbook.DEPTH.SYMBOL or publicTrade.SYMBOL)"
    )


class Normalizer:
    """Bybit V5 raw public messages in, HL2 messages out, per the HL2 v1 gateway rules.

    Parameters
    ----------
    instruments : iterable of Instrument
        The instruments to convert (symbol, HL2 id, tick and lot); any other symbol is
        rejected.
    on_stale : callable, optional
        ``on_stale(symbol, reason)`` is called whenever an instrument becomes stale
        through a gap or a rejected book message: the source should fetch a new
        snapshot (the live source resubscribes).

    Raises
    ------
    ValueError
        If two instruments share a symbol or an id.
    """

    def __init__(
        self,
        instruments: Iterable[Instrument],
        on_stale: Callable[[str, str], None] | None = None,
    ) -> None:
        self._state: dict[str, _State] = {}
        ids: set[int] = set()
        for inst in instruments:
            if inst.symbol in self._state or inst.id in ids:
                raise ValueError(f"instrument {inst.symbol} (id {inst.id}) is listed twice")
            ids.add(inst.id)
            self._state[inst.symbol] = _State(inst, inst.tick_decimal, inst.lot_decimal)
        self.on_stale = on_stale
        self.counters = NormalizerCounters()
        #: Why the last rejected message was rejected (None before any rejection).
        self.last_error: str | None = None

    @property
    def instruments(self) -> list[Instrument]:
        """The instruments this normalizer converts, in the order given."""
        return [s.inst for s in self._state.values()]

    def is_stale(self, symbol: str) -> bool:
        """Whether ``symbol``'s deltas are being ignored until its next snapshot."""
        return self._state[symbol].stale

    def mark_stale(self, symbol: str) -> None:
        """Ignore ``symbol``'s deltas until a snapshot (after a reconnect, say)."""
        self._state[symbol].stale = True

    def mark_all_stale(self) -> None:
        """Every instrument waits for a snapshot (the connection was lost)."""
        for st in self._state.values():
            st.stale = True

    def feed(self, msg: object, recv_ts_ns: int = 0) -> np.ndarray:
        """Convert one raw Bybit message; never raises for bad exchange input.

        Parameters
        ----------
        msg : object
            The message as decoded from JSON (normally a dict).
        recv_ts_ns : int
            Local receive time, ns since the Unix epoch (0 when unknown).

        Returns
        -------
        numpy.ndarray
            The HL2 messages (``MSG_DTYPE``) this message stands for; empty for a
            rejected message, an empty delta or a delta of a stale instrument.
        """
        self.counters.messages += 1
        try:
            rows = self._convert(msg, recv_ts_ns)
        except BybitInputError as exc:
            self.counters.rejected += 1
            self.last_error = str(exc)
            self._stale_on_rejection(msg, str(exc))
            return np.zeros(0, dtype=MSG_DTYPE)
        self.counters.hl2 += len(rows)
        return np.array(rows, dtype=MSG_DTYPE) if rows else np.zeros(0, dtype=MSG_DTYPE)

    # --- conversion ----------------------------------------------------------------

    def _convert(self, msg: object, recv_ts_ns: int) -> list[tuple[int, ...]]:
        if not isinstance(msg, dict):
            raise BybitInputError(f"a Bybit message is a JSON object, got {type(msg).__name__}")
        kind, symbol = parse_topic(msg.get("topic"))
        state = self._state.get(symbol)
        if state is None:
            raise BybitInputError(f"unknown symbol {symbol!r} (not in the instrument registry)")
        if kind == "orderbook":
            return self._book(msg, state, recv_ts_ns)
        return self._trades(msg, state, recv_ts_ns)

    def _book(self, msg: dict, st: _State, recv_ts_ns: int) -> list[tuple[int, ...]]:
        what = f"{msg['topic']}"
        data = msg.get("data")
        if not isinstance(data, dict):
            raise BybitInputError(f"{what}: 'data' must be an object, got {data!r}")
        if "s" in data and data["s"] != st.inst.symbol:
            raise BybitInputError(f"{what}: data.s {data['s']!r} does not match the topic")
        kind = msg.get("type")
        if kind not in ("snapshot", "delta"):
            raise BybitInputError(f"{what}: type must be 'snapshot' or 'delta', got {kind!r}")
        u = _int_field(data, "u", what)
        ts_key = "cts" if "cts" in msg else "ts"
        exch_ns = _ms_to_ns(_int_field(msg, ts_key, what), what)
        levels = []
        for side, key in ((Side.BID, "b"), (Side.ASK, "a")):
            entries = data.get(key)
            if not isinstance(entries, list):
                raise BybitInputError(f"{what}: data.{key} must be a list, got {entries!r}")
            for n, entry in enumerate(entries):
                if not isinstance(entry, list) or len(entry) != 2:
                    raise BybitInputError(f"{what}: data.{key}[{n}] must be [price, size]")
                price = to_units(entry[0], st.tick, f"{what}: data.{key}[{n}] price")
                qty = to_units(entry[1], st.lot, f"{what}: data.{key}[{n}] size")
                if not 0 < price <= MAX_PRICE:
                    raise BybitInputError(
                        f"{what}: data.{key}[{n}] price {entry[0]} is {price} ticks, "
                        f"outside 1..{MAX_PRICE}"
                    )
                if qty > MAX_QTY:
                    raise BybitInputError(
                        f"{what}: data.{key}[{n}] size {entry[1]} is {qty} lots, above {MAX_QTY}"
                    )
                levels.append((MsgType.SET, side, price, qty))
        # everything is converted: from here on the message is accepted
        if kind == "snapshot" or u == 1:
            st.stale = False
            st.last_u = u
            self.counters.snapshots += 1
            update = [(MsgType.CLEAR, Side.BOTH, 0, 0), *levels]
            return self._emit(st, update, Flag.SNAPSHOT, exch_ns, recv_ts_ns)
        if st.stale:
            self.counters.ignored += 1
            return []
        if st.last_u is not None and u != st.last_u + 1:
            self.counters.gaps += 1
            st.stale = True
            self._request_snapshot(st, f"gap: u {u} after {st.last_u}")
            return []
        st.last_u = u
        return self._emit(st, levels, 0, exch_ns, recv_ts_ns)

    def _trades(self, msg: dict, st: _State, recv_ts_ns: int) -> list[tuple[int, ...]]:
        what = f"{msg['topic']}"
        data = msg.get("data")
        if not isinstance(data, list):
            raise BybitInputError(f"{what}: 'data' must be a list of trades, got {data!r}")
        trades = []
        for n, trade in enumerate(data):
            where = f"{what}: data[{n}]"
            if not isinstance(trade, dict):
                raise BybitInputError(f"{where} must be an object, got {trade!r}")
            if "s" in trade and trade["s"] != st.inst.symbol:
                raise BybitInputError(f"{where}: s {trade['s']!r} does not match the topic")
            side = {"Buy": Side.BID, "Sell": Side.ASK}.get(trade.get("S"))
            if side is None:
                raise BybitInputError(f"{where}: S must be 'Buy' or 'Sell', got {trade.get('S')!r}")
            for key in ("p", "v"):
                if key not in trade:
                    raise BybitInputError(f"{where}: missing field {key!r}")
            price = to_units(trade["p"], st.tick, f"{where} price")
            qty = to_units(trade["v"], st.lot, f"{where} size")
            if not 0 < price <= MAX_PRICE:
                raise BybitInputError(f"{where}: price {trade['p']} is not 1..{MAX_PRICE} ticks")
            if not 0 < qty <= MAX_QTY:
                raise BybitInputError(f"{where}: size {trade['v']} is outside 1..{MAX_QTY} lots")
            exch_ns = _ms_to_ns(_int_field(trade, "T", where), where)
            trades.append((side, price, qty, exch_ns))
        self.counters.trades += 1
        rows: list[tuple[int, ...]] = []
        for k, (side, price, qty, exch_ns) in enumerate(trades):
            flags = Flag.END if k == len(trades) - 1 else 0
            rows.append(self._row(st, MsgType.TRADE, side, flags, price, qty, exch_ns, recv_ts_ns))
        return rows

    def _emit(
        self, st: _State, update: list, base: int, exch_ns: int, recv_ts_ns: int
    ) -> list[tuple[int, ...]]:
        last = len(update) - 1
        rows = []
        for k, (mtype, side, p, q) in enumerate(update):
            flags = base | (Flag.END if k == last else 0)
            rows.append(self._row(st, mtype, side, flags, p, q, exch_ns, recv_ts_ns))
        return rows

    @staticmethod
    def _row(st: _State, *fields: Any) -> tuple[int, ...]:
        mtype, side, flags, price, qty, exch_ns, recv_ns = fields
        st.seq = (st.seq + 1) % _U32
        return (mtype, side, flags, st.inst.id, st.seq, price, qty, exch_ns, recv_ns)

    # --- staleness -----------------------------------------------------------------

    def _stale_on_rejection(self, msg: object, reason: str) -> None:
        """A rejected book message of a known symbol leaves its book untrustworthy."""
        if not isinstance(msg, dict):
            return
        try:
            kind, symbol = parse_topic(msg.get("topic"))
        except BybitInputError:
            return
        st = self._state.get(symbol)
        if kind == "orderbook" and st is not None:
            st.stale = True
            self._request_snapshot(st, f"rejected book message: {reason}")

    def _request_snapshot(self, st: _State, reason: str) -> None:
        if self.on_stale is not None:
            self.on_stale(st.inst.symbol, reason)
