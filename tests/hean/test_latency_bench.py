"""`hean bench latency`: the mirror's and the RTL's figures, the manifest lookup, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hean import latency_bench as lb
from hean.cli import main
from hean.engine import verilator
from hean.feeds.synth import SynthConfig, generate, write_session
from hean.wire import Params

SMALL = Params(K=4, N=2)


@pytest.fixture(scope="module")
def msgs() -> np.ndarray:
    return generate(SynthConfig(instruments=2, messages=3_000, seed=5))[0]


def _entry(K: int, N: int, fmax: float, target: str = "ecp5-85f") -> dict:
    return {"target": target, "params": {"K": K, "N": N}, "fmax_mhz": fmax, "target_mhz": 125,
            "timing_met": False, "latency_cycles": 30}  # fmt: skip


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "manifest.json"
    builds = [_entry(16, 1, 57.4), _entry(64, 1, 50.9), _entry(4, 2, 70.0),
              _entry(32, 4, 999.0, target="xc7z020")]  # fmt: skip
    path.write_text(json.dumps({"builds": builds}))
    return path


def test_mirror_figures_and_schema(msgs: np.ndarray, manifest: Path) -> None:
    r = lb.run(Path("x.hl2"), msgs, SMALL, rtl=False, manifest=manifest)
    doc = json.loads(json.dumps(r.doc))  # all of it is JSON
    assert {"data", "messages", "params", "machine", "mirror", "rtl", "board"} <= set(doc)
    assert doc["messages"] == len(msgs) == len(r.single_ns) and doc["params"]["K"] == 4
    single = doc["mirror"]["single"]
    assert single["messages"] == len(msgs)
    ns = single["ns"]
    assert 0 < ns["p50"] <= ns["p99"] <= ns["max"] and ns["mean"] > 0
    # the 65,536 batch does not fit in 3,000 messages and is left out
    assert [b["batch"] for b in doc["mirror"]["batched"]] == [64, 1024]
    for b in doc["mirror"]["batched"]:
        assert b["batches"] >= lb.MIN_BATCHES
        per, wait = b["ns_per_msg"], b["batch_latency_ns"]
        assert 0 < per["p50"] <= per["p99"] <= per["max"]
        # a batch's wait is its messages' cost all together
        assert wait["p50"] == pytest.approx(per["p50"] * b["batch"])
    rtl = doc["rtl"]
    assert rtl["source"] == "elaboration" and rtl["skipped"] == "--no-rtl"
    assert rtl["latency_cycles"] == lb.elaborated_latency(SMALL) > 0 and rtl["ii"] is None
    assert rtl["fmax_mhz"] == 70.0 and rtl["fmax"]["match"] == "exact"
    ecp5, zynq, alveo = rtl["clocks"]
    assert ecp5["latency_ns"] == pytest.approx(rtl["latency_cycles"] * 1000 / 70.0)
    assert zynq["mhz"] == lb.ZYNQ_MHZ and alveo["mhz"] == lb.ALVEO_MHZ
    assert alveo["latency_ns"] == pytest.approx(rtl["latency_cycles"] * 1000 / lb.ALVEO_MHZ)
    assert doc["board"] is None and doc["board_note"].startswith("no board found")
    assert r.rtl_error is None


def test_manifest_exact_nearest_and_missing(manifest: Path, tmp_path: Path) -> None:
    exact = lb.manifest_fmax(Params(K=16, N=1), manifest)
    assert exact["fmax_mhz"] == 57.4 and exact["match"] == "exact"
    # K=32 N=4: no ECP5 build (the xc7z020 one does not count); K=16 and K=64 are as near
    # on a log scale, and the lower Fmax wins so the figure errs slow
    near = lb.manifest_fmax(Params(K=32, N=4), manifest)
    assert near["fmax_mhz"] == 50.9 and near["match"] == "nearest"
    assert near["entry"]["K"] == 64 and "K=64 N=1" in near["note"]
    assert lb.manifest_fmax(Params(K=8, N=2), manifest)["entry"]["K"] == 4
    missing = lb.manifest_fmax(SMALL, tmp_path / "none.json")
    assert missing["fmax_mhz"] is None and "no such file" in missing["note"]
    (tmp_path / "bad.json").write_text("[1, 2]")
    assert "not a build manifest" in lb.manifest_fmax(SMALL, tmp_path / "bad.json")["note"]
    (tmp_path / "zynq.json").write_text(json.dumps({"builds": [_entry(4, 2, 1.0, "xc7z020")]}))
    assert "no ecp5-85f build" in lb.manifest_fmax(SMALL, tmp_path / "zynq.json")["note"]


def test_no_fmax_leaves_the_ecp5_row_empty(msgs: np.ndarray, tmp_path: Path) -> None:
    r = lb.run(Path("x.hl2"), msgs[:500], SMALL, rtl=False, manifest=tmp_path / "none.json")
    ecp5, zynq, _ = r.doc["rtl"]["clocks"]
    assert r.doc["rtl"]["fmax_mhz"] is None and ecp5["latency_ns"] is None
    assert zynq["latency_ns"] == pytest.approx(r.doc["rtl"]["latency_cycles"] * 1e3 / lb.ZYNQ_MHZ)


def test_bundled_manifest_is_readable() -> None:
    got = lb.manifest_fmax(Params(K=16, N=4))
    assert got["fmax_mhz"] is None or got["fmax_mhz"] > 0, got


needs_verilator = pytest.mark.skipif(
    not verilator.available()[0], reason=f"Verilator unavailable: {verilator.available()[1]}"
)


@needs_verilator
def test_rtl_latency_is_the_cores_and_ii_is_one(msgs: np.ndarray) -> None:
    got = lb.rtl_measure(msgs, SMALL)
    assert got["source"] == "verilator" and got["messages"] == len(msgs)
    assert got["latency_cycles"] == got["core_latency"] == lb.elaborated_latency(SMALL)
    assert got["latency_cycles_min"] == got["latency_cycles_max"] == got["latency_cycles"]
    assert got["ii"] == 1 and got["ii_mean"] == 1.0
    assert got["records_match_mirror"] is True and got["sim_msgs_per_s"] > 0


@pytest.fixture
def session(tmp_path: Path) -> Path:
    path = tmp_path / "s.hl2"
    write_session(path, SynthConfig(instruments=2, messages=2_000, seed=2))
    return path


def _bench(*args: str) -> object:
    return CliRunner().invoke(main, ["bench", "latency", *args], catch_exceptions=False)


@pytest.mark.parametrize("rtl", ["--no-rtl", pytest.param("--rtl", marks=needs_verilator)])
def test_cli_writes_json_plot_and_table(session: Path, tmp_path: Path, rtl: str) -> None:
    js, png = tmp_path / "o" / "l.json", tmp_path / "o" / "l.png"
    r = _bench(str(session), "--K", "4", "--N", "2", rtl, "--json", str(js), "--plot", str(png))
    assert r.exit_code == 0, r.output
    for text in ("mirror, one message per call", "mirror, batches of 1,024",
                 "RTL, Zynq-7020 target clock 50 MHz", "no board found"):  # fmt: skip
        assert text in r.output, r.output
    doc = json.loads(js.read_text())
    assert doc["messages"] == 2_000 and doc["board"] is None
    assert doc["rtl"]["source"] == ("verilator" if rtl == "--rtl" else "elaboration")
    if rtl == "--rtl":
        assert doc["rtl"]["ii"] == 1 and "records match the mirror's" in r.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_messages_limits_the_stream(session: Path, tmp_path: Path) -> None:
    js = tmp_path / "l.json"
    r = _bench(str(session), "--K", "4", "--N", "2", "--no-rtl", "--messages", "300",
               "--zynq-mhz", "50", "--json", str(js))  # fmt: skip
    assert r.exit_code == 0, r.output
    doc = json.loads(js.read_text())
    assert doc["messages"] == 300 and doc["mirror"]["batched"][0]["batch"] == 64
    assert doc["rtl"]["clocks"][1]["mhz"] == 50.0 and "Zynq-7020 target clock 50 MHz" in r.output


def test_cli_verilator_failure_still_prints_the_mirror(
    session: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise verilator.VerilatorError("verilator not found: test")

    monkeypatch.setattr(verilator, "build", broken)
    js = tmp_path / "l.json"
    r = CliRunner().invoke(main, ["bench", "latency", str(session), "--K", "4", "--N", "2",
                                  "--json", str(js)])  # fmt: skip
    assert r.exit_code == 1
    assert "mirror, one message per call" in r.output
    assert "the RTL was not measured: verilator not found: test" in r.output
    assert "--no-rtl" in r.output
    rtl = json.loads(js.read_text())["rtl"]
    assert rtl["source"] == "elaboration" and "verilator not found" in rtl["skipped"]


def test_cli_bad_and_missing_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.hl2"
    bad.write_bytes(b"not an hl2 file" * 10)
    r = CliRunner().invoke(main, ["bench", "latency", str(bad), "--no-rtl"])
    assert r.exit_code == 1 and "bad magic" in r.output, r.output
    r = CliRunner().invoke(main, ["bench", "latency", str(tmp_path / "none.hl2"), "--no-rtl"])
    assert r.exit_code == 1 and "no such file" in r.output, r.output


def test_a_board_that_answers_gets_its_round_trip_measured(monkeypatch, tmp_path) -> None:
    """On the fake PYNQ board of the board tests: round trips of batches, records checked."""
    from hean.feeds.synth import SynthConfig, generate
    from hean.latency_bench import find_board
    from tests.hean.engine.test_board import World, install_fake_pynq, make_bitstream

    world = World()
    install_fake_pynq(monkeypatch, world)
    monkeypatch.setenv("HEAN_BITSTREAMS", str(tmp_path))
    make_bitstream(tmp_path, world.params, world.build_id)
    msgs, _ = generate(SynthConfig(instruments=world.params.N, messages=3_000, seed=2))
    board, note = find_board(msgs, world.params)
    assert board is not None, note
    assert "PYNQ board" in note and board["records_match_mirror"] is True
    sizes = [b["batch"] for b in board["batched"]]
    assert sizes == [64, 1024]  # the batch sizes that fit 3,000 messages
    for b in board["batched"]:
        assert b["batches"] == 3_000 // b["batch"] and b["round_trip_ns"]["p50"] > 0


def test_the_zynq_clock_is_the_pynq_shells() -> None:
    from hean_hw.shell_pynq import DEFAULT_FCLK_MHZ

    assert lb.ZYNQ_MHZ == DEFAULT_FCLK_MHZ
