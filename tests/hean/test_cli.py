"""The `hean` command line: happy paths, and clear errors that lose nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hean.cli import main
from hean.engine import Mirror
from hean.feeds.adversarial import adversarial_stream
from hean.wire import FileKind, Params, encode_header, open_file, write_file


@pytest.fixture()
def stream(tmp_path: Path) -> tuple[Path, np.ndarray]:
    msgs = adversarial_stream(11, 3000, instruments=3, N=3, band=40)
    path = tmp_path / "in.hl2"
    write_file(path, FileKind.HL2, Params(N=3), msgs)
    return path, msgs


def run(*args: str) -> object:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_features_writes_the_mirror_records_with_the_parameters_used(stream, tmp_path) -> None:
    src, msgs = stream
    dst = tmp_path / "out.hlf"
    result = run(
        "features", src, "-o", dst, "--K", "8", "--N", "3", "--ofi-shift", "3", "--chunk", "1000"
    )
    assert result.exit_code == 0, result.output
    f = open_file(dst, expect=FileKind.HLF)
    p = Params(K=8, N=3, ofi_shift=3)
    assert f.params == p
    assert f.items.tobytes() == Mirror(p).process(msgs).tobytes()
    c = Mirror(p)
    c.process(msgs)
    counts = c.counters()
    assert f"messages {len(msgs):,}" in result.output
    assert f"bad {counts.bad:,}" in result.output and f"gaps {counts.gaps:,}" in result.output
    assert f"dropped {counts.dropped:,}" in result.output and "M msg/s" in result.output
    assert "no sidecar" in result.output
    assert not (tmp_path / "out.hlf.part").exists()


def test_features_warns_when_the_file_names_more_instruments(stream, tmp_path) -> None:
    src, _ = stream
    result = run("features", src, "-o", tmp_path / "o.hlf", "--N", "2")
    assert result.exit_code == 0
    assert "written for N=3" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--K", "3"], "3 is not in the range 4<=x<=64"),
        (["--K", "65"], "65 is not in the range 4<=x<=64"),
        (["--N", "0"], "0 is not in the range 1<=x<=256"),
        (["--ofi-shift", "17"], "17 is not in the range 1<=x<=16"),
        (["--ice-min-refills", "256"], "256 is not in the range 1<=x<=255"),
        (["--engine", "fpga"], "'fpga' is not one of 'mirror', 'verilator'"),
    ],
)
def test_bad_arguments_exit_2_and_name_the_option(stream, tmp_path, args, message) -> None:
    src, _ = stream
    result = run("features", src, "-o", tmp_path / "o.hlf", *args)
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "o.hlf").exists()


def _corrupt(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda t: _corrupt(t, "magic.hl2", b"NOTHL2\0\0" + bytes(56)), "bad magic"),
        (lambda t: _corrupt(t, "short.hl2", b"HEANHL2\0"), "shorter than the 64-byte header"),
        (
            lambda t: _corrupt(t, "trunc.hl2", encode_header(FileKind.HL2, Params()) + bytes(40)),
            "not a whole number",
        ),
        (
            lambda t: _corrupt(t, "kind.hlf", encode_header(FileKind.HLF, Params())),
            "an .hl2 file (messages) is needed",
        ),
        (lambda t: t / "missing.hl2", "no such file"),
    ],
)
def test_bad_files_exit_1_with_a_clear_message(tmp_path, make, message) -> None:
    src = make(tmp_path)
    dst = tmp_path / "o.hlf"
    dst.write_bytes(b"previous results")
    result = run("features", src, "-o", dst)
    assert result.exit_code == 1
    assert message in result.output
    assert dst.read_bytes() == b"previous results"  # a failed run loses nothing


def test_features_refuses_to_overwrite_its_input(stream) -> None:
    src, _ = stream
    before = src.read_bytes()
    result = run("features", src, "-o", src)
    assert result.exit_code == 2 and "overwrite the input" in result.output
    assert src.read_bytes() == before


def test_inspect_shows_header_counts_and_rows(stream, tmp_path) -> None:
    src, msgs = stream
    result = run("inspect", src, "--rows", "2")
    assert result.exit_code == 0, result.output
    assert ".hl2 (HL2 v1), 3,000 messages" in result.output
    assert "K=32" in result.output and "N=3" in result.output
    n_set = int(np.count_nonzero(msgs["type"] == 1))
    assert f"{n_set:,}" in result.output
    dst = tmp_path / "o.hlf"
    run("features", src, "-o", dst, "--N", "3")
    result = run("inspect", dst, "--rows", "3")
    assert result.exit_code == 0, result.output
    assert ".hlf (HL2 v1), 3,000 records" in result.output
    assert "BAD_MSG" in result.output and "2,999" in result.output


def test_inspect_refuses_a_bad_file(tmp_path) -> None:
    result = run("inspect", _corrupt(tmp_path, "x.hlf", b"garbage" * 20))
    assert result.exit_code == 1 and "bad magic" in result.output


def test_help_explains_every_command() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for command in ("features", "synth", "inspect"):
        assert command in result.output
    result = run("features", "--help")
    assert "--ice-absorb-ratio" in result.output and "4..64" in result.output


def test_synth_writes_a_deterministic_session_with_its_sidecar(tmp_path) -> None:
    a, b = tmp_path / "a.hl2", tmp_path / "b.hl2"
    for path in (a, b):
        result = run(
            "synth", "-o", path, "--instruments", "3", "--messages", "20000", "--seed", "4"
        )
        assert result.exit_code == 0, result.output
    assert a.read_bytes() == b.read_bytes()
    f = open_file(a, expect=FileKind.HL2)
    assert len(f) == 20000 and f.params.N == 3
    assert "0=BTCUSDT" in result.output
    sidecar = (tmp_path / "a.hl2.json").read_text()
    assert "BTCUSDT" in sidecar and "seed=4" in sidecar
    result = run("inspect", a)
    assert result.exit_code == 0 and "0=BTCUSDT (tick 0.1, lot 0.001)" in result.output
    result = run("features", a, "-o", tmp_path / "a.hlf", "--N", "3")
    assert result.exit_code == 0 and "bad 0" in result.output
    assert (tmp_path / "a.hlf.json").read_text() == sidecar


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--instruments", "0"], "0 is not in the range 1<=x<=256"),
        (["--messages", "0"], "0 is not in the range"),
        (["--levels", "1001"], "1001 is not in the range 1<=x<=1000"),
        (["--seed", "x"], "'x' is not a valid integer"),
        (["--seed", "-1"], "-1 is not in the range 0<=x"),
    ],
)
def test_synth_refuses_bad_arguments(tmp_path, args, message) -> None:
    result = run("synth", "-o", tmp_path / "x.hl2", *args)
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "x.hl2").exists()
