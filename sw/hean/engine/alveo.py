"""The feature core on an Alveo card through XRT (``pyxrt``), and finding such cards.

The xclbin (``python -m hean_hw.build alveo``, see :mod:`hean_hw.kernel_alveo`) holds the
HL2 top as a free-running RTL kernel between two HLS data movers::

    hl2_mm2s(messages: bo, out: stream, n_messages)  ->  hl2_krnl  ->
    hl2_s2mm(records: bo, in: stream, n_records)

:class:`XrtEngine` loads it (``pyxrt.device``, ``load_xclbin``, ``pyxrt.kernel``), keeps
two input and two output buffer objects, and per batch syncs the messages to the card,
starts ``hl2_s2mm`` then ``hl2_mm2s``, waits for both and syncs the records back. A
free-running kernel has no register block, so the build parameters are checked against
the xclbin's ``manifest.json`` entry, and the counters are computed from the records.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from hean.engine.base import Counters, FeatureEngine, check_batch
from hean.engine.board import BoardError, BoardInfo, bitstreams_dir, manifest_entry
from hean.engine.pingpong import double_buffered
from hean.wire import MSG_DTYPE, REC_DTYPE, Params, Status

#: Device indices tried when pyxrt has no ``enumerate_devices``.
MAX_DEVICES = 16
MM2S, S2MM = "hl2_mm2s", "hl2_s2mm"
#: Argument indices of the data movers: (buffer, stream, count).
ARG_BUFFER, ARG_COUNT = 0, 2
DEFAULT_BATCH = 1 << 16


def import_pyxrt() -> Any | None:
    """``pyxrt``, or None when XRT's Python bindings are not installed or do not load."""
    try:
        import pyxrt
    except (ImportError, OSError):
        return None
    return pyxrt


def probe_xrt() -> tuple[list[BoardInfo], str]:
    """The XRT devices that open (``pyxrt.device(i)``), and why there are none. Never raises."""
    pyxrt = import_pyxrt()
    if pyxrt is None:
        return [], "pyxrt is not installed (no XRT: Alveo cards not looked for)"
    try:
        count = int(pyxrt.enumerate_devices())
    except (AttributeError, RuntimeError):
        count = MAX_DEVICES  # an older pyxrt: open indices until one fails
    boards = []
    for index in range(count):
        try:
            device = pyxrt.device(index)
        except (RuntimeError, ValueError, IndexError, OSError):
            break  # XRT numbers cards from 0 without gaps
        try:
            name = str(device.get_info(pyxrt.xrt_info_device.name))
        except (AttributeError, RuntimeError, ValueError):
            name = f"device {index}"
        boards.append(BoardInfo("xrt", name, f"XRT device {index}"))
    return boards, "" if boards else "pyxrt opened no XRT device"


def find_xclbin(params: Params, folder: Path) -> Path | None:
    """An ``.xclbin`` for ``params`` listed in ``folder/manifest.json``, if one is there."""
    from hean.engine.board import _manifest

    for e in _manifest(folder):
        art = str(e.get("artifact") or "")
        if art.endswith(".xclbin") and e.get("params") == params.as_dict():
            path = folder / Path(art).name
            if path.exists():
                return path
    return None


