"""The recording gateway: live source -> normalizer -> recorder (``hean record bybit``).

Every raw message is normalized and recorded on pybit's thread, in arrival order: the
raw line and the HL2 messages it produced go to the same part of the recording. A gap
or a rejected book message makes the normalizer ask the source for a snapshot; a lost
connection marks every instrument stale until its next snapshot.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hean.feeds.bybit.convert import file_params
from hean.feeds.bybit.live import Backoff, LiveSource
from hean.feeds.bybit.normalize import Normalizer
from hean.feeds.bybit.registry import Registry
from hean.feeds.recorder import DISCONNECT, ROTATE_BYTES, ROTATE_S, Recorder


class Gateway:
    """Record Bybit's public streams for ``registry``'s symbols into ``directory``.

    Parameters
    ----------
    registry : Registry
        The instruments to record (their symbols are subscribed, in order).
    directory : Path
        Where the recording's parts go (see :mod:`hean.feeds.recorder`).
    depth : int
        Order-book depth (1, 50, 200 or 1000).
    testnet : bool
        Bybit's testnet instead of mainnet.
    ws_factory, clock, backoff
        Passed to :class:`~hean.feeds.bybit.live.LiveSource` (tests).
    rotate_bytes, rotate_s
        Passed to :class:`~hean.feeds.recorder.Recorder`.
    """

    def __init__(
        self,
        registry: Registry,
        directory: Path,
        *,
        depth: int = 50,
        testnet: bool = False,
        ws_factory: Callable[..., Any] | None = None,
        clock: Callable[[], float] | None = None,
        backoff: Backoff | None = None,
        rotate_bytes: int = ROTATE_BYTES,
        rotate_s: float = ROTATE_S,
    ) -> None:
        symbols = [i.symbol for i in registry.instruments]
        net = "testnet" if testnet else "mainnet"
        extra = {"clock": clock} if clock is not None else {}
        self.normalizer = Normalizer(registry.instruments)
        self.source = LiveSource(
            symbols,
            self._on_message,
            depth=depth,
            testnet=testnet,
            on_disconnect=self._on_disconnect,
            ws_factory=ws_factory,
            backoff=backoff,
            **extra,
        )
        self.normalizer.on_stale = self.source.request_snapshot
        self.recorder = Recorder(
            directory,
            registry.sidecar(f"hean record bybit {net} depth={depth} {','.join(symbols)}"),
            file_params(registry),
            rotate_bytes=rotate_bytes,
            rotate_s=rotate_s,
            **extra,
        )
        self._lock = threading.Lock()

    def _on_message(self, msg: dict, recv_ts_ns: int) -> None:
        with self._lock:  # one message at a time, normalized and recorded together
            hl2 = self.normalizer.feed(msg, recv_ts_ns)
            self.recorder.write(msg, recv_ts_ns, hl2)

    def _on_disconnect(self) -> None:
        with self._lock:  # recorded, so that a conversion marks the books stale at this point too
            self.normalizer.mark_all_stale()
            self.recorder.write_event(DISCONNECT, time.time_ns())

    def run(self, stop: threading.Event, interval_s: float = 0.2) -> None:
        """Record until ``stop`` is set, then close the source and the recorder."""
        try:
            self.source.run(stop, interval_s)
        finally:
            self.close()

    def close(self) -> None:
        """Stop the source first (no callback after it), then flush the recorder."""
        self.source.close()
        self.recorder.close()
