"""hean.engine.board against a faithful fake of the pynq API (there is no board here).

The fake ``pynq`` module (:func:`install_fake_pynq`) behaves as pynq 4.0 does where the
driver relies on it: ``Overlay`` reads ``ip_dict`` and gives attribute access to its IPs
(and raises when the overlay is not loaded), ``allocate`` returns buffers whose device
side is synced only by ``flush`` / ``invalidate``, and the DMA's channels copy the
``_SDMAChannel`` contract: ``transfer`` refuses a busy channel, flushes before MM2S and
checks alignment and length; ``wait`` invalidates after S2MM, reports ``transferred``
from the length register and raises pynq's messages on error bits. Behind the DMA sits
a model of :class:`hean_hw.top.HL2Top`: 64-bit beats in, four per message (``TLAST``
mid-message is a framing error, as in ``MsgWiden``), the mirror as the core, and 16 beats
out per record with ``TLAST`` on each record's last beat (``LaneFifo``), which ends a
simple-mode S2MM transfer. The core's output can hold only so many records, so MM2S
stalls when nobody receives, as the real backpressure would. The register block answers
from :data:`hean_hw.regs.REGISTERS` with the low/high latch of the counters, and an
unmapped address is an error (SLVERR, a bus error on a Zynq).
"""

from __future__ import annotations

import hashlib
import json
import sys
import types
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from hean.engine import Mirror, open_engine
from hean.engine.board import (
    BoardError,
    PynqEngine,
    choose_engine,
    find_bitstream,
    find_boards,
    probe_boards,
)
from hean.feeds.adversarial import adversarial_stream
from hean.wire import CONTRACT_BYTES, MSG_DTYPE, REC_DTYPE, Params
from hean_hw import regs as regmap

BEAT = 8  # bytes of a 64-bit AXI-Stream beat


class FakeBuffer(np.ndarray):
    """A PynqBuffer: host memory, plus the device's view of it (synced by flush/invalidate)."""

    def __new__(cls, shape: tuple[int, ...], dtype: object, address: int) -> FakeBuffer:
        obj = np.zeros(shape, dtype).view(cls)
        obj.physical_address = address
        obj.device = bytearray(obj.nbytes)
        obj.freed = False
        return obj

    def __array_finalize__(self, obj: object) -> None:
        self.physical_address = getattr(obj, "physical_address", None)
        self.device = getattr(obj, "device", None)
        self.freed = getattr(obj, "freed", False)

    def flush(self) -> None:
        self.device[:] = self.view(np.uint8).tobytes()

    def invalidate(self) -> None:
        self.view(np.uint8)[:] = np.frombuffer(bytes(self.device), np.uint8)

    def freebuffer(self) -> None:
        self.freed = True


@dataclass
class World:
    """What the fake board is and does; tests change it before opening an engine."""

    params: Params = field(default_factory=lambda: Params(K=8, N=3))
    build_id: int = 0x1234ABCD
    magic: int = regmap.MAGIC
    latency: int = 34
    ips: tuple[str, ...] = ("axi_dma_0", "hl2_regs_0", "processing_system7_0")
    devices: int = 1
    max_bytes: int = (1 << 14) - 1  # Vivado's default c_sg_length_width = 14
    capacity: int = 70  # records the core can hold before MM2S stalls (FIFO + pipeline)
    stall: bool = False  # the core never sends a record
    recv_error: int = 0  # S2MM status error bits set on the next receive
    corrupt: int = -1  # index of a record whose bid_px the "hardware" gets wrong
    tlast_per_record: bool = True  # False: TLAST on each transfer's last record (TlastBatch)
    log: list[tuple] = field(default_factory=list)
    core: FakeCore | None = None
    next_address: int = 0x1000_0000


