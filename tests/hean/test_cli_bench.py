"""`hean bench fastpath`: prints its figures and writes the JSON the issue asks for."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from hean.cli import main


def test_bench_fastpath_json(tmp_path: Path) -> None:
    path = tmp_path / "fp.json"
    r = CliRunner().invoke(main, ["bench", "fastpath", "--decisions", "100000", "--json",
                                  str(path)], catch_exceptions=False)  # fmt: skip
    assert r.exit_code == 0, r.output
    assert (
        "100,000 decisions of a session: p50" in r.output and "20,000 decisions ending" in r.output
    )
    doc = json.loads(path.read_text())
    assert doc["n"] == 100_000 and 0 < doc["p50_us"] <= doc["p99_us"] <= doc["max_us"]


def test_bench_fastpath_refuses_too_few_decisions() -> None:
    r = CliRunner().invoke(main, ["bench", "fastpath", "--decisions", "10"])
    assert r.exit_code == 2 and "100000" in r.output
