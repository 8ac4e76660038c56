"""Offline stand-ins for Bybit's WebSocket, shared by the live-source and gateway tests.

:class:`OfflineWebSocket` is pybit's real ``unified_trading.WebSocket`` with only the
network taken out: ``_connect`` installs a :class:`FakeConn` instead of opening a
socket, so subscribing, pybit's message decoding (``_on_message``) and its control
bookkeeping (``_handle_incoming_message``) all run pybit's own code, synchronously.
:class:`PlainWS` is a minimal pybit-like object for the reconnect tests.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pybit.unified_trading import WebSocket

FIXTURE = Path(__file__).parents[3] / "fixtures" / "bybit_XRPUSDT_2024-12-01_ob500_head.jsonl"


class FakeClock:
    """Monotonic seconds that move only when told to."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Stamps:
    """A fake ``wall_ns``: 1_700_000_000_000_000_000, then +1000 ns per call."""

    def __init__(self, start: int = 1_700_000_000_000_000_000) -> None:
        self.next = start
        self.given: list[int] = []

    def __call__(self) -> int:
        self.given.append(self.next)
        self.next += 1000
        return self.given[-1]


class FakeSock:
    connected = True


class FakeConn:
    """What pybit keeps as ``self.ws`` (a websocket-client ``WebSocketApp``)."""

    def __init__(self) -> None:
        self.sock: FakeSock | None = FakeSock()
        self.sent: list[str] = []
        self.closed = False

    def send(self, text: str) -> None:
        self.sent.append(text)

    def close(self) -> None:
        self.closed = True
        self.sock = None  # pybit's exit() waits for this


class OfflineWebSocket(WebSocket):
    """pybit's WebSocket, connected to a :class:`FakeConn` instead of Bybit."""

    ws: FakeConn

    def _connect(self, url: str) -> None:
        self.endpoint = url
        self.ws = FakeConn()

    def frames(self) -> list[dict]:
        """Every frame sent so far, decoded."""
        return [json.loads(text) for text in self.ws.sent]

    def feed(self, msg: dict) -> None:
        """Deliver ``msg`` as Bybit would: JSON text into pybit's ``_on_message``."""
        self._on_message(json.dumps(msg))

    def drop(self) -> None:
        """The connection is lost (the socket reports not connected)."""
        assert self.ws.sock is not None
        self.ws.sock.connected = False


class PybitFactory:
    """``ws_factory(callback_function)`` building :class:`OfflineWebSocket` objects."""

    def __init__(self) -> None:
        self.sockets: list[OfflineWebSocket] = []

    def __call__(self, callback_function: Callable[[dict], None]) -> OfflineWebSocket:
        ws = OfflineWebSocket(
            testnet=True, channel_type="linear", callback_function=callback_function
        )
        self.sockets.append(ws)
        return ws

    @property
    def ws(self) -> OfflineWebSocket:
        return self.sockets[-1]


def answer(frame: dict, success: bool = True) -> dict:
    """Bybit's answer to a subscribe or unsubscribe frame."""
    return {
        "success": success,
        "ret_msg": "",
        "conn_id": "x",
        "req_id": frame["req_id"],
        "op": frame["op"],
    }


class PlainWS:
    """A pybit-like WebSocket without pybit: records what is subscribed."""

    def __init__(self, callback_function: Callable[[dict], None], fail_subscribe: bool) -> None:
        self.callback = callback_function
        self.fail_subscribe = fail_subscribe
        self.connected = True
        self.exited = False
        self.topics: list[str] = []
        self.subscriptions: dict[str, str] = {}
        self.callback_directory: dict[str, Any] = {}
        self.handled: list[dict] = []
        self.ws = FakeConn()  # the unsubscribe frames LiveSource sends itself

    def is_connected(self) -> bool:
        return self.connected and not self.exited

    def _subscribe(self, topic: str, callback: Any) -> None:
        if self.fail_subscribe:
            raise ConnectionError("socket closed while subscribing")
        req_id = f"r{len(self.subscriptions)}"
        self.subscriptions[req_id] = json.dumps(
            {"op": "subscribe", "req_id": req_id, "args": [topic]}
        )
        self.callback_directory[topic] = callback
        self.topics.append(topic)

    def orderbook_stream(self, depth: int, symbol: str, callback: Any) -> None:
        self._subscribe(f"orderbook.{depth}.{symbol}", callback)

    def trade_stream(self, symbol: str, callback: Any) -> None:
        self._subscribe(f"publicTrade.{symbol}", callback)

    def exit(self) -> None:
        self.exited = True

    def _handle_incoming_message(self, message: dict) -> None:
        self.handled.append(message)


class PlainFactory:
    """Builds :class:`PlainWS`; ``fail_next`` attempts raise ``ConnectionError``."""

    def __init__(self) -> None:
        self.fail_next = 0
        self.fail_subscribe_next = 0
        self.attempts = 0
        self.made: list[PlainWS] = []

    def __call__(self, callback_function: Callable[[dict], None]) -> PlainWS:
        self.attempts += 1
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("connection refused")
        fail_subscribe = self.fail_subscribe_next > 0
        self.fail_subscribe_next -= fail_subscribe
        ws = PlainWS(callback_function, fail_subscribe)
        self.made.append(ws)
        return ws


def fixture_messages(depth: int = 50) -> list[dict]:
    """The recorded XRPUSDT messages, topic rewritten to ``orderbook.{depth}.XRPUSDT``."""
    msgs = [json.loads(line) for line in FIXTURE.read_text().splitlines() if line.strip()]
    for msg in msgs:
        msg["topic"] = f"orderbook.{depth}.XRPUSDT"
    return msgs


def book(
    symbol: str,
    kind: str,
    u: int,
    ts: int,
    b: list[list[str]],
    a: list[list[str]],
    depth: int = 50,
) -> dict:
    """A hand-made order-book message."""
    return {
        "topic": f"orderbook.{depth}.{symbol}",
        "type": kind,
        "ts": ts,
        "data": {"s": symbol, "b": copy.deepcopy(b), "a": copy.deepcopy(a), "u": u, "seq": u * 7},
        "cts": ts - 2,
    }


def trade(symbol: str, ts: int, side: str, price: str, qty: str, n: int = 1) -> dict:
    """A trade message of ``n`` trades at ``price``."""
    data = [
        {
            "T": ts - 1 + k,
            "s": symbol,
            "S": side,
            "v": qty,
            "p": price,
            "L": "PlusTick",
            "i": f"{symbol}-{ts}-{k}",
            "BT": False,
        }
        for k in range(n)
    ]
    return {"topic": f"publicTrade.{symbol}", "type": "snapshot", "ts": ts, "data": data}
