"""The cocotb bench of ``sim/`` on a small Verilator build (K=4, N=2), as ``make test`` runs it.

``sim/run.py --quick`` exports the core, builds it with Verilator (cached in
``sim_build/4_2/``), then streams about 4,000 messages through it with idle cycles and
back-pressure, and 1,000 back to back (one message per clock, latency checked), each
record compared with the mirror's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "sim" / "run.py"

pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("c++", "make", "perl")),
    reason="a Verilator build needs c++, make and perl",
)


def run_sim(*args: str) -> subprocess.CompletedProcess[str]:
    # the runner reads PYTEST_CURRENT_TEST to decide how to report: not its business here
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    return subprocess.run(
        [sys.executable, str(RUN), "--quick", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def tail(result: subprocess.CompletedProcess[str], lines: int = 60) -> str:
    out = (result.stdout + result.stderr).splitlines()
    return "\n".join(out[-lines:])


def test_rtl_matches_the_mirror_under_verilator() -> None:
    result = run_sim()
    assert result.returncode == 0, tail(result)
    assert "sim: PASS" in result.stdout, tail(result)
    ii1 = [line for line in result.stdout.splitlines() if " ii1 " in line]
    assert ii1, tail(result)
    assert "1.000 msgs/cycle" in ii1[0], ii1[0]


def test_a_wrong_record_fails_the_run_and_names_the_field() -> None:
    result = run_sim("--corrupt", "700")  # one expected bid_px off by one
    output = result.stdout + result.stderr
    assert result.returncode != 0, tail(result)
    assert "record 700 differs from the mirror's" in output, tail(result)
    assert "bid_px" in output and "message 700: type=" in output, tail(result)
