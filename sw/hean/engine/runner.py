"""Run a feature engine over an ``.hl2`` file and write the ``.hlf`` it produces.

Shared by ``hean features`` and the benchmarks, so the figure the CLI prints and the
figure ``make bench`` prints come from the same code path.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hean.engine.base import Counters, FeatureEngine
from hean.wire import REC_DTYPE, FileKind, Params, Writer, open_file

#: Messages per chunk: large enough that per-call overhead vanishes, small enough that
#: the output buffer (32 MiB at 128 bytes a record) stays warm in memory.
DEFAULT_CHUNK = 1 << 18


@dataclass(frozen=True)
class RunSummary:
    """What one file-to-file run did and how fast."""

    input: Path
    output: Path
    engine: str
    params: Params
    file_params: Params
    counters: Counters
    seconds: float

    @property
    def msgs_per_s(self) -> float:
        return self.counters.messages / self.seconds if self.seconds > 0 else float("inf")

    def line(self) -> str:
        """The one-line summary ``hean features`` prints."""
        c = self.counters
        return (
            f"{self.engine}: messages {c.messages:,}  records {c.records:,}  bad {c.bad:,}  "
            f"gaps {c.gaps:,}  dropped {c.dropped:,}  |  {self.seconds:.3f} s  "
            f"{self.msgs_per_s / 1e6:.2f} M msg/s  ->  {self.output}"
        )


def run_file(
    engine: FeatureEngine,
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    chunk: int = DEFAULT_CHUNK,
    progress: Callable[[int], None] | None = None,
) -> RunSummary:
    """Feed every message of ``src`` through ``engine`` and write the records to ``dst``.

    The time reported covers reading, computing and writing, from the first chunk to
    the closed output file; it does not include compiling the engine.

    Parameters
    ----------
    engine : FeatureEngine
        A fresh or reset engine; its parameters go into the output header.
    src, dst : path-like
        The ``.hl2`` input and the ``.hlf`` output.
    chunk : int
        Messages per batch.
    progress : callable, optional
        Called with the number of messages done after each chunk.

    Raises
    ------
    hean.wire.WireError
        If ``src`` is not a valid ``.hl2`` file.
    """
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    infile = open_file(src, expect=FileKind.HL2)
    size = min(chunk, max(len(infile), 1))
    # Two output buffers: while the writer thread writes one chunk, the engine computes
    # the next into the other (the compiled kernel releases the GIL), so a run costs
    # about max(compute, write) rather than their sum.
    buffers = [np.empty(size, dtype=REC_DTYPE) for _ in range(2)]
    before = engine.counters()
    started = time.perf_counter()
    done = 0
    with Writer(dst, FileKind.HLF, engine.params) as writer, ThreadPoolExecutor(1) as pool:
        pending: Future[None] | None = None
        for k, msgs in enumerate(infile.chunks(chunk)):
            out = buffers[k % 2][: len(msgs)]
            engine.process_into(msgs, out)
            if pending is not None:
                pending.result()  # the other buffer is free again (and errors surface)
            pending = pool.submit(writer.write, out)
            done += len(msgs)
            if progress is not None:
                progress(done)
        if pending is not None:
            pending.result()
    seconds = time.perf_counter() - started
    after = engine.counters()
    delta = Counters(**{k: v - before.as_dict()[k] for k, v in after.as_dict().items()})
    return RunSummary(
        Path(src), Path(dst), engine.name, engine.params, infile.params, delta, seconds
    )
