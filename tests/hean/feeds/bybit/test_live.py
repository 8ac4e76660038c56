"""The live source: pybit's real callback path, snapshot resubscription and reconnects.

Everything runs offline and synchronously: pybit's own WebSocket class with its network
connection replaced (:mod:`.fakes`), or a plain pybit-like object, and fake clocks.
"""

from __future__ import annotations

import json

import pytest

from hean.feeds.bybit.live import UNSUBSCRIBE_TIMEOUT_S, Backoff, LiveSource

from .fakes import (
    FakeClock,
    PlainFactory,
    PybitFactory,
    Stamps,
    answer,
    book,
    fixture_messages,
    trade,
)

SYMBOLS = ["XRPUSDT", "BTCUSDT"]
TOPICS = [
    "orderbook.50.XRPUSDT",
    "publicTrade.XRPUSDT",
    "orderbook.50.BTCUSDT",
    "publicTrade.BTCUSDT",
]


class Sink:
    """Collects what the source delivers."""

    def __init__(self) -> None:
        self.messages: list[tuple[dict, int]] = []
        self.disconnects = 0

    def __call__(self, msg: dict, recv_ts_ns: int) -> None:
        self.messages.append((msg, recv_ts_ns))

    def disconnected(self) -> None:
        self.disconnects += 1


def pybit_source(
    symbols: list[str] | None = None, clock: FakeClock | None = None
) -> tuple[LiveSource, PybitFactory, Sink, Stamps]:
    factory, sink, stamps = PybitFactory(), Sink(), Stamps()
    src = LiveSource(
        symbols or SYMBOLS,
        sink,
        depth=50,
        ws_factory=factory,
        wall_ns=stamps,
        clock=clock or FakeClock(),
        on_disconnect=sink.disconnected,
    )
    assert src.connect()
    return src, factory, sink, stamps


# --- pybit's callback path ------------------------------------------------------------


def test_connect_sends_one_subscribe_frame_per_topic() -> None:
    src, factory, _, _ = pybit_source()
    frames = factory.ws.frames()
    assert [f["op"] for f in frames] == ["subscribe"] * 4
    assert [f["args"] for f in frames] == [[t] for t in TOPICS]
    req_ids = [f["req_id"] for f in frames]
    assert len(set(req_ids)) == 4
    assert set(factory.ws.subscriptions) == set(req_ids)  # pybit's own bookkeeping
    assert sorted(factory.ws.callback_directory) == sorted(TOPICS)
    assert src.connects == 1 and src.ws is factory.ws


def test_messages_are_delivered_raw_through_pybits_real_path() -> None:
    _, factory, sink, stamps = pybit_source()
    msgs = fixture_messages()[:6]
    msgs.insert(2, trade("XRPUSDT", 1733011201000, "Buy", "1.9538", "120"))
    msgs.insert(4, book("BTCUSDT", "snapshot", 7, 1733011201001, [["97000.5", "0.5"]], []))
    for msg in msgs:
        factory.ws.feed(msg)
    assert [m for m, _ in sink.messages] == msgs
    assert [r for _, r in sink.messages] == stamps.given and len(stamps.given) == len(msgs)
    # a delta stays a delta with its own levels, not pybit's merged book
    delta = sink.messages[1][0]
    assert delta["type"] == "delta"
    assert delta["data"]["b"] == msgs[1]["data"]["b"] and len(delta["data"]["b"]) == 13
    assert factory.ws.data == {}  # pybit merged nothing


def test_pongs_and_subscribe_answers_are_not_delivered() -> None:
    _, factory, sink, _ = pybit_source()
    subscriptions = dict(factory.ws.subscriptions)
    factory.ws.feed({"success": True, "ret_msg": "pong", "conn_id": "x", "op": "pong"})
    factory.ws.feed({"ret_msg": "pong"})
    for frame in factory.ws.frames():
        factory.ws.feed(answer(frame))
    assert sink.messages == []
    assert factory.ws.subscriptions == subscriptions
    assert len(factory.ws.frames()) == 4  # nothing sent in reply
    factory.ws.feed(trade("BTCUSDT", 1733011201000, "Sell", "97000.5", "0.01"))
    assert len(sink.messages) == 1


# --- resubscribing for a snapshot -----------------------------------------------------


