"""The feature core on a PYNQ board: an overlay, its AXI DMA and its register block.

:class:`PynqEngine` loads a bitstream with ``pynq.Overlay`` (the ``.hwh`` beside the
``.bit`` describes the block design), checks the core's register block (magic, version,
build parameters and, when known, the build id) against what the software expects, and
streams messages through the AXI DMA in batches with two input and two output buffers.

:func:`probe_boards` says which boards answer on this machine (never raising where there
are none), and :func:`choose_engine` picks the engine for ``--engine auto``: a board when
one answers and a bitstream for the parameters is at hand, else the mirror, with the
reason in words. ``pynq`` and ``pyxrt`` are imported only when a board is asked about,
so ``import hean.engine`` stays cheap and works without them.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hean.engine.base import Counters, EngineError, FeatureEngine, check_batch
from hean.engine.pingpong import double_buffered
from hean.wire import MSG_DTYPE, REC_DTYPE, Params

#: The block-design names of the shell's DMA and of the core's AXI4-Lite register block.
DMA_NAME = "axi_dma_0"
REGS_NAME = "hl2_regs_0"
DEFAULT_BATCH = 4096
DEFAULT_TIMEOUT_S = 5.0
MSG_BYTES = MSG_DTYPE.itemsize
REC_BYTES = REC_DTYPE.itemsize


class BoardError(EngineError):
    """A board, its overlay, its DMA or its register block did not do what was asked."""


@dataclass(frozen=True)
class BoardInfo:
    """A board that answered: ``kind`` is ``pynq`` or ``xrt``; ``detail`` says more."""

    kind: str
    name: str
    detail: str = ""


def import_pynq() -> Any:
    """Import ``pynq``, quietly: its import warns on hosts without a board.

    Raises
    ------
    BoardError
        If pynq is not installed or cannot import here (missing system libraries).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pkg_resources and XRT notices, not errors
            import pynq
    except (ImportError, OSError, RuntimeError) as exc:
        raise BoardError(f"pynq cannot be imported ({type(exc).__name__}: {exc})") from None
    return pynq


def _pynq_devices(pynq: Any) -> tuple[list[Any], str]:
    """pynq's devices, and why there are none (pynq's own warnings) when there are none."""
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        try:
            devices = list(pynq.Device.devices)
        except (OSError, RuntimeError, ValueError) as exc:
            return [], f"probing failed: {type(exc).__name__}: {exc}"
    notes = "; ".join(dict.fromkeys(str(w.message) for w in said))
    return devices, notes


def probe_boards() -> tuple[list[BoardInfo], str]:
    """The boards that answer here, and when none does, why, in words. Never raises.

    PYNQ devices come from ``pynq.Device.devices`` (a Zynq's FPGA manager, or XRT
    devices pynq knows); Alveo cards from ``pyxrt`` when it is installed.
    """
    boards: list[BoardInfo] = []
    reasons: list[str] = []
    try:
        pynq = import_pynq()
    except BoardError as exc:
        reasons.append(str(exc))
    else:
        devices, notes = _pynq_devices(pynq)
        for d in devices:
            name = str(getattr(d, "name", "") or getattr(d, "tag", "") or type(d).__name__)
            boards.append(BoardInfo("pynq", name, f"pynq {pynq.__version__}, {type(d).__name__}"))
        if not devices:
            where = "/sys/class/fpga_manager/fpga0/firmware"
            hint = f"no FPGA manager at {where}" if not Path(where).exists() else "none listed"
            reasons.append(
                f"pynq found no device ({hint}" + (f"; pynq: {notes})" if notes else ")")
            )
    from hean.engine.alveo import probe_xrt

    xrt_boards, xrt_reason = probe_xrt()
    boards += xrt_boards
    if not xrt_boards:
        reasons.append(xrt_reason)
    return boards, "; ".join(reasons)


def find_boards() -> list[BoardInfo]:
    """The boards that answer here (``[]`` on a machine without one). Never raises."""
    return probe_boards()[0]


# --- bitstreams ----------------------------------------------------------------------


def bitstreams_dir() -> Path:
    """Where bitstreams live: ``$HEAN_BITSTREAMS``, ``./bitstreams``, or the repository's."""
    if os.environ.get("HEAN_BITSTREAMS"):
        return Path(os.environ["HEAN_BITSTREAMS"]).expanduser()
    here = Path("bitstreams")
    return here if here.is_dir() else Path(__file__).resolve().parents[3] / "bitstreams"


def _manifest(folder: Path) -> list[dict]:
    try:
        return list(json.loads((folder / "manifest.json").read_text())["builds"])
    except (OSError, ValueError, KeyError, TypeError):
        return []


