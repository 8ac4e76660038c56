"""hean.engine.alveo against a fake of pyxrt (there is no Alveo card here).

The fake follows the pyxrt bindings (XRT ``src/python/pybind11/src/pyxrt.cpp``):
``device(i)``, ``load_xclbin(path) -> uuid``, ``kernel(device, uuid, name)`` with
``group_id``, ``bo(device, size, bo.normal, group)`` whose ``map()`` is host memory that
reaches the card only through ``sync(XCL_BO_SYNC_BO_TO_DEVICE / FROM_DEVICE, size,
offset)``, and ``run(kernel)`` with ``set_arg``, ``start`` and ``wait(timeout_ms) ->
ert_cmd_state``. Behind it, the free-running kernel of :mod:`hean_hw.kernel_alveo`:
``hl2_mm2s`` streams ``n_messages`` messages from its buffer into the core (the mirror),
``hl2_s2mm`` writes ``n_records`` records into its buffer.
"""

from __future__ import annotations

import enum
import sys
import types
from collections import deque
from pathlib import Path

import numpy as np
import pytest

from hean.engine import Mirror
from hean.engine.alveo import XrtEngine, probe_xrt
from hean.engine.board import BoardError, choose_engine
from hean.feeds.adversarial import adversarial_stream
from hean.wire import CONTRACT_BYTES, MSG_DTYPE, REC_DTYPE, Params
from tests.hean.engine.test_board import make_bitstream

PARAMS = Params(K=8, N=3)


class State(enum.Enum):
    ERT_CMD_STATE_COMPLETED = 4
    ERT_CMD_STATE_TIMEOUT = 10


class Sync(enum.Enum):
    XCL_BO_SYNC_BO_TO_DEVICE = 0
    XCL_BO_SYNC_BO_FROM_DEVICE = 1


class Card:
    """The card: device memory of every bo, and the kernel's record stream."""

    def __init__(self, params: Params) -> None:
        self.mirror = Mirror(params)
        self.stream: deque[bytes] = deque()
        self.stall = False
        self.loaded: list[str] = []


def install_fake_pyxrt(monkeypatch: pytest.MonkeyPatch, card: Card) -> None:
    mod = types.ModuleType("pyxrt")
    mod.ert_cmd_state, mod.xclBOSyncDirection = State, Sync
    mod.xrt_info_device = types.SimpleNamespace(name="name")
    mod.enumerate_devices = lambda: 1

    class device:  # noqa: N801 (pyxrt's spelling)
        def __init__(self, index: int = 0) -> None:
            if index != 0:
                raise RuntimeError(f"No such device {index}")

        def get_info(self, key: str) -> str:
            return "xilinx_u250_gen3x16_xdma_shell_4_1"

        def load_xclbin(self, path: str) -> str:
            card.loaded.append(path)
            return "uuid-1"

    class kernel:  # noqa: N801
        def __init__(self, dev: device, uuid: str, name: str) -> None:
            if name not in ("hl2_mm2s", "hl2_s2mm"):
                raise RuntimeError(f"No compute units matching '{name}'")
            self.name = name

        def group_id(self, arg: int) -> int:
            return 0

    class bo:  # noqa: N801
        normal = "normal"

        def __init__(self, dev: device, size: int, flags: str, group: int) -> None:
            self.host = bytearray(size)
            self.device = bytearray(size)

        def map(self) -> memoryview:
            return memoryview(self.host)

        def sync(self, direction: Sync, size: int, offset: int) -> None:
            src, dst = ((self.host, self.device) if direction is Sync.XCL_BO_SYNC_BO_TO_DEVICE
                        else (self.device, self.host))  # fmt: skip
            dst[offset : offset + size] = src[offset : offset + size]

    class run:  # noqa: N801
        def __init__(self, k: kernel) -> None:
            self.kernel, self.args = k, {}

        def set_arg(self, index: int, value: object) -> None:
            self.args[index] = value

        def start(self) -> None:
            if self.kernel.name == "hl2_mm2s":
                buf, n = self.args[0], self.args[2]
                msgs = np.frombuffer(bytes(buf.device[: n * 32]), MSG_DTYPE)
                for rec in card.mirror.process(msgs):
                    card.stream.append(rec.tobytes())

        def wait(self, timeout_ms: int = 0) -> State:
            if self.kernel.name == "hl2_mm2s":
                return State.ERT_CMD_STATE_COMPLETED
            buf, n = self.args[0], self.args[2]
            if card.stall or len(card.stream) < n:
                return State.ERT_CMD_STATE_TIMEOUT
            for i in range(n):
                buf.device[i * 128 : (i + 1) * 128] = card.stream.popleft()
            return State.ERT_CMD_STATE_COMPLETED

    mod.device, mod.kernel, mod.bo, mod.run = device, kernel, bo, run
    monkeypatch.setitem(sys.modules, "pyxrt", mod)