def book_req_id(factory: PybitFactory, topic: str) -> str:
    subs = [f for f in factory.ws.frames() if f["op"] == "subscribe" and f["args"] == [topic]]
    return subs[-1]["req_id"]


def test_request_snapshot_unsubscribes_then_resubscribes_on_the_answer() -> None:
    src, factory, sink, _ = pybit_source()
    topic = "orderbook.50.XRPUSDT"
    old = book_req_id(factory, topic)
    src.request_snapshot("XRPUSDT", "gap")
    unsub = factory.ws.frames()[-1]
    assert unsub == {"op": "unsubscribe", "req_id": old, "args": [topic]}
    src.request_snapshot("XRPUSDT", "again")  # pending: nothing more is sent
    assert len(factory.ws.frames()) == 5
    assert src.resubscribes == 0

    factory.ws.feed(answer(unsub))
    sub = factory.ws.frames()[-1]
    assert len(factory.ws.frames()) == 6
    assert sub["op"] == "subscribe" and sub["args"] == [topic] and sub["req_id"] != old
    assert src.resubscribes == 1
    assert old not in factory.ws.subscriptions and sub["req_id"] in factory.ws.subscriptions
    assert topic in factory.ws.callback_directory
    assert sink.messages == []
    # no longer pending: the next request unsubscribes the new subscription
    src.request_snapshot("XRPUSDT")
    assert factory.ws.frames()[-1] == {
        "op": "unsubscribe",
        "req_id": sub["req_id"],
        "args": [topic],
    }


def test_unanswered_unsubscribe_is_resubscribed_after_the_timeout() -> None:
    clock = FakeClock()
    src, factory, _, _ = pybit_source(clock=clock)
    topic = "orderbook.50.BTCUSDT"
    old = book_req_id(factory, topic)
    src.request_snapshot("BTCUSDT")
    unsub = factory.ws.frames()[-1]
    assert unsub["op"] == "unsubscribe" and unsub["args"] == [topic]
    clock.advance(UNSUBSCRIBE_TIMEOUT_S - 0.25)
    src.step()
    assert len(factory.ws.frames()) == 5 and src.resubscribes == 0
    clock.advance(0.25)
    src.step()
    sub = factory.ws.frames()[-1]
    assert len(factory.ws.frames()) == 6
    assert sub["op"] == "subscribe" and sub["args"] == [topic]
    assert src.resubscribes == 1
    assert old not in factory.ws.subscriptions and sub["req_id"] in factory.ws.subscriptions
    # Bybit's late answer to the old unsubscribe subscribes nothing more
    factory.ws.feed(answer(unsub))
    src.step()
    assert len(factory.ws.frames()) == 6 and src.resubscribes == 1
    assert sub["req_id"] in factory.ws.subscriptions


def test_unsubscribe_matches_the_topic_exactly() -> None:
    # pybit's own unsubscribe() matches a substring and would pick XRPUSDTX's book here
    src, factory, _, _ = pybit_source(["XRPUSDTX", "XRPUSDT"])
    src.request_snapshot("XRPUSDT")
    unsub = factory.ws.frames()[-1]
    assert unsub["args"] == ["orderbook.50.XRPUSDT"]
    assert unsub["req_id"] == book_req_id(factory, "orderbook.50.XRPUSDT")


# --- reconnecting ---------------------------------------------------------------------


def plain_source(
    backoff: Backoff | None = None,
) -> tuple[LiveSource, PlainFactory, Sink, FakeClock]:
    factory, sink, clock = PlainFactory(), Sink(), FakeClock(0.0)
    src = LiveSource(
        SYMBOLS,
        sink,
        depth=50,
        ws_factory=factory,
        clock=clock,
        on_disconnect=sink.disconnected,
        backoff=backoff or Backoff(initial=1.0, maximum=8.0, stable_s=30.0),
    )
    return src, factory, sink, clock


def next_attempt(src: LiveSource, factory: PlainFactory, clock: FakeClock) -> float:
    """Step a quarter second at a time until the source tries to connect; the wait."""
    start, attempts = clock.now, factory.attempts
    for _ in range(400):
        clock.advance(0.25)
        src.step()
        if factory.attempts != attempts:
            assert factory.attempts == attempts + 1
            return clock.now - start
    raise AssertionError("no reconnect attempt within 100 s")


