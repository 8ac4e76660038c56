"""The recorder: raw exchange messages and their HL2 stream, side by side, in rotating files.

Each part of a recording is three files with one stem, ``<stem>-<NNNN>``:

- ``.jsonl``: one line per raw message as received, ``{"recv_ts_ns": N, "raw": {...}}``,
  and a line ``{"recv_ts_ns": N, "event": "disconnect"}`` where the connection was lost
  (every instrument is stale from there until its next snapshot); ``hean convert
  bybit`` turns such a file back into exactly the HL2 stream below;
- ``.hl2``: the HL2 messages the gateway emitted for those raw messages;
- ``.hl2.json``: the instrument sidecar.

A part is closed and the next one opened when it reaches ``rotate_bytes`` of raw text
or ``rotate_s`` seconds, always between two raw messages, so the two files of a part
hold the same messages. HL2 sequence numbers run on across parts: the parts of one
recording, in order, are one stream. Files are flushed at least once a second, and
:meth:`Recorder.close` flushes and syncs everything, so stopping a recording (Ctrl-C)
loses no message that reached :meth:`Recorder.write`.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import numpy as np

from hean.feeds.sidecar import Sidecar, write_sidecar
from hean.wire import MSG_DTYPE, FileKind, Params, Writer

#: Default part size: raw bytes before the recorder starts a new part.
ROTATE_BYTES = 256 << 20
#: Default part length in seconds.
ROTATE_S = 3600.0
FLUSH_S = 1.0
#: The event recorded when the live connection is lost.
DISCONNECT = "disconnect"


def raw_line(msg: dict, recv_ts_ns: int) -> str:
    """One recorded line (without its newline): the raw message and its receive time."""
    return json.dumps({"recv_ts_ns": recv_ts_ns, "raw": msg}, separators=(",", ":"))


def event_line(event: str, recv_ts_ns: int) -> str:
    """A recorded gateway event (``"disconnect"``), so a conversion can replay it too."""
    return json.dumps({"recv_ts_ns": recv_ts_ns, "event": event}, separators=(",", ":"))


class Recorder:
    """Write raw messages and their HL2 messages into rotating parts under ``directory``.

    Parameters
    ----------
    directory : Path
        Created if missing.
    sidecar : Sidecar
        The instruments of the HL2 stream (written beside every ``.hl2`` part).
    params : Params
        The build parameters written into each ``.hl2`` header.
    rotate_bytes, rotate_s : int, float
        When a part is full.
    clock : callable
        Seconds (monotonic), for rotation and flushing.
    stem : str, optional
        File name stem; by default ``bybit-<UTC start time>``.
    """

    def __init__(
        self,
        directory: Path,
        sidecar: Sidecar,
        params: Params,
        *,
        rotate_bytes: int = ROTATE_BYTES,
        rotate_s: float = ROTATE_S,
        clock: Callable[[], float] = time.monotonic,
        stem: str | None = None,
    ) -> None:
        if rotate_bytes <= 0 or rotate_s <= 0:
            raise ValueError("rotate_bytes and rotate_s must be positive")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.sidecar = sidecar
        self.params = params
        self.rotate_bytes = rotate_bytes
        self.rotate_s = rotate_s
        self.clock = clock
        self.stem = stem or "bybit-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.raw_count = 0
        self.hl2_count = 0
        self.parts: list[Path] = []  # the .hl2 file of every part, in order
        self._lock = threading.Lock()
        self._raw: IO[str] | None = None
        self._hl2: Writer | None = None
        self._part_bytes = 0
        self._part_start = 0.0
        self._last_flush = 0.0
        self._closed = False
        self._open_part()

    def _open_part(self) -> None:
        base = self.directory / f"{self.stem}-{len(self.parts) + 1:04d}"
        hl2 = base.with_suffix(".hl2")
        self._raw = base.with_suffix(".jsonl").open("w", encoding="utf-8")
        self._hl2 = Writer(hl2, FileKind.HL2, self.params)
        write_sidecar(hl2, self.sidecar)
        self.parts.append(hl2)
        self._part_bytes = 0
        self._part_start = self._last_flush = self.clock()

    def _close_part(self) -> None:
        assert self._raw is not None and self._hl2 is not None
        self._raw.flush()
        os.fsync(self._raw.fileno())
        self._raw.close()
        self._hl2.flush(sync=True)
        self._hl2.close()

    def write_event(self, event: str, recv_ts_ns: int) -> None:
        """Record a gateway event line (it produces no HL2)."""
        self._append(event_line(event, recv_ts_ns) + "\n", np.zeros(0, dtype=MSG_DTYPE), 0)

    def write(self, msg: dict, recv_ts_ns: int, hl2: np.ndarray) -> None:
        """Record one raw message and the HL2 messages it produced (may be empty).

        Safe to call from another thread than :meth:`close`.

        Raises
        ------
        RuntimeError
            After :meth:`close`.
        """
        self._append(raw_line(msg, recv_ts_ns) + "\n", hl2, 1)

    def _append(self, line: str, hl2: np.ndarray, raw: int) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the recorder is closed")
            now = self.clock()
            if self._part_bytes >= self.rotate_bytes or now - self._part_start >= self.rotate_s:
                self._close_part()
                self._open_part()
            assert self._raw is not None and self._hl2 is not None
            self._raw.write(line)
            self._part_bytes += len(line)
            self.raw_count += raw
            if len(hl2):
                self._hl2.write(hl2)
                self.hl2_count += len(hl2)
            if now - self._last_flush >= FLUSH_S:
                self._raw.flush()
                self._hl2.flush()
                self._last_flush = now

    def close(self) -> None:
        """Flush and sync the open part and close it; later writes raise."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._close_part()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
