"""Files of raw Bybit messages to ``.hl2`` (``hean convert bybit``).

A line is one JSON object: a raw Bybit V5 message, as in Bybit's historical order-book
downloads (``recv_ts_ns`` is then 0), or a line written by the recorder,
``{"recv_ts_ns": N, "raw": {...}}``, whose receive time is kept (a recorded
``{"event": "disconnect"}`` line marks every instrument stale, as the live gateway
did at that point). Blank lines are
skipped; a line that is not JSON, or a message the gateway rejects, is counted with its
line number and converts to nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hean.feeds.bybit.normalize import Normalizer, NormalizerCounters
from hean.feeds.bybit.registry import Registry
from hean.feeds.recorder import DISCONNECT
from hean.feeds.sidecar import write_sidecar
from hean.wire import FileKind, Params, Writer

#: Rejections kept with their reasons for the report (the rest are only counted).
KEEP_ERRORS = 20


@dataclass
class ConvertReport:
    """What a conversion did: the normalizer's counters and the first rejections."""

    lines: int = 0
    counters: NormalizerCounters = field(default_factory=NormalizerCounters)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)

    def as_dict(self) -> dict:
        return {"lines": self.lines, **self.counters.as_dict()}


def parse_line(text: str) -> tuple[object, int, str | None]:
    """The message of one line, its receive time (0 when none) and its gateway event.

    The event is ``None`` for a message, or the name of a recorded gateway event
    (``"disconnect"``), whose message is then ``None``.

    Raises
    ------
    ValueError
        If the line is not JSON, or a recorder line with a bad ``recv_ts_ns`` or an
        unknown event.
    """
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg} at column {exc.colno})") from None
    if isinstance(doc, dict) and "topic" not in doc and ("raw" in doc or "event" in doc):
        recv = doc.get("recv_ts_ns")
        if isinstance(recv, bool) or not isinstance(recv, int) or not 0 <= recv < 1 << 64:
            raise ValueError(f"recorded line with a bad recv_ts_ns {recv!r}")
        if "raw" in doc:
            return doc["raw"], recv, None
        if doc["event"] != DISCONNECT:
            raise ValueError(f"unknown recorded event {doc['event']!r}")
        return None, recv, DISCONNECT
    return doc, 0, None


def iter_lines(path: Path) -> Iterator[tuple[int, str, int]]:
    """``(line number, text, bytes)`` of every non-blank line (bad UTF-8 replaced)."""
    with path.open("rb") as fh:
        for number, data in enumerate(fh, start=1):
            text = data.decode("utf-8", errors="replace").strip()
            if text:
                yield number, text, len(data)


def file_params(registry: Registry) -> Params:
    """The ``.hl2`` header's parameters: defaults, with N covering every instrument id."""
    return Params(N=max((i.id for i in registry.instruments), default=0) + 1)


def convert_file(
    src: Path,
    dst: Path,
    registry: Registry,
    *,
    progress: Callable[[int], None] | None = None,
    chunk: int = 1 << 16,
    sidecar_for: Path | None = None,
) -> ConvertReport:
    """Convert ``src`` (raw Bybit JSON lines) to ``dst`` (``.hl2``) and its sidecar.

    Parameters
    ----------
    src, dst : Path
        Input and output; ``dst`` is written directly (the CLI writes a ``.part`` file
        and renames it on success).
    registry : Registry
        The instruments to convert; messages for other symbols are rejected.
    progress : callable, optional
        Called with the number of input bytes read so far.
    chunk : int
        HL2 messages buffered before a write.
    sidecar_for : Path, optional
        The ``.hl2`` path whose sidecar to write (default ``dst``).

    Returns
    -------
    ConvertReport
    """
    report = ConvertReport()
    norm = Normalizer(registry.instruments)
    report.counters = norm.counters
    pending: list[np.ndarray] = []
    buffered = 0
    done_bytes = 0
    with Writer(dst, FileKind.HL2, file_params(registry)) as writer:
        for number, text, size in iter_lines(src):
            report.lines += 1
            done_bytes += size
            try:
                msg, recv, event = parse_line(text)
            except ValueError as exc:
                norm.counters.messages += 1
                norm.counters.rejected += 1
                _keep(report, number, str(exc))
                continue
            if event is not None:  # the recording lost its connection here
                norm.mark_all_stale()
                continue
            before = norm.counters.rejected
            out = norm.feed(msg, recv)
            if norm.counters.rejected != before:
                _keep(report, number, norm.last_error or "rejected")
            if len(out):
                pending.append(out)
                buffered += len(out)
            if buffered >= chunk:
                writer.write(np.concatenate(pending))
                pending, buffered = [], 0
                if progress is not None:
                    progress(done_bytes)
        if pending:
            writer.write(np.concatenate(pending))
    write_sidecar(sidecar_for or dst, registry.sidecar(f"hean convert bybit {src.name}"))
    if progress is not None:
        progress(done_bytes)
    return report


def _keep(report: ConvertReport, number: int, reason: str) -> None:
    if len(report.errors) < KEEP_ERRORS:
        report.errors.append((number, reason))