def manifest_entry(bitstream: Path) -> dict | None:
    """The ``manifest.json`` entry (beside the bitstream) whose artifact is this file."""
    import hashlib

    bitstream = Path(bitstream)
    entries = [e for e in _manifest(bitstream.parent)
               if Path(str(e.get("artifact") or "")).name == bitstream.name]  # fmt: skip
    if not entries:
        return None
    try:
        digest = hashlib.sha256(bitstream.read_bytes()).hexdigest()
    except OSError:
        return None
    # the name says which build it should be; the digest says it really is that build
    return next((e for e in entries if e.get("sha256") in (None, digest)), None)


def find_bitstream(params: Params, folder: Path | None = None) -> Path | None:
    """A loadable bitstream for ``params``: a ``.bit`` with its ``.hwh``, from the manifest."""
    folder = bitstreams_dir() if folder is None else Path(folder)
    for e in _manifest(folder):
        art = str(e.get("artifact") or "")
        if art.endswith(".bit") and e.get("params") == params.as_dict():
            bit = folder / Path(art).name
            if bit.exists() and bit.with_suffix(".hwh").exists():
                return bit
    return None


# --- the engine ----------------------------------------------------------------------


class PynqEngine:
    """HL2 feature engine on a PYNQ board (Zynq + AXI DMA in simple mode).

    Parameters
    ----------
    bitstream : Path
        The ``.bit``; its ``.hwh`` must sit beside it (``pynq.Overlay`` needs it).
    params : Params, optional
        The parameters the software expects the core to have been built with.
    dma_name, regs_name : str
        Block-design names of the AXI DMA and of the core's register block.
    batch : int
        Messages per DMA transfer (capped by the DMA's largest transfer).
    build_id : int, optional
        The build id the register block must report; by default the one the bitstream's
        ``manifest.json`` entry records, or none checked when it records none.
    timeout_s : float
        Seconds a batch may take before the DMA is declared stuck.

    Raises
    ------
    BoardError
        If a file is missing, pynq or a device is missing, the overlay does not load, an
        IP is missing, or the register block does not match the expectations.
    """

    name = "pynq"

    def __init__(
        self,
        bitstream: str | os.PathLike[str],
        params: Params | None = None,
        *,
        dma_name: str = DMA_NAME,
        regs_name: str = REGS_NAME,
        batch: int = DEFAULT_BATCH,
        build_id: int | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.params = params if params is not None else Params()
        self.bitstream = Path(bitstream)
        self.dma_name, self.regs_name = dma_name, regs_name
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        self._asked_batch = batch
        self.timeout_s = timeout_s
        if not self.bitstream.is_file():
            raise BoardError(f"{self.bitstream}: no such bitstream")
        hwh = self.bitstream.with_suffix(".hwh")
        if not hwh.is_file():
            raise BoardError(
                f"{self.bitstream}: no {hwh.name} beside it; pynq.Overlay reads the block "
                f"design (IP names, addresses) from it: copy the .hwh Vivado wrote with the "
                f"bitstream next to it"
            )
        entry = manifest_entry(self.bitstream)
        self.expected_build_id = build_id
        if build_id is None and entry is not None and entry.get("build_id") is not None:
            self.expected_build_id = int(entry["build_id"])
        self._dead: str | None = None
        self._buffers: list[Any] = []
        self._open()

    # -- opening and checks ------------------------------------------------------------

    def _open(self) -> None:
        from hean_hw import regs as regmap  # the register map the gateware decodes

        self._map = regmap
        pynq = import_pynq()
        devices, notes = _pynq_devices(pynq)
        if not devices:
            raise BoardError(
                "no PYNQ board: pynq found no device" + (f" ({notes})" if notes else "")
            )
        try:
            overlay = pynq.Overlay(str(self.bitstream))
        except (OSError, RuntimeError, ValueError, KeyError, AttributeError) as exc:
            raise BoardError(
                f"loading the overlay {self.bitstream} failed: {type(exc).__name__}: {exc}"
            ) from None
        ips = dict(overlay.ip_dict)
        for what, name in (("AXI DMA", self.dma_name), ("register block", self.regs_name)):
            if name not in ips:
                raise BoardError(
                    f"{self.bitstream}: the overlay has no {what} called {name!r}; its IPs: "
                    f"{', '.join(sorted(ips)) or 'none'}"
                )
        self._overlay = overlay
        self._dma = getattr(overlay, self.dma_name)
        self._regs = getattr(overlay, self.regs_name)
        for channel in ("sendchannel", "recvchannel"):
            if getattr(self._dma, channel, None) is None:
                raise BoardError(
                    f"{self.dma_name} has no {channel} (MM2S and S2MM are both needed)"
                )
        self.identity = self._check_identity()
        self.latency = self.identity["latency"]
        # the DMA's length register bounds one transfer (2**c_sg_length_width - 1 bytes)
        max_bytes = int(getattr(self._dma, "buffer_max_size", 1 << 26) or 1 << 26)
        self.batch = min(self._asked_batch, max_bytes // REC_BYTES)
        if self.batch < 1:
            raise BoardError(f"{self.dma_name} moves at most {max_bytes} bytes, under one record")
        self._free()
        try:
            self._in = [pynq.allocate(shape=(self.batch * MSG_BYTES,), dtype=np.uint8)
                        for _ in range(2)]  # fmt: skip
            self._out = [pynq.allocate(shape=(self.batch * REC_BYTES,), dtype=np.uint8)
                         for _ in range(2)]  # fmt: skip
        except (OSError, RuntimeError, ValueError, MemoryError) as exc:
            raise BoardError(f"allocating the DMA buffers failed: {exc}") from None
        self._buffers = [*self._in, *self._out]
        self._dead = None

    def _read(self, name: str) -> int:
        try:
            return int(self._regs.read(self._map.REGISTERS[name]))
        except (OSError, RuntimeError, ValueError) as exc:
            raise BoardError(f"reading register {name} of {self.regs_name} failed: {exc}") from None

    def _check_identity(self) -> dict[str, int]:
        """Read the constant registers; refuse a core that is not the one expected."""
        m = self._map
        names = ("magic", "version", "build_id", *m.PARAM_NAMES, "latency")
        got = {name: self._read(name) for name in names}
        where = f"{self.bitstream.name}: {self.regs_name}"
        if got["magic"] != m.MAGIC:
            raise BoardError(
                f"{where} reads magic {got['magic']:#010x}, not {m.MAGIC:#010x} ('HL2C'): "
                f"not the HL2 register block (wrong --regs name or address?)"
            )
        if got["version"] != m.VERSION:
            raise BoardError(f"{where}: register map version {got['version']}, this driver "
                             f"knows {m.VERSION}")  # fmt: skip
        wrong = [f"{k}: board {got[k]}, expected {v}" for k, v in self.params.as_dict().items()
                 if got[k] != v]  # fmt: skip
        if wrong:
            raise BoardError(
                f"{where}: the core was built with other parameters ("
                f"{'; '.join(wrong)}); build or pick the bitstream for these"
            )
        if self.expected_build_id is not None and got["build_id"] != self.expected_build_id:
            raise BoardError(
                f"{where}: build id {got['build_id']:#010x}, expected "
                f"{self.expected_build_id:#010x} (from the manifest or --build-id): "
                f"the bitstream is not the build it is said to be"
            )
        return got

    # -- streaming ---------------------------------------------------------------------

    def process(self, msgs: np.ndarray) -> np.ndarray:
        """Stream ``msgs`` through the board; one ``REC_DTYPE`` record per message.

        Raises
        ------
        BoardError
            On a DMA error or timeout (the engine then needs :meth:`reset`).
        """
        out = np.empty(len(msgs), dtype=REC_DTYPE)
        self.process_into(msgs, out)
        return out

    def process_into(self, msgs: np.ndarray, out: np.ndarray) -> None:
        """Like :meth:`process`, writing into ``out[:len(msgs)]``.

        Batch ``i + 1`` is copied into the other input buffer while batch ``i`` is on
        the wire, and batch ``i``'s records are copied out while ``i + 1`` is.
        """
        check_batch(msgs, out)
        if self._dead is not None:
            raise BoardError(f"{self._dead}; call reset() to reload the overlay")

        def collect(slot: int, start: int, stop: int) -> None:
            out[start:stop] = self._out[slot][: (stop - start) * REC_BYTES].view(REC_DTYPE)

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
        self._in[slot][: len(msgs) * MSG_BYTES].view(MSG_DTYPE)[:] = msgs

    def _launch(self, slot: int, count: int) -> None:
        # the receive is armed first so the core's records never wait for it
        self._transfer("recvchannel", self._out[slot], 0, count * REC_BYTES)
        self._transfer("sendchannel", self._in[slot], 0, count * MSG_BYTES)
        self._deadline = time.monotonic() + self.timeout_s

    def _transfer(self, channel: str, buf: Any, start: int, nbytes: int) -> None:
        try:
            getattr(self._dma, channel).transfer(buf, start=start, nbytes=nbytes)
        except (RuntimeError, ValueError) as exc:
            raise BoardError(f"starting the {channel} transfer of {nbytes} bytes failed: "
                             f"{exc}") from None  # fmt: skip

    def _finish(self, slot: int, count: int, what: str) -> None:
        want, got = count * REC_BYTES, 0
        while True:
            got += self._await("recvchannel", f"receiving the records of {what}", got, want)
            if got >= want:
                break
            # the core ends every record with TLAST, which ends a simple-mode S2MM
            # transfer: the rest of the batch is received by further transfers
            self._transfer("recvchannel", self._out[slot], got, want - got)
        self._await("sendchannel", f"sending {what}", 0, count * MSG_BYTES)

    def _await(self, channel: str, what: str, done: int, want: int) -> int:
        """Poll until ``channel`` is idle (pynq's wait() would spin forever); bytes moved."""
        ch = getattr(self._dma, channel)
        while not ch.idle and not ch.error:
            if time.monotonic() > self._deadline:
                raise BoardError(
                    f"timed out after {self.timeout_s:g} s {what} ({done // REC_BYTES} of "
                    f"{want // REC_BYTES} records in): the DMA or the core is stuck"
                    if channel == "recvchannel"
                    else f"timed out after {self.timeout_s:g} s {what}: MM2S never finished"
                )
        try:
            ch.wait()  # idle or in error now: raises pynq's message on an error
        except RuntimeError as exc:
            raise BoardError(f"{self.dma_name} {channel} failed {what}: {exc}") from None
        moved = int(ch.transferred)
        if channel == "recvchannel" and (moved <= 0 or moved % REC_BYTES):
            raise BoardError(f"{what}: S2MM received {moved} bytes, not whole 128-byte records")
        return moved

    # -- state ------------------------------------------------------------------------

    def _counter(self, name: str) -> int:
        low = self._read(f"{name}_lo")  # latches the high word of the same counter
        return low | self._read(f"{name}_hi") << 32

    def counters(self) -> Counters:
        """The core's own counters (register block) since the overlay was loaded."""
        return Counters(
            messages=self._counter("msgs_in"),
            records=self._counter("recs_out"),
            bad=self._counter("bad"),
            gaps=self._counter("gaps"),
            dropped=self._counter("dropped"),
        )

    def framing_errors(self) -> int:
        """Messages the input adapter cut short (TLAST mid-message): 0 when all is well."""
        return self._counter("framing_errors")

    def cycles(self) -> int:
        """The core's free-running cycle counter."""
        return self._counter("cycles")

    def reset(self) -> None:
        """Reload the overlay: the PL is configured afresh, books and counters at zero."""
        self._open()

    def _free(self) -> None:
        for buf in self._buffers:
            if hasattr(buf, "freebuffer"):
                buf.freebuffer()
        self._buffers = []

    def close(self) -> None:
        """Free the DMA buffers (the overlay stays loaded)."""
        self._free()

    def __enter__(self) -> PynqEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- choosing an engine --------------------------------------------------------------


def choose_engine(
    name: str, params: Params | None = None, bitstream: Path | None = None
) -> tuple[FeatureEngine, str]:
    """The engine ``--engine name`` means here, and why, in words.

    ``auto`` takes a PYNQ board when one answers and a bitstream is given or found in
    :func:`bitstreams_dir` for ``params``, and loads and checks it; otherwise, and when
    that fails, the mirror. ``pynq`` needs ``bitstream`` and raises :class:`BoardError`
    rather than falling back; other names go to :func:`hean.engine.open_engine`.
    """
    from hean.engine import ENGINES, Mirror, open_engine

    p = params if params is not None else Params()
    if name in ENGINES:
        return open_engine(name, p), f"--engine {name}"
    if name == "pynq":
        if bitstream is None:
            raise BoardError("the pynq engine needs a bitstream (a .bit with its .hwh)")
        return PynqEngine(bitstream, p), f"PYNQ board with {bitstream}"
    if name != "auto":
        raise ValueError(f"unknown engine {name!r}; available: {', '.join(ENGINES)}, pynq, auto")
    boards, why = probe_boards()
    pynq_boards = [b for b in boards if b.kind == "pynq"]
    if not boards:
        return Mirror(p), f"no board: {why}; using the mirror"
    if not pynq_boards:
        from hean.engine.alveo import choose_xrt

        return choose_xrt(boards, p)
    board = pynq_boards[0].name
    bit = bitstream if bitstream is not None else find_bitstream(p)
    if bit is None:
        return Mirror(p), (
            f"PYNQ board {board} found, but no bitstream for K={p.K} N={p.N} "
            f"(a .bit with its .hwh listed in {bitstreams_dir() / 'manifest.json'}); "
            f"using the mirror"
        )
    try:
        engine = PynqEngine(bit, p)
    except BoardError as exc:
        return Mirror(p), f"PYNQ board {board} did not take {bit}: {exc}; using the mirror"
    ident = engine.identity["build_id"]
    return engine, f"PYNQ board {board} with {bit} (build id {ident:#010x})"