def test_failed_first_connect_is_retried_after_the_initial_delay() -> None:
    src, factory, sink, clock = plain_source()
    factory.fail_next = 1
    assert not src.connect()
    assert src.ws is None and src.connects == 0
    assert next_attempt(src, factory, clock) == 1.0
    assert src.connects == 1 and factory.made[-1].topics == TOPICS
    assert sink.disconnects == 0


def test_failed_subscription_closes_the_socket_and_backs_off() -> None:
    src, factory, _, clock = plain_source()
    factory.fail_subscribe_next = 1
    assert not src.connect()
    assert src.ws is None and src.connects == 0 and factory.made[0].exited
    assert next_attempt(src, factory, clock) == 1.0
    assert src.ws is factory.made[1] and src.connects == 1


def test_lost_connection_reconnects_with_doubling_delays() -> None:
    src, factory, sink, clock = plain_source()
    assert src.connect()
    first = factory.made[0]
    clock.advance(10)
    src.step()
    assert sink.disconnects == 0 and factory.attempts == 1

    first.connected = False
    factory.fail_next = 5
    src.step()  # notices the loss
    assert sink.disconnects == 1 and first.exited and src.ws is None
    assert factory.attempts == 1  # no attempt before the delay
    waits = [next_attempt(src, factory, clock) for _ in range(6)]
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]  # doubled, capped at Backoff.maximum
    assert factory.attempts == 7 and src.connects == 2
    assert sink.disconnects == 1  # once per lost connection, not per failed attempt
    second = factory.made[1]
    assert src.ws is second and second.topics == TOPICS


def test_backoff_resets_only_after_a_stable_connection() -> None:
    src, factory, sink, clock = plain_source()
    assert src.connect()
    factory.fail_next = 3
    factory.made[-1].connected = False
    src.step()
    assert [next_attempt(src, factory, clock) for _ in range(4)] == [1.0, 2.0, 4.0, 8.0]
    # lost again at once: the delay keeps growing
    clock.advance(1)
    src.step()
    factory.made[-1].connected = False
    src.step()
    assert next_attempt(src, factory, clock) == 8.0
    assert sink.disconnects == 2 and src.connects == 3
    # connected for stable_s: the next loss starts again from the initial delay
    clock.advance(src.backoff.stable_s)
    src.step()
    factory.made[-1].connected = False
    src.step()
    assert next_attempt(src, factory, clock) == 1.0
    assert sink.disconnects == 3 and src.connects == 4


def test_reconnect_clears_pending_snapshot_requests() -> None:
    src, factory, _, clock = plain_source()
    assert src.connect()
    src.request_snapshot("XRPUSDT")
    assert [json.loads(t)["op"] for t in factory.made[0].ws.sent] == ["unsubscribe"]
    factory.made[0].connected = False  # lost before Bybit answered
    src.step()
    assert next_attempt(src, factory, clock) == 1.0
    assert factory.made[1].topics == TOPICS and src.resubscribes == 0
    src.request_snapshot("XRPUSDT")  # not pending any more on the new connection
    (unsub,) = [json.loads(t) for t in factory.made[1].ws.sent]
    assert unsub == {"op": "unsubscribe", "req_id": "r0", "args": ["orderbook.50.XRPUSDT"]}


def test_control_messages_go_to_pybits_handler() -> None:
    src, factory, sink, _ = plain_source()
    assert src.connect()
    msg = {"success": True, "ret_msg": "", "conn_id": "x", "req_id": "r0", "op": "subscribe"}
    factory.made[0].callback(msg)
    assert factory.made[0].handled == [msg] and sink.messages == []


def test_close_stops_everything() -> None:
    src, factory, sink, clock = plain_source()
    assert src.connect()
    ws = factory.made[0]
    src.close()
    assert ws.exited and src.ws is None
    ws.connected = False
    for _ in range(10):
        clock.advance(100)
        src.step()
    assert factory.attempts == 1 and sink.disconnects == 0
    src.request_snapshot("XRPUSDT")
    assert ws.topics == TOPICS and src.resubscribes == 0


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="depth 500"):
        LiveSource(["XRPUSDT"], Sink(), depth=500)
    with pytest.raises(ValueError, match="no symbol"):
        LiveSource([], Sink())
    src = LiveSource(["XRPUSDT", "XRPUSDT", "BTCUSDT"], Sink(), depth=1)
    assert src.symbols == ["XRPUSDT", "BTCUSDT"]
    assert src.book_topic("BTCUSDT") == "orderbook.1.BTCUSDT"