class FakeCore:
    """HL2Top as the DMA sees it: MsgWiden, the core (the mirror), LaneFifo."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.mirror = Mirror(world.params)
        self.partial: list[bytes] = []
        self.out: deque[tuple[bytes, bool]] = deque()
        self.framing = 0
        self.records = 0
        self.cycles = (5 << 32) + 17  # past 32 bits: the latch has to work

    def room(self) -> bool:
        return len(self.out) < self.world.capacity * 16

    def beat_in(self, beat: bytes, last: bool) -> None:
        self.cycles += 1
        self.partial.append(beat)
        if len(self.partial) == 4:
            msg = np.frombuffer(b"".join(self.partial), MSG_DTYPE)
            self.partial = []
            rec = self.mirror.process(msg)
            rec["engine_t_in"] = self.cycles
            rec["engine_t_out"] = self.cycles + 30
            if self.records == self.world.corrupt:
                rec["bid_px"] += 1
            self.records += 1
            raw = rec.tobytes()
            tlast = self.world.tlast_per_record or last
            for k in range(16):
                self.out.append((raw[k * BEAT : (k + 1) * BEAT], tlast and k == 15))
        elif last:  # TLAST before a message's fourth beat: the partial message is dropped
            self.framing += 1
            self.partial = []


class FakeChannel:
    """pynq.lib.dma._SDMAChannel's contract, over the fake core."""

    ERRORS: ClassVar[dict[int, str]] = {0x10: "DMA Internal Error (transfer length 0?)",
              0x20: "DMA Slave Error (cannot access memory map interface)",
              0x40: "DMA Decode Error (invalid address)"}  # fmt: skip

    def __init__(self, dma: FakeDMA, send: bool) -> None:
        self.dma, self.send = dma, send
        self.transferred = 0
        self._first = True
        self._idle = False
        self._errors = 0
        self._job: list | None = None  # [buffer, start, nbytes, moved]
        self.running = True

    @property
    def idle(self) -> bool:
        self.dma.pump()
        return self._idle

    @property
    def error(self) -> bool:
        return self._errors != 0

    def transfer(self, array: FakeBuffer, start: int = 0, nbytes: int = 0) -> None:
        if not self._idle and not self._first:
            raise RuntimeError("DMA channel not idle")
        if nbytes == 0:
            nbytes = array.nbytes - start
        if nbytes > self.dma.buffer_max_size:
            raise ValueError(f"Transfer size is {nbytes} bytes, which exceeds the maximum")
        if (array.physical_address + start) % BEAT:
            raise RuntimeError("DMA does not support unaligned transfers")
        assert not array.freed, "transfer of a freed buffer"
        if self.send:
            array.flush()
        kind = "send" if self.send else "recv"
        self.dma.world.log.append((kind, array.physical_address, start, nbytes))
        self.transferred = 0
        self._first, self._idle = False, False
        self._job = [array, start, nbytes, 0]
        if not self.send and self.dma.world.recv_error:
            self._errors, self.dma.world.recv_error = self.dma.world.recv_error, 0
        self.dma.pump()

    def wait(self) -> None:
        if self._errors:
            raise RuntimeError(self.ERRORS[self._errors])
        if not self.idle:
            raise AssertionError("wait() on a busy channel: pynq would spin here forever")
        array = self._job[0]
        if not self.send:
            array.invalidate()
        self.transferred = self._job[3]
        self.dma.world.log.append(("wait_" + ("send" if self.send else "recv"),
                                   array.physical_address))  # fmt: skip

    def step(self, core: FakeCore) -> bool:
        """Move one beat if this channel can; True when it did."""
        if self._job is None or self._idle or self._errors:
            return False
        array, start, nbytes, moved = self._job
        if self.send:
            if not core.room():
                return False
            beat = bytes(array.device[start + moved : start + moved + BEAT])
            self._job[3] = moved = moved + BEAT
            core.beat_in(beat, moved >= nbytes)  # MM2S ends its transfer with TLAST
            self._idle = moved >= nbytes
            return True
        if not core.out or self.dma.world.stall:
            return False
        beat, last = core.out.popleft()
        array.device[start + moved : start + moved + BEAT] = beat
        self._job[3] = moved = moved + BEAT
        self._idle = last or moved >= nbytes  # TLAST ends a simple-mode S2MM transfer
        return True


class FakeDMA:
    """pynq.lib.dma.DMA: a send and a receive channel and the largest transfer."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.buffer_max_size = world.max_bytes
        self.sendchannel = FakeChannel(self, send=True)
        self.recvchannel = FakeChannel(self, send=False)

    def pump(self) -> None:
        core = self.world.core
        while self.recvchannel.step(core) | self.sendchannel.step(core):
            pass


class FakeRegs:
    """The core's AXI4-Lite register block, read as pynq's DefaultIP.read(offset)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.names = {offset: name for name, offset in regmap.REGISTERS.items()}
        self.latched: dict[str, int] = {}

    def read(self, offset: int = 0) -> int:
        w, core = self.world, self.world.core
        name = self.names.get(offset)
        if name is None:
            raise AssertionError(f"read of unmapped offset {offset:#x}: SLVERR, a bus error")
        constants = regmap.constants(w.params, w.build_id, w.latency) | {"magic": w.magic}
        if name in constants:
            return constants[name]
        counter, half = name.rsplit("_", 1)
        c = core.mirror.counters()
        values = {"cycles": core.cycles, "msgs_in": c.messages, "recs_out": core.records,
                  "bad": c.bad, "gaps": c.gaps, "dropped": c.dropped,
                  "framing_errors": core.framing}  # fmt: skip
        if half == "lo":
            self.latched[counter] = values[counter] >> 32
            return values[counter] & 0xFFFFFFFF
        return self.latched.get(counter, 0)

    def write(self, offset: int, value: int) -> None:
        raise AssertionError("the register block is read-only (writes answer SLVERR)")