class XrtEngine:
    """HL2 feature engine on an Alveo card (the free-running kernel and its data movers).

    Parameters
    ----------
    xclbin : Path
        The ``.xclbin``; its ``manifest.json`` entry (beside it) must record ``params``.
    params : Params, optional
        The parameters the software expects.
    device : int
        XRT device index.
    batch : int
        Messages per run of the data movers.
    timeout_s : float
        Seconds a batch may take.
    unchecked : bool
        Accept an xclbin that no manifest entry describes (its parameters unchecked).

    Raises
    ------
    BoardError
        If pyxrt, the device, the xclbin or a kernel is missing, or the parameters differ.
    """

    name = "xrt"

    def __init__(
        self,
        xclbin: str | os.PathLike[str],
        params: Params | None = None,
        *,
        device: int = 0,
        batch: int = DEFAULT_BATCH,
        timeout_s: float = 5.0,
        unchecked: bool = False,
    ) -> None:
        self.params = params if params is not None else Params()
        self.xclbin = Path(xclbin)
        self.batch, self.timeout_s = batch, timeout_s
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        if not self.xclbin.is_file():
            raise BoardError(f"{self.xclbin}: no such xclbin")
        entry = manifest_entry(self.xclbin)
        if entry is None and not unchecked:
            raise BoardError(f"{self.xclbin}: no manifest.json entry beside it says which "
                             f"parameters it was built with (the kernel has no register "
                             f"block to ask)")  # fmt: skip
        if entry is not None and entry.get("params") != self.params.as_dict():
            raise BoardError(f"{self.xclbin} was built with {entry.get('params')}, not "
                             f"{self.params.as_dict()}")  # fmt: skip
        self.build_id = None if entry is None else entry.get("build_id")
        pyxrt = import_pyxrt()
        if pyxrt is None:
            raise BoardError("pyxrt is not installed (source XRT's setup.sh)")
        self._x = pyxrt
        try:
            self._device = pyxrt.device(device)
            uuid = self._device.load_xclbin(str(self.xclbin))
            self._mm2s = pyxrt.kernel(self._device, uuid, MM2S)
            self._s2mm = pyxrt.kernel(self._device, uuid, S2MM)
            flags = pyxrt.bo.normal
            self._in = [pyxrt.bo(self._device, batch * MSG_DTYPE.itemsize, flags,
                                 self._mm2s.group_id(ARG_BUFFER)) for _ in range(2)]  # fmt: skip
            self._out = [pyxrt.bo(self._device, batch * REC_DTYPE.itemsize, flags,
                                  self._s2mm.group_id(ARG_BUFFER)) for _ in range(2)]  # fmt: skip
        except (RuntimeError, ValueError, OSError) as exc:
            raise BoardError(f"opening XRT device {device} with {self.xclbin} failed: "
                             f"{exc}") from None  # fmt: skip
        self._in_view = [np.frombuffer(b.map(), np.uint8) for b in self._in]
        self._out_view = [np.frombuffer(b.map(), np.uint8) for b in self._out]
        self._runs: list[Any] = [None, None]
        self._dead: str | None = None
        self._counts = np.zeros(4, np.int64)  # messages, bad, gaps, dropped
        self._last = np.zeros(256, np.int64)
        self._seen = np.zeros(256, bool)

    def reset(self) -> None:
        """Not possible from the host: the kernel is reset only when its xclbin is loaded.

        Raises
        ------
        BoardError
            Always, saying how to get a fresh core.
        """
        raise BoardError(
            "an Alveo card's free-running kernel is reset only when the xclbin is loaded: "
            "`xbutil reset` the card, then open a new XrtEngine"
        )

    def process(self, msgs: np.ndarray) -> np.ndarray:
        """Stream ``msgs`` through the card; one ``REC_DTYPE`` record per message."""
        out = np.empty(len(msgs), dtype=REC_DTYPE)
        self.process_into(msgs, out)
        return out

    def process_into(self, msgs: np.ndarray, out: np.ndarray) -> None:
        """Like :meth:`process`, writing into ``out[:len(msgs)]`` (double-buffered)."""
        check_batch(msgs, out)
        if self._dead is not None:
            raise BoardError(f"{self._dead}; reload the xclbin (a new XrtEngine)")

        def collect(slot: int, start: int, stop: int) -> None:
            recs = self._out_view[slot][: (stop - start) * REC_DTYPE.itemsize]
            out[start:stop] = recs.view(REC_DTYPE)
            self._count(out[start:stop])

        try:
            double_buffered(
                len(msgs), self.batch,
                lambda slot, start, stop: self._fill(slot, msgs[start:stop]),
                self._launch, self._finish, collect,
            )  # fmt: skip
        except BoardError as exc:
            self._dead = str(exc)
            raise

    def _fill(self, slot: int, msgs: np.ndarray) -> None:
        self._in_view[slot][: len(msgs) * MSG_DTYPE.itemsize] = np.ascontiguousarray(msgs).view(
            np.uint8
        )

    def _launch(self, slot: int, count: int) -> None:
        x = self._x
        try:
            self._in[slot].sync(x.xclBOSyncDirection.XCL_BO_SYNC_BO_TO_DEVICE,
                                count * MSG_DTYPE.itemsize, 0)  # fmt: skip
            runs = []
            for kernel, bo in ((self._s2mm, self._out[slot]), (self._mm2s, self._in[slot])):
                run = x.run(kernel)  # the receiver first: records never wait for it
                run.set_arg(ARG_BUFFER, bo)
                run.set_arg(ARG_COUNT, count)
                run.start()
                runs.append(run)
        except RuntimeError as exc:
            raise BoardError(f"starting the data movers failed: {exc}") from None
        self._runs[slot] = runs

    def _finish(self, slot: int, count: int, what: str) -> None:
        x = self._x
        done = x.ert_cmd_state.ERT_CMD_STATE_COMPLETED
        for name, run in zip((S2MM, MM2S), self._runs[slot], strict=True):
            try:
                state = run.wait(max(1, int(self.timeout_s * 1000)))
            except RuntimeError as exc:
                raise BoardError(f"{name} failed on {what}: {exc}") from None
            if state != done:
                raise BoardError(
                    f"{name} on {what} ended {state} after up to {self.timeout_s:g} s "
                    f"(the kernel or a mover is stuck)"
                )
        try:
            self._out[slot].sync(x.xclBOSyncDirection.XCL_BO_SYNC_BO_FROM_DEVICE,
                                 count * REC_DTYPE.itemsize, 0)  # fmt: skip
        except RuntimeError as exc:
            raise BoardError(f"reading the records of {what} back failed: {exc}") from None

    def _count(self, recs: np.ndarray) -> None:
        """The core's counters, from the records (the kernel has no register block)."""
        status = recs["status"]
        bad = (status & Status.BAD_MSG) != 0
        self._counts += (len(recs), int(bad.sum()), 0, int(((status & Status.DROPPED) != 0).sum()))
        # a gap: a valid message whose seq is not its instrument's previous valid seq + 1
        inst = recs["instrument"][~bad].astype(np.int64)
        seq = recs["seq"][~bad].astype(np.int64)
        order = np.argsort(inst, kind="stable")
        inst, seq = inst[order], seq[order]
        if not len(inst):
            return
        first = np.ones(len(inst), bool)
        first[1:] = inst[1:] != inst[:-1]
        prev = np.empty_like(seq)
        prev[1:] = seq[:-1]
        prev[first] = self._last[inst[first]]
        known = ~first | self._seen[inst]
        self._counts[2] += int((known & (seq != (prev + 1) & 0xFFFFFFFF)).sum())
        last = np.ones(len(inst), bool)
        last[:-1] = first[1:]
        self._last[inst[last]] = seq[last]
        self._seen[inst] = True

    def counters(self) -> Counters:
        """Counters since creation or :meth:`reset`, computed from the records."""
        m, bad, gaps, dropped = (int(v) for v in self._counts)
        return Counters(messages=m, records=m, bad=bad, gaps=gaps, dropped=dropped)


def choose_xrt(boards: list[BoardInfo], p: Params) -> tuple[FeatureEngine, str]:
    """``auto`` with only XRT cards: the first card, with an xclbin for ``p`` if one is listed."""
    from hean.engine import Mirror

    card = boards[0].name
    xclbin = find_xclbin(p, bitstreams_dir())
    if xclbin is None:
        return Mirror(p), (f"Alveo card {card} found, but no xclbin for K={p.K} N={p.N} in "
                           f"{bitstreams_dir() / 'manifest.json'}; using the mirror")  # fmt: skip
    try:
        return XrtEngine(xclbin, p), f"Alveo card {card} with {xclbin}"
    except BoardError as exc:
        return Mirror(p), f"Alveo card {card} did not take {xclbin}: {exc}; using the mirror"
