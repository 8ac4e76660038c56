"""The event bus: a synchronous fast path for orders, a bounded async queue for the rest.

The decision path, signal -> risk -> order request, never waits in a queue: a
:class:`FastPath` calls its stages directly, in the caller's thread, one signal at a
time, and hands the order request to the execution side at once. (The original HEAN
queued and batched these events and measured 10-50 ms on that path.)

Everything else (fills, risk transitions, physics readings, metrics) goes through
:class:`EventBus`: a bounded :class:`asyncio.Queue` whose depth is a metric, with
handlers subscribed per event type. A full queue makes :meth:`EventBus.publish` wait
(back-pressure), and :meth:`EventBus.publish_nowait` raise :class:`BusFullError`, so no
event is ever dropped silently.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

Handler = Callable[[Any], Awaitable[None] | None]


class BusFullError(RuntimeError):
    """The queue is at its bound; the event was not taken."""


@dataclass
class BusMetrics:
    """Queue depth now and at its highest, and how many events went through."""

    depth: int = 0
    high_water: int = 0
    published: int = 0
    delivered: int = 0
    handler_errors: int = 0


class EventBus:
    """Typed publish/subscribe over a bounded asyncio queue.

    Parameters
    ----------
    maxsize : int
        The queue's bound (> 0).
    on_error : callable, optional
        Called with ``(event, exception)`` when a handler raises; the bus goes on.
    """

    def __init__(
        self, maxsize: int = 10_000, on_error: Callable[[Any, BaseException], None] | None = None
    ) -> None:
        if maxsize <= 0:
            raise ValueError(f"maxsize must be > 0, got {maxsize}")
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize)
        self._handlers: dict[type, list[Handler]] = defaultdict(list)
        self.metrics = BusMetrics()
        self.on_error = on_error

    def subscribe(self, event_type: type, handler: Handler) -> None:
        """Call ``handler(event)`` for every event that is an instance of ``event_type``."""
        self._handlers[event_type].append(handler)

    def _note(self) -> None:
        self.metrics.published += 1
        self.metrics.depth = self._queue.qsize()
        self.metrics.high_water = max(self.metrics.high_water, self.metrics.depth)

    async def publish(self, event: Any) -> None:
        """Queue ``event``, waiting while the queue is full."""
        await self._queue.put(event)
        self._note()

    def publish_nowait(self, event: Any) -> None:
        """Queue ``event`` now, or raise :class:`BusFullError`."""
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            raise BusFullError(f"event bus full ({self._queue.maxsize} events queued)") from None
        self._note()

    async def dispatch_one(self) -> None:
        """Take one event off the queue and run its handlers, in subscription order."""
        event = await self._queue.get()
        try:
            for event_type, handlers in self._handlers.items():
                if isinstance(event, event_type):
                    for handler in handlers:
                        try:
                            result = handler(event)
                            if inspect.isawaitable(result):
                                await result
                        except Exception as exc:  # one bad handler must not stop the bus
                            self.metrics.handler_errors += 1
                            if self.on_error is not None:
                                self.on_error(event, exc)
        finally:
            self.metrics.delivered += 1
            self.metrics.depth = self._queue.qsize()
            self._queue.task_done()

    async def run(self) -> None:
        """Dispatch forever (cancel the task to stop)."""
        while True:
            await self.dispatch_one()

    async def drain(self) -> None:
        """Dispatch until the queue is empty."""
        while not self._queue.empty():
            await self.dispatch_one()


class FastPath:
    """signal -> risk -> order request, by direct calls, with no queue in between.

    Parameters
    ----------
    stages : callables
        Each takes the previous stage's output and returns the next one, or None to
        stop (a signal the risk governor refuses, say). The last stage's output is the
        order request.
    sink : callable
        Receives each order request as soon as the last stage returns it.
    """

    def __init__(self, *stages: Callable[[Any], Any], sink: Callable[[Any], None]) -> None:
        if not stages:
            raise ValueError("a fast path needs at least one stage")
        self.stages = stages
        self.sink = sink
        self.signals = 0
        self.orders = 0

    def __call__(self, signal: Any) -> Any:
        """Run one signal through every stage; return the order request or None."""
        self.signals += 1
        x = signal
        for stage in self.stages:
            x = stage(x)
            if x is None:
                return None
        self.orders += 1
        self.sink(x)
        return x