def install_fake_pynq(monkeypatch: pytest.MonkeyPatch, world: World) -> types.ModuleType:
    """Put a fake ``pynq`` module in ``sys.modules`` for the test's duration."""
    mod = types.ModuleType("pynq")
    mod.__version__ = "4.0.0-fake"

    class Device:
        devices = [types.SimpleNamespace(name="pynq-z2", tag="embedded_xrt0")] * world.devices

    class Overlay:
        def __init__(self, bitfile_name: str, download: bool = True, **_: object) -> None:
            if not Device.devices:
                raise RuntimeError("No Devices Found")
            if not Path(bitfile_name).with_suffix(".hwh").exists():
                raise RuntimeError(f"Unable to find metadata for bitstream {bitfile_name}")
            self.ip_dict = {name: {"phys_addr": 0x4000_0000 + 0x10000 * i}
                            for i, name in enumerate(world.ips)}  # fmt: skip
            world.core = FakeCore(world)  # a download configures the PL afresh
            world.log.append(("download", bitfile_name))
            self._drivers = {"axi_dma_0": FakeDMA(world), "hl2_regs_0": FakeRegs(world)}

        def __getattr__(self, key: str) -> object:
            if key in self.__dict__.get("ip_dict", {}):
                return self._drivers.get(key, types.SimpleNamespace())
            raise AttributeError(f"Could not find IP or hierarchy {key} in overlay")

    def allocate(shape: tuple[int, ...], dtype: object = "u4", **_: object) -> FakeBuffer:
        address, world.next_address = world.next_address, world.next_address + 0x10_0000
        return FakeBuffer(shape, dtype, address)

    mod.Device, mod.Overlay, mod.allocate = Device, Overlay, allocate
    monkeypatch.setitem(sys.modules, "pynq", mod)
    return mod


def make_bitstream(folder: Path, params: Params, build_id: int | None, hwh: bool = True) -> Path:
    """A .bit (+ .hwh) listed in folder/manifest.json as the build of ``params``."""
    bit = folder / f"pynq-z2_K{params.K}_N{params.N}.bit"
    bit.write_bytes(b"\xff" * 64 + f"K{params.K}N{params.N}".encode())
    if hwh:
        bit.with_suffix(".hwh").write_text("<hwh/>")
    digest = hashlib.sha256(bit.read_bytes()).hexdigest()
    entry = {"target": "pynq-z2", "params": params.as_dict(), "artifact": f"bitstreams/{bit.name}",
             "sha256": digest, "build_id": build_id}  # fmt: skip
    manifest = folder / "manifest.json"
    builds = json.loads(manifest.read_text())["builds"] if manifest.exists() else []
    manifest.write_text(json.dumps({"builds": [*builds, entry]}))
    return bit


@pytest.fixture()
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    w = World()
    install_fake_pynq(monkeypatch, w)
    return w


@pytest.fixture()
def bit(tmp_path: Path, world: World) -> Path:
    return make_bitstream(tmp_path, world.params, world.build_id)


def stream(n: int, params: Params, seed: int = 5) -> np.ndarray:
    return adversarial_stream(seed, n, instruments=params.N, N=params.N)


def contract(recs: np.ndarray) -> np.ndarray:
    return recs.view(np.uint8).reshape(-1, REC_DTYPE.itemsize)[:, :CONTRACT_BYTES]


