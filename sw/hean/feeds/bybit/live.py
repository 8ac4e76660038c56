"""The live source: Bybit V5 public streams through pybit, as raw messages.

pybit's ``WebSocket`` keeps a merged copy of each order book and hands that copy, not
the delta, to the topic callbacks (pybit issue 369), which would hide gaps and ``u``.
So the source gives pybit a ``callback_function``: pybit then passes every decoded
message to it before any book merging. Market data (messages with a ``topic``) goes
to ``on_message(msg, recv_ts_ns)``, stamped on arrival; control messages (subscribe
and unsubscribe answers) go back to pybit's own handler, so its bookkeeping stays
right.

:class:`LiveSource` subscribes one ``orderbook.{depth}.{symbol}`` and one
``publicTrade.{symbol}`` topic per symbol. When the gateway finds an instrument stale
it calls :meth:`LiveSource.request_snapshot`: the book topic is unsubscribed and, once
Bybit confirms, subscribed again, and Bybit answers with a fresh snapshot. When the
connection drops, :meth:`LiveSource.step` (called by :meth:`LiveSource.run` about five
times a second) reconnects after an exponential backoff, subscribes everything again
and tells ``on_disconnect`` so the gateway marks every instrument stale.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

#: Order-book depths Bybit publishes for linear contracts.
DEPTHS = (1, 50, 200, 1000)
#: Seconds to wait for Bybit to confirm an unsubscribe before subscribing anyway.
UNSUBSCRIBE_TIMEOUT_S = 5.0


@dataclass
class Backoff:
    """Exponential reconnect delays: ``initial``, doubled per failure, at most ``maximum``.

    A connection that stayed up for ``stable_s`` seconds resets the delay.
    """

    initial: float = 1.0
    maximum: float = 60.0
    stable_s: float = 30.0
    _next: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self._next = self.initial

    def delay(self) -> float:
        """The delay before the next attempt (then doubled for the one after)."""
        current = self._next
        self._next = min(self.maximum, self._next * 2)
        return current

    def reset(self) -> None:
        self._next = self.initial


def pybit_websocket(testnet: bool) -> Callable[..., Any]:
    """A factory of pybit public linear WebSockets that deliver raw messages.

    pybit retries nothing itself (``retries=1``, ``restart_on_error=False``): the
    source's own backoff decides when to try again.
    """

    def make(callback_function: Callable[[dict], None]) -> Any:
        from pybit.unified_trading import WebSocket

        return WebSocket(
            testnet=testnet,
            channel_type="linear",
            callback_function=callback_function,
            retries=1,
            restart_on_error=False,
        )

    return make


class LiveSource:
    """Raw Bybit order-book and trade messages for ``symbols``, kept connected.

    Parameters
    ----------
    symbols : iterable of str
        Linear symbols (``BTCUSDT``).
    on_message : callable
        ``on_message(msg, recv_ts_ns)`` for every market-data message, on pybit's
        thread, in arrival order.
    depth : int
        Order-book depth, one of :data:`DEPTHS`.
    testnet : bool
        Bybit's testnet (the default) or mainnet.
    on_disconnect : callable, optional
        Called (no arguments) when a lost connection is noticed.
    ws_factory : callable, optional
        ``ws_factory(callback_function)`` returns a connected pybit-like WebSocket;
        by default :func:`pybit_websocket`.
    clock : callable
        Monotonic seconds (tests pass a fake clock).
    wall_ns : callable
        The receive-time stamp, ns since the epoch.
    backoff : Backoff, optional
        Reconnect delays.

    Raises
    ------
    ValueError
        If ``depth`` is not one Bybit publishes or no symbol is given.
    """

    def __init__(
        self,
        symbols: Iterable[str],
        on_message: Callable[[dict, int], None],
        *,
        depth: int = 50,
        testnet: bool = True,
        on_disconnect: Callable[[], None] | None = None,
        ws_factory: Callable[..., Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_ns: Callable[[], int] = time.time_ns,
        backoff: Backoff | None = None,
    ) -> None:
        if depth not in DEPTHS:
            raise ValueError(f"depth {depth}: Bybit publishes {', '.join(map(str, DEPTHS))}")
        self.symbols = list(dict.fromkeys(symbols))
        if not self.symbols:
            raise ValueError("no symbol to subscribe to")
        self.depth = depth
        self.on_message = on_message
        self.on_disconnect = on_disconnect
        self.ws_factory = ws_factory or pybit_websocket(testnet)
        self.clock = clock
        self.wall_ns = wall_ns
        self.backoff = backoff or Backoff()
        self.ws: Any = None
        self.connects = 0  # successful connections
        self.resubscribes = 0  # snapshot requests carried out
        self._lock = threading.RLock()
        self._pending: dict[str, float] = {}  # book topic -> when its unsubscribe was sent
        self._next_attempt = 0.0
        self._connected_at: float | None = None
        self._closed = False

    def book_topic(self, symbol: str) -> str:
        return f"orderbook.{self.depth}.{symbol}"

    # --- connection ----------------------------------------------------------------

    def connect(self) -> bool:
        """Connect and subscribe every topic; False (and a delay set) if it failed."""
        try:
            ws = self.ws_factory(callback_function=self._on_raw)
        except Exception as exc:  # pybit raises websocket-client's errors, and its own
            self._failed(exc)
            return False
        with self._lock:
            self.ws = ws
            try:
                for symbol in self.symbols:
                    ws.orderbook_stream(self.depth, symbol, _unused)
                    ws.trade_stream(symbol, _unused)
            except Exception as exc:
                self.ws = None
                failed: Exception | None = exc
            else:
                failed = None
                self.connects += 1
                self._pending.clear()
                self._connected_at = self.clock()
        if failed is not None:
            _exit(ws)
            self._failed(failed)
            return False
        return True

    def _failed(self, exc: Exception) -> None:
        delay = self.backoff.delay()
        self._next_attempt = self.clock() + delay
        log.warning("Bybit connection failed (%s); next attempt in %.0f s", exc, delay)

    def step(self) -> None:
        """One supervision pass: reconnect when due, finish overdue resubscriptions."""
        lost = None
        with self._lock:
            if self._closed:
                return
            now = self.clock()
            if self.ws is not None and not self.ws.is_connected():
                lost, self.ws = self.ws, None
                self._connected_at = None
                self._next_attempt = now + self.backoff.delay()
            elif self.ws is not None:
                up = self._connected_at
                if up is not None and now - up >= self.backoff.stable_s:
                    self.backoff.reset()
                for topic, sent in list(self._pending.items()):
                    if now - sent >= UNSUBSCRIBE_TIMEOUT_S:
                        log.warning("no unsubscribe answer for %s; subscribing again", topic)
                        del self._pending[topic]
                        self._forget(topic)
                        self._subscribe_book(topic)
                return
        if lost is not None:
            log.warning("Bybit connection lost")
            _exit(lost)  # outside the lock: pybit's thread may be in a callback
            if self.on_disconnect is not None:
                self.on_disconnect()
        if not self._closed and self.clock() >= self._next_attempt:
            self.connect()

    def run(self, stop: threading.Event, interval_s: float = 0.2) -> None:
        """Connect, then supervise until ``stop`` is set; closes the connection at the end."""
        try:
            self.connect()
            while not stop.wait(interval_s):
                self.step()
        finally:
            self.close()

    def close(self) -> None:
        """Close the connection; no callback runs after this returns."""
        with self._lock:
            self._closed = True
            ws, self.ws = self.ws, None
        if ws is not None:
            _exit(ws)

    # --- messages ------------------------------------------------------------------

    def _on_raw(self, message: dict) -> None:
        recv_ts_ns = self.wall_ns()
        if isinstance(message, dict) and "topic" in message:
            self.on_message(message, recv_ts_ns)
            return
        with self._lock:
            ws = self.ws
            if ws is None or self._closed:
                return
            try:
                ws._handle_incoming_message(message)  # pybit's own subscription bookkeeping
            except Exception as exc:  # pybit fails on answers it cannot match
                log.warning("Bybit control message %s not understood: %s", message, exc)
            if message.get("op") == "unsubscribe":
                for topic in list(self._pending):
                    if topic not in ws.callback_directory:
                        del self._pending[topic]
                        self._subscribe_book(topic)

    # --- snapshots -----------------------------------------------------------------

    def request_snapshot(self, symbol: str, reason: str = "") -> None:
        """Ask Bybit for a new snapshot of ``symbol``'s book (unsubscribe, then subscribe).

        A request for a symbol that is already waiting for one does nothing.
        """
        topic = self.book_topic(symbol)
        with self._lock:
            if self.ws is None or topic in self._pending:
                return
            log.info("resubscribing %s for a snapshot (%s)", topic, reason)
            self._pending[topic] = self.clock()
            self._unsubscribe(topic)

    def _unsubscribe(self, topic: str) -> None:
        """pybit's unsubscribe, matching the topic exactly (pybit matches a substring)."""
        for req_id, sub in self.ws.subscriptions.items():
            if json.loads(sub)["args"] == [topic]:
                msg = {"op": "unsubscribe", "req_id": req_id, "args": [topic]}
                try:
                    self.ws.ws.send(json.dumps(msg))
                except Exception as exc:  # the socket just dropped: the reconnect resubscribes
                    log.warning("unsubscribe of %s not sent: %s", topic, exc)
                return
        self._forget(topic)  # not subscribed: subscribe straight away
        del self._pending[topic]
        self._subscribe_book(topic)

    def _forget(self, topic: str) -> None:
        """Drop pybit's record of ``topic``'s subscription so it can be made again."""
        ws = self.ws
        for req_id, sub in list(ws.subscriptions.items()):
            if json.loads(sub)["args"] == [topic]:
                del ws.subscriptions[req_id]
        ws.callback_directory.pop(topic, None)

    def _subscribe_book(self, topic: str) -> None:
        if not self.ws.is_connected():
            return  # the reconnect subscribes every topic again
        symbol = topic.rsplit(".", 1)[1]
        self.ws.orderbook_stream(self.depth, symbol, _unused)
        self.resubscribes += 1


def _exit(ws: Any) -> None:
    """Close a pybit WebSocket, whatever state its socket is in."""
    try:
        ws.exit()
    except Exception as exc:  # a socket that is already gone
        log.debug("closing the WebSocket: %s", exc)


def _unused(message: dict) -> None:
    """pybit wants a topic callback; with ``callback_function`` set it never calls it."""