def make_xclbin(folder: Path, params: Params) -> Path:
    bit = make_bitstream(folder, params, build_id=None, hwh=False)
    xclbin = folder / f"alveo_K{params.K}_N{params.N}.xclbin"
    bit.rename(xclbin)
    text = (folder / "manifest.json").read_text().replace(bit.name, xclbin.name)
    (folder / "manifest.json").write_text(text)
    return xclbin


@pytest.fixture()
def card(monkeypatch) -> Card:
    c = Card(PARAMS)
    install_fake_pyxrt(monkeypatch, c)
    return c


def contract(recs: np.ndarray) -> np.ndarray:
    return recs.view(np.uint8).reshape(-1, REC_DTYPE.itemsize)[:, :CONTRACT_BYTES]


def test_records_and_counters_equal_the_mirror(card, tmp_path) -> None:
    msgs = adversarial_stream(9, 900, instruments=3, N=3, gap_rate=0.05, bad_rate=0.05)
    engine = XrtEngine(make_xclbin(tmp_path, PARAMS), PARAMS, batch=7)
    got = np.concatenate([engine.process(msgs[a:b]) for a, b in [(0, 3), (3, 3), (3, 500),
                                                                 (500, 900)]])  # fmt: skip
    mirror = Mirror(PARAMS)
    assert np.array_equal(contract(got), contract(mirror.process(msgs)))
    c = engine.counters()
    assert c == mirror.counters() and c.gaps > 0 and c.bad > 0


def test_parameters_are_checked_against_the_manifest(card, tmp_path) -> None:
    xclbin = make_xclbin(tmp_path, PARAMS)
    with pytest.raises(BoardError, match=r"was built with .*'K': 8.*not .*'K': 16"):
        XrtEngine(xclbin, Params(K=16, N=3))
    (tmp_path / "manifest.json").unlink()
    with pytest.raises(BoardError, match=r"no manifest.json entry"):
        XrtEngine(xclbin, PARAMS)
    assert XrtEngine(xclbin, PARAMS, unchecked=True).build_id is None


def test_a_stuck_kernel_times_out_and_reset_says_why_it_cannot(card, tmp_path) -> None:
    engine = XrtEngine(make_xclbin(tmp_path, PARAMS), PARAMS, batch=4, timeout_s=0.01)
    card.stall = True
    stuck = r"hl2_s2mm on batch 1 of 2 \(messages 0\.\.3\) ended .*TIMEOUT"
    with pytest.raises(BoardError, match=stuck):
        engine.process(adversarial_stream(1, 8, instruments=3, N=3))
    with pytest.raises(BoardError, match=r"reload the xclbin"):
        engine.process(adversarial_stream(1, 8, instruments=3, N=3))
    with pytest.raises(BoardError, match=r"xbutil reset"):
        engine.reset()


def test_a_card_is_found_and_auto_uses_its_xclbin(card, tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pynq", None)  # no PYNQ here: only the card answers
    boards, _ = probe_xrt()
    assert [(b.kind, b.name) for b in boards] == [("xrt", "xilinx_u250_gen3x16_xdma_shell_4_1")]
    monkeypatch.setenv("HEAN_BITSTREAMS", str(tmp_path))
    engine, why = choose_engine("auto", PARAMS)
    assert isinstance(engine, Mirror) and "no xclbin for K=8 N=3" in why
    make_xclbin(tmp_path, PARAMS)
    engine, why = choose_engine("auto", PARAMS)
    assert isinstance(engine, XrtEngine) and why.startswith("Alveo card xilinx_u250")