# --- streaming ------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [1, 7, 64, 4096])
def test_records_equal_the_mirror_across_batches_and_uneven_calls(world, bit, batch) -> None:
    p = world.params
    msgs = stream(600, p)
    engine = PynqEngine(bit, p, batch=batch)
    assert engine.batch == min(batch, world.max_bytes // 128)  # 127 at the default width
    got = [engine.process(msgs[a:b]) for a, b in [(0, 1), (1, 9), (9, 9), (9, 300), (300, 600)]]
    expected = Mirror(p).process(msgs)
    assert np.array_equal(contract(np.concatenate(got)), contract(expected))
    mirror = Mirror(p)
    mirror.process(msgs)
    assert engine.counters() == mirror.counters()
    assert engine.framing_errors() == 0
    stamps = np.concatenate(got)
    assert (stamps["engine_t_out"] - stamps["engine_t_in"] == 30).all()


def test_process_into_writes_a_slice_and_empty_input_moves_nothing(world, bit) -> None:
    engine = PynqEngine(bit, world.params, batch=16)
    before = len(world.log)
    engine.process(np.zeros(0, MSG_DTYPE))
    assert len(world.log) == before
    msgs = stream(40, world.params)
    out = np.zeros(50, REC_DTYPE)
    engine.process_into(msgs, out[5:])
    assert np.array_equal(contract(out[5:45]), contract(Mirror(world.params).process(msgs)))
    assert not out[:5].view(np.uint8).any() and not out[45:].view(np.uint8).any()


def test_double_buffering_alternates_the_buffers_and_overlaps_the_copies(world, bit) -> None:
    engine = PynqEngine(bit, world.params, batch=10)
    events: list[tuple] = []
    fill, finish = engine._fill, engine._finish
    engine._fill = lambda slot, m: (events.append(("fill", slot)), fill(slot, m))[1]
    engine._finish = lambda slot, n, what: (finish(slot, n, what), events.append(("done", slot)))[0]
    world.log.clear()
    engine.process(stream(45, world.params))  # 5 batches, the last one short
    first_recv = [e[1] for e in world.log if e[0] == "recv" and e[2] == 0]
    sends = [e[1] for e in world.log if e[0] == "send"]
    assert len(sends) == len(first_recv) == 5
    assert sends[0] != sends[1] and sends == [sends[0], sends[1]] * 2 + [sends[0]]
    assert first_recv[0] != first_recv[1]
    assert first_recv == [first_recv[0], first_recv[1]] * 2 + [first_recv[0]]
    # batch i+1 is copied in while batch i is on the wire
    assert events[:4] == [("fill", 0), ("fill", 1), ("done", 0), ("fill", 0)]
    # every record ends with TLAST, so each batch takes one S2MM transfer per record
    assert sum(1 for e in world.log if e[0] == "recv") == 45


def test_a_shell_with_tlast_per_transfer_takes_one_receive_per_batch(world, bit) -> None:
    world.tlast_per_record = False
    msgs = stream(45, world.params)
    engine = PynqEngine(bit, world.params, batch=10)
    world.log.clear()
    assert np.array_equal(contract(engine.process(msgs)),
                          contract(Mirror(world.params).process(msgs)))  # fmt: skip
    assert [e[3] for e in world.log if e[0] == "recv"] == [1280] * 4 + [640]


def test_more_records_than_the_core_holds_do_not_deadlock(world, bit) -> None:
    world.capacity = 3  # MM2S stalls after 3 records unless the driver keeps receiving
    msgs = stream(100, world.params)
    engine = PynqEngine(bit, world.params, batch=50)
    assert np.array_equal(contract(engine.process(msgs)),
                          contract(Mirror(world.params).process(msgs)))  # fmt: skip


# --- checks on opening ----------------------------------------------------------------


def test_other_parameters_on_the_board_are_refused(world, tmp_path) -> None:
    bit = make_bitstream(tmp_path, world.params, world.build_id)
    with pytest.raises(BoardError, match=r"other parameters \(K: board 8, expected 16\)"):
        PynqEngine(bit, Params(K=16, N=3))
    with pytest.raises(BoardError, match=r"N: board 3, expected 4"):
        PynqEngine(bit, Params(K=8, N=4))


def test_a_build_id_other_than_the_manifest_one_is_refused(world, tmp_path) -> None:
    bit = make_bitstream(tmp_path, world.params, build_id=0xDEADBEEF)
    with pytest.raises(BoardError, match=r"build id 0x1234abcd, expected 0xdeadbeef"):
        PynqEngine(bit, world.params)
    with pytest.raises(BoardError, match=r"expected 0x00000007"):
        PynqEngine(bit, world.params, build_id=7)
    assert PynqEngine(bit, world.params, build_id=0x1234ABCD).identity["build_id"] == 0x1234ABCD


def test_a_manifest_without_a_build_id_checks_none(world, tmp_path) -> None:
    bit = make_bitstream(tmp_path, world.params, build_id=None)
    assert PynqEngine(bit, world.params).expected_build_id is None


def test_a_register_block_that_is_not_hl2_is_refused(world, bit) -> None:
    world.magic = 0x12345678
    with pytest.raises(BoardError, match=r"magic 0x12345678, not 0x484c3243"):
        PynqEngine(bit, world.params)


def test_missing_files_and_names_are_clear(world, tmp_path, monkeypatch) -> None:
    with pytest.raises(BoardError, match=r"no such bitstream"):
        PynqEngine(tmp_path / "none.bit", world.params)
    bit = make_bitstream(tmp_path, world.params, world.build_id, hwh=False)
    with pytest.raises(BoardError, match=r"no pynq-z2_K8_N3\.hwh beside it"):
        PynqEngine(bit, world.params)
    bit.with_suffix(".hwh").write_text("<hwh/>")
    with pytest.raises(BoardError, match=r"no register block called 'regs'; its IPs: "
                       r"axi_dma_0, hl2_regs_0, processing_system7_0"):  # fmt: skip
        PynqEngine(bit, world.params, regs_name="regs")
    with pytest.raises(BoardError, match=r"no AXI DMA called 'dma'"):
        PynqEngine(bit, world.params, dma_name="dma")
    world.devices = 0
    install_fake_pynq(monkeypatch, world)
    with pytest.raises(BoardError, match=r"no PYNQ board"):
        PynqEngine(bit, world.params)


def test_a_stuck_core_times_out_and_the_engine_needs_a_reset(world, bit) -> None:
    engine = PynqEngine(bit, world.params, batch=8, timeout_s=0.05)
    msgs = stream(20, world.params)
    world.stall = True
    with pytest.raises(BoardError, match=r"timed out after 0.05 s receiving the records of "
                       r"batch 1 of 3 \(messages 0\.\.7\) \(0 of 8 records in\)"):  # fmt: skip
        engine.process(msgs)
    with pytest.raises(BoardError, match=r"call reset\(\)"):
        engine.process(msgs)
    world.stall = False
    engine.reset()  # reloads the overlay: a fresh core
    assert sum(1 for e in world.log if e[0] == "download") == 2
    assert np.array_equal(contract(engine.process(msgs)),
                          contract(Mirror(world.params).process(msgs)))  # fmt: skip


def test_a_dma_error_is_a_board_error_saying_what_was_done(world, bit) -> None:
    engine = PynqEngine(bit, world.params, batch=8)
    world.recv_error = 0x40
    with pytest.raises(BoardError, match=r"recvchannel failed receiving the records of batch 1"
                       r".*DMA Decode Error \(invalid address\)"):  # fmt: skip
        engine.process(stream(10, world.params))


def test_close_frees_the_buffers(world, bit) -> None:
    engine = PynqEngine(bit, world.params)
    buffers = list(engine._buffers)
    engine.close()
    assert len(buffers) == 4 and all(b.freed for b in buffers)


# --- finding boards and choosing engines ----------------------------------------------


def test_no_board_on_this_machine_gives_an_empty_list_and_a_reason() -> None:
    assert "fake" not in getattr(sys.modules.get("pynq"), "__version__", "")  # the real pynq
    boards, why = probe_boards()
    assert boards == [] and find_boards() == []
    assert "pynq found no device" in why or "pynq cannot be imported" in why
    engine, reason = choose_engine("auto", Params(K=8))
    assert isinstance(engine, Mirror) and engine.params == Params(K=8)
    assert reason.startswith("no board: ") and reason.endswith("; using the mirror")
    assert isinstance(open_engine("auto", Params()), Mirror)


def test_pynq_that_cannot_import_is_a_reason_not_an_exception(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pynq", None)  # import raises ImportError
    boards, why = probe_boards()
    assert boards == [] and "pynq cannot be imported (ModuleNotFoundError" in why


def test_a_fake_board_is_found_and_auto_takes_it_with_a_listed_bitstream(
    world, tmp_path, monkeypatch
) -> None:
    assert find_boards()[0].kind == "pynq" and find_boards()[0].name == "pynq-z2"
    monkeypatch.setenv("HEAN_BITSTREAMS", str(tmp_path))
    engine, why = choose_engine("auto", world.params)
    assert isinstance(engine, Mirror) and "no bitstream for K=8 N=3" in why
    bit = make_bitstream(tmp_path, world.params, world.build_id)
    make_bitstream(tmp_path, Params(K=16, N=1), 1)  # another build, listed too
    assert find_bitstream(world.params) == bit
    engine, why = choose_engine("auto", world.params)
    assert isinstance(engine, PynqEngine) and why.startswith("PYNQ board pynq-z2 with ")
    assert "build id 0x1234abcd" in why
    engine, why = choose_engine("auto", Params(K=8, N=1), bitstream=bit)
    assert isinstance(engine, Mirror) and "did not take" in why and "N: board 3" in why
