"""The event bus: typed delivery, bounded queue with its depth metric, and the fast path."""

from __future__ import annotations

import asyncio

import pytest

from hean.bus import BusFullError, EventBus, FastPath


class Fill:
    def __init__(self, n: int) -> None:
        self.n = n


class Transition:
    pass


def test_typed_delivery_in_order_and_depth_metrics() -> None:
    async def main() -> None:
        bus = EventBus(maxsize=5)
        got: list[object] = []
        seen_async: list[int] = []

        async def slow(ev: Fill) -> None:
            await asyncio.sleep(0)
            seen_async.append(ev.n)

        bus.subscribe(Fill, lambda ev: got.append(ev.n))
        bus.subscribe(Fill, slow)
        bus.subscribe(Transition, lambda ev: got.append("t"))
        for n in range(4):
            bus.publish_nowait(Fill(n))
        bus.publish_nowait(Transition())
        assert bus.metrics.depth == 5 and bus.metrics.high_water == 5
        with pytest.raises(BusFullError, match="5 events queued"):
            bus.publish_nowait(Fill(99))
        await bus.drain()
        assert got == [0, 1, 2, 3, "t"] and seen_async == [0, 1, 2, 3]
        m = bus.metrics
        assert (m.published, m.delivered, m.depth, m.high_water) == (5, 5, 0, 5)

    asyncio.run(main())


def test_publish_waits_while_full_and_a_bad_handler_does_not_stop_the_bus() -> None:
    async def main() -> None:
        errors: list[tuple[object, BaseException]] = []
        bus = EventBus(maxsize=1, on_error=lambda ev, exc: errors.append((ev, exc)))
        got: list[int] = []

        def handler(ev: Fill) -> None:
            if ev.n == 1:
                raise RuntimeError("boom")
            got.append(ev.n)

        bus.subscribe(Fill, handler)
        runner = asyncio.create_task(bus.run())
        for n in range(4):
            await bus.publish(Fill(n))  # waits for room when the single slot is taken
        await asyncio.sleep(0.01)
        runner.cancel()
        assert got == [0, 2, 3] and len(errors) == 1 and bus.metrics.handler_errors == 1

    asyncio.run(main())


def test_fast_path_is_direct_and_stops_on_none() -> None:
    sent: list[str] = []
    path = FastPath(
        lambda sig: None if sig == "refused" else sig + ">risk",
        lambda x: x + ">order",
        sink=sent.append,
    )
    assert path("buy") == "buy>risk>order" and sent == ["buy>risk>order"]
    assert path("refused") is None and sent == ["buy>risk>order"]
    assert (path.signals, path.orders) == (2, 1)
    with pytest.raises(ValueError):
        FastPath(sink=sent.append)
    with pytest.raises(ValueError):
        EventBus(maxsize=0)
