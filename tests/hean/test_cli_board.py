"""`hean board` and `--engine auto`: without a board (this machine) and on the fake board."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hean.cli import main
from hean.engine import Mirror
from hean.feeds.synth import SynthConfig, write_session
from hean.wire import FileKind, Params, open_file
from tests.hean.engine.test_board import World, install_fake_pynq, make_bitstream

NO_BOARD = "no board found ("
FALLBACK = "feature engines fall back to the mirror"


def run(*args: object) -> object:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("board") / "s.hl2"
    write_session(path, SynthConfig(instruments=2, messages=20_000, seed=4))
    return path


@pytest.fixture()
def fake(monkeypatch, tmp_path) -> tuple[World, Path]:
    world = World()
    install_fake_pynq(monkeypatch, world)
    monkeypatch.setenv("HEAN_BITSTREAMS", str(tmp_path))
    return world, make_bitstream(tmp_path, world.params, world.build_id)


def fake_bitstream(tmp_path: Path) -> Path:
    return make_bitstream(tmp_path, Params(K=8, N=3), 1)


# --- this machine: no board -----------------------------------------------------------


def test_info_without_a_board_exits_0_and_says_the_mirror_is_used() -> None:
    result = run("board", "info")
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith(NO_BOARD))
    assert line.endswith(FALLBACK) and "pynq found no device" in line


@pytest.mark.parametrize("command", ["flash", "selftest"])
def test_flash_and_selftest_without_a_board_exit_1(tmp_path, command) -> None:
    result = run("board", command, fake_bitstream(tmp_path), "--K", "8", "--N", "3")
    assert result.exit_code == 1
    assert "Error: no PYNQ board found (pynq found no device" in result.output
    assert "nothing to load" in result.output


def test_features_auto_falls_back_to_the_mirror_and_says_so(session, tmp_path) -> None:
    dst = tmp_path / "out.hlf"
    result = run("features", session, "-o", dst, "--engine", "auto", "--N", "2")
    assert result.exit_code == 0, result.output
    assert "engine: mirror (no board: pynq found no device" in result.output
    assert "; using the mirror)" in result.output
    msgs = open_file(session, expect=FileKind.HL2).items
    assert open_file(dst).items.tobytes() == Mirror(Params(N=2)).process(msgs).tobytes()


def test_backtest_auto_falls_back_to_the_mirror_and_says_so(session, tmp_path) -> None:
    m = tmp_path / "m.json"
    result = run("backtest", session, "--engine", "auto", "--json", m)
    assert result.exit_code == 0, result.output
    assert "engine: mirror (no board: " in result.output
    assert json.loads(m.read_text())["engine"]["name"] == "mirror"


# --- the fake board -------------------------------------------------------------------


def test_info_lists_the_fake_board_and_its_bitstream(fake) -> None:
    _, bit = fake
    result = run("board", "info")
    assert result.exit_code == 0, result.output
    assert "pynq: pynq-z2 (pynq 4.0.0-fake" in result.output
    assert NO_BOARD not in result.output and bit.name in result.output


def test_flash_loads_and_checks_the_build(fake) -> None:
    _, bit = fake
    result = run("board", "flash", bit, "--K", "8", "--N", "3")
    assert result.exit_code == 0, result.output
    assert "build id 0x1234abcd (checked)" in result.output and "latency 34 clocks" in result.output
    bad = run("board", "flash", bit, "--K", "8", "--N", "4")
    assert bad.exit_code == 1 and "N: board 3, expected 4" in bad.output
    wrong = run("board", "flash", bit, "--K", "8", "--N", "3", "--build-id", "0x99")
    assert wrong.exit_code == 1 and "expected 0x00000099" in wrong.output


def test_selftest_passes_on_a_good_board_and_names_the_first_difference(fake) -> None:
    world, bit = fake
    ok = run("board", "selftest", bit, "--K", "8", "--N", "3", "--messages", "3000")
    assert ok.exit_code == 0, ok.output
    assert "selftest OK: 3,000 messages" in ok.output
    world.corrupt = 1234
    bad = run("board", "selftest", bit, "--K", "8", "--N", "3", "--messages", "3000")
    assert bad.exit_code == 1
    assert "record 1234 (message seq" in bad.output and "bid_px: board " in bad.output
    assert "selftest FAILED" in bad.output


def test_features_auto_takes_the_fake_board(fake, session, tmp_path) -> None:
    world, _ = fake
    dst = tmp_path / "out.hlf"
    result = run("features", session, "-o", dst, "--engine", "auto", "--K", "8", "--N", "3")
    assert result.exit_code == 0, result.output
    assert "engine: pynq (PYNQ board pynq-z2 with " in result.output
    msgs = open_file(session, expect=FileKind.HL2).items
    got = open_file(dst).items.view("u1").reshape(-1, 128)[:, :112]
    want = Mirror(world.params).process(msgs).view("u1").reshape(-1, 128)[:, :112]
    assert (got == want).all()
