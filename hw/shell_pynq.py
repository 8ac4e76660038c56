"""PYNQ-Z2 shell: the HL2 top behind an AXI DMA in a Zynq block design, as a Vivado script.

::

    PS7 M_AXI_GP0 -> smartconnect_ctrl -> axi_dma_0/S_AXI_LITE
                                       -> hl2_regs_0/s_axil     (the register block)
    axi_dma_0 M_AXIS_MM2S -> hl2_regs_0/s_axis
    hl2_regs_0/m_axis     -> axi_dma_0 S_AXIS_S2MM
    axi_dma_0 M_AXI_MM2S, M_AXI_S2MM -> smartconnect_mem -> PS7 S_AXI_HP0 (DDR)

:func:`write_project` writes, into one directory, the top's Verilog (``hl2_top.v``, module
``hl2_top``, the export every other flow uses), a thin wrapper (``hl2_pynq_core.v``) that
gives Vivado the interface, clock and reset attributes of the ports and moves the output
TLAST to the end of each DMA transfer (``hl2_tlast_batch.v``, see
:mod:`hean_hw.tlast_batch`), and
``build_pynq_z2.tcl``: a complete Vivado batch script that builds the block design, runs
synthesis, implementation and ``write_bitstream``, writes the utilization and timing
reports and copies ``<name>.bit`` and ``<name>.hwh`` (same base name, as ``pynq.Overlay``
needs) to ``out/``. Nothing here runs Vivado; ``python -m hean_hw.build pynq-z2`` does when
it is on PATH.

The names software looks for are constants here (:data:`DMA_NAME`, :data:`REGS_NAME`):
the cell of the HL2 core is named after its register block, since that is the IP a PYNQ
driver binds to; the streams of the same cell are the DMA's peers.

The clock is FCLK_CLK0 at :data:`DEFAULT_FCLK_MHZ` (50 MHz) unless told otherwise: the
ECP5 timing builds reach 57 to 68 MHz at K=16 N=1 and 75 to 80 MHz at K=4 N=1 (slowest
speed grade, docs/hardware.md), and the default K=32 N=4 build fills 80 % of the
Zynq-7020's LUTs, so 100 MHz is not supported by any evidence yet; 50 MHz is the IO PLL's
1000 MHz divided by 20, exactly.
"""

from __future__ import annotations

import re
from pathlib import Path

from hean.wire import Params

TARGET = "pynq-z2"
BOARD = "PYNQ-Z2"
PART = "xc7z020clg400-1"
#: Used when Vivado has the TUL board files; otherwise the script applies
#: :data:`PS7_FALLBACK_PRESET` by properties.
BOARD_PART = "tul.com.tw:pynq-z2:part0:1.0"
BD_NAME = "hl2"
PS_NAME = "processing_system7_0"
#: The AXI DMA cell (``pynq.Overlay(...).axi_dma_0``).
DMA_NAME = "axi_dma_0"
#: The HL2 core's cell: its AXI-Lite slave is the register block of :mod:`hean_hw.regs`.
REGS_NAME = "hl2_regs_0"
#: The module the block design references (the wrapper around ``hl2_top``).
WRAPPER_MODULE = "hl2_pynq_core"
#: :class:`~hean_hw.tlast_batch.TlastBatch` in the wrapper: TLAST once per DMA transfer.
BATCH_MODULE = "hl2_tlast_batch"
SCRIPT = "build_pynq_z2.tcl"
DEFAULT_FCLK_MHZ = 50.0
#: Width of the DMA's buffer length register: transfers up to 64 MiB - 1 bytes (the
#: widest the AXI DMA offers; PYNQ's driver reads it from the .hwh).
DMA_LENGTH_WIDTH = 26
#: The register block's AXI-Lite address width at the wrapper (the core decodes 8 bits;
#: 16 bits gives the usual 64 KiB segment, the registers repeating every 256 bytes).
AXIL_ADDR_WIDTH = 16

#: PS7 settings of the PYNQ-Z2 for Vivado without the board files: the 50 MHz PS clock,
#: the bank voltages and the DDR3 (MT41J256M16 RE-125, 16-bit bus, 525 MHz). On a PYNQ
#: image the PS is configured by the image's boot files, not by an overlay, so these
#: matter for the address map in the .hwh more than for the hardware.
PS7_FALLBACK_PRESET = {
    "PCW_CRYSTAL_PERIPHERAL_FREQMHZ": "50",
    "PCW_PRESET_BANK0_VOLTAGE": "LVCMOS 3.3V",
    "PCW_PRESET_BANK1_VOLTAGE": "LVCMOS 1.8V",
    "PCW_APU_PERIPHERAL_FREQMHZ": "650",
    "PCW_UIPARAM_DDR_MEMORY_TYPE": "DDR 3",
    "PCW_UIPARAM_DDR_PARTNO": "MT41J256M16 RE-125",
    "PCW_UIPARAM_DDR_BUS_WIDTH": "16 Bit",
    "PCW_UIPARAM_DDR_FREQ_MHZ": "525",
    "PCW_UIPARAM_DDR_TRAIN_WRITE_LEVEL": "1",
    "PCW_UIPARAM_DDR_TRAIN_READ_GATE": "1",
    "PCW_UIPARAM_DDR_TRAIN_DATA_EYE": "1",
    "PCW_UIPARAM_DDR_BOARD_DELAY0": "0.223",
    "PCW_UIPARAM_DDR_BOARD_DELAY1": "0.212",
    "PCW_UIPARAM_DDR_DQS_TO_CLK_DELAY_0": "0.040",
    "PCW_UIPARAM_DDR_DQS_TO_CLK_DELAY_1": "0.058",
    "PCW_UART0_PERIPHERAL_ENABLE": "1",
    "PCW_UART0_UART0_IO": "MIO 14 .. 15",
    "PCW_SD0_PERIPHERAL_ENABLE": "1",
    "PCW_SD0_SD0_IO": "MIO 40 .. 45",
}


def artifact_base(tag: str) -> str:
    """``pynq-z2_K32_N4``: the base name of the .bit and the .hwh."""
    return f"{TARGET}_{tag}"


# --- the wrapper -----------------------------------------------------------------------


def _axis(name: str, mode: str) -> list[tuple[str, str, int, str]]:
    """(direction, port, width, X_INTERFACE logical name) of a 64-bit AXI-Stream port."""
    i, o = ("input", "output") if mode == "slave" else ("output", "input")
    return [
        (i, f"{name}_tdata", 64, "TDATA"),
        (i, f"{name}_tkeep", 8, "TKEEP"),
        (i, f"{name}_tlast", 1, "TLAST"),
        (i, f"{name}_tvalid", 1, "TVALID"),
        (o, f"{name}_tready", 1, "TREADY"),
    ]


AXIL_PORTS = [
    ("input", "awaddr", AXIL_ADDR_WIDTH),
    ("input", "awprot", 3),
    ("input", "awvalid", 1),
    ("output", "awready", 1),
    ("input", "wdata", 32),
    ("input", "wstrb", 4),
    ("input", "wvalid", 1),
    ("output", "wready", 1),
    ("output", "bresp", 2),
    ("output", "bvalid", 1),
    ("input", "bready", 1),
    ("input", "araddr", AXIL_ADDR_WIDTH),
    ("input", "arprot", 3),
    ("input", "arvalid", 1),
    ("output", "arready", 1),
    ("output", "rdata", 32),
    ("output", "rresp", 2),
    ("output", "rvalid", 1),
    ("input", "rready", 1),
]


def _decl(direction: str, name: str, width: int) -> str:
    bits = f"[{width - 1}:0] " if width > 1 else ""
    return f"{direction} wire {bits}{name}"


def wrapper_verilog() -> str:
    """``hl2_pynq_core``: ``hl2_top`` with Vivado interface attributes on its ports.

    The attributes make the block design see ``s_axis``, ``m_axis`` and ``s_axil`` on one
    clock and an active-low reset (the one ``proc_sys_reset`` gives), instead of relying on
    name inference. The output's TLAST comes from :class:`~hean_hw.tlast_batch.TlastBatch`:
    once per input DMA transfer, on the last beat of its last record, since the DMA's
    S2MM channel ends a transfer at TLAST. ``TKEEP`` is added (all ones out, ignored in)
    because the DMA's S2MM channel has it; ``*PROT`` is accepted and ignored, as the
    register block has no use for it.
    """
    lines = [
        "// Generated by hean_hw.shell_pynq: the HL2 top for the PYNQ-Z2 block design.",
        "`default_nettype none",
        f"module {WRAPPER_MODULE} (",
        '  (* X_INTERFACE_INFO = "xilinx.com:signal:clock:1.0 clk CLK" *)',
        '  (* X_INTERFACE_PARAMETER = "ASSOCIATED_BUSIF s_axis:m_axis:s_axil, '
        'ASSOCIATED_RESET aresetn" *)',
        "  input wire clk,",
        '  (* X_INTERFACE_INFO = "xilinx.com:signal:reset:1.0 aresetn RST" *)',
        '  (* X_INTERFACE_PARAMETER = "POLARITY ACTIVE_LOW" *)',
        "  input wire aresetn,",
    ]
    ports: list[str] = []
    for bus, mode in (("s_axis", "slave"), ("m_axis", "master")):
        for direction, name, width, logical in _axis(bus, mode):
            ports.append(
                f'  (* X_INTERFACE_INFO = "xilinx.com:interface:axis:1.0 {bus} {logical}" *)'
            )
            ports.append(f"  {_decl(direction, name, width)}")
    for k, (direction, name, width) in enumerate(AXIL_PORTS):
        ports.append(
            f'  (* X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 s_axil {name.upper()}" *)'
        )
        if k == 0:
            ports.append(
                '  (* X_INTERFACE_PARAMETER = "PROTOCOL AXI4LITE, DATA_WIDTH 32, '
                f'ADDR_WIDTH {AXIL_ADDR_WIDTH}" *)'
            )
        ports.append(f"  {_decl(direction, 's_axil_' + name, width)}")
    # join with commas between declarations, not after attribute lines
    decls = [i for i, p in enumerate(ports) if not p.lstrip().startswith("(*")]
    for i in decls[:-1]:
        ports[i] += ","
    lines += ports
    lines += [
        ");",
        "  // the Amaranth top resets synchronously, active high",
        "  wire rst = ~aresetn;",
        "  assign m_axis_tkeep = 8'hFF;  // records are whole 8-byte beats",
        "  // the S2MM channel ends a transfer at TLAST: one TLAST per input transfer",
        "  wire core_in_valid, core_in_ready, core_out_last;",
        f"  {BATCH_MODULE} batch (",
        "    .clk(clk), .rst(rst),",
        "    .in_valid(s_axis_tvalid), .in_last(s_axis_tlast), .in_ready(s_axis_tready),",
        "    .core_in_valid(core_in_valid), .core_in_ready(core_in_ready),",
        "    .out_valid(m_axis_tvalid), .out_ready(m_axis_tready),",
        "    .core_out_last(core_out_last), .out_last(m_axis_tlast)",
        "  );",
        "  hl2_top core (",
        "    .clk(clk), .rst(rst),",
        "    .s_axis_tdata(s_axis_tdata), .s_axis_tvalid(core_in_valid),",
        "    .s_axis_tready(core_in_ready), .s_axis_tlast(s_axis_tlast),",
        "    .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid),",
        "    .m_axis_tready(m_axis_tready), .m_axis_tlast(core_out_last),",
        "    .s_axil_awaddr(s_axil_awaddr[7:0]), .s_axil_awvalid(s_axil_awvalid),",
        "    .s_axil_awready(s_axil_awready),",
        "    .s_axil_wdata(s_axil_wdata), .s_axil_wstrb(s_axil_wstrb),",
        "    .s_axil_wvalid(s_axil_wvalid), .s_axil_wready(s_axil_wready),",
        "    .s_axil_bresp(s_axil_bresp), .s_axil_bvalid(s_axil_bvalid),",
        "    .s_axil_bready(s_axil_bready),",
        "    .s_axil_araddr(s_axil_araddr[7:0]), .s_axil_arvalid(s_axil_arvalid),",
        "    .s_axil_arready(s_axil_arready),",
        "    .s_axil_rdata(s_axil_rdata), .s_axil_rresp(s_axil_rresp),",
        "    .s_axil_rvalid(s_axil_rvalid), .s_axil_rready(s_axil_rready)",
        "  );",
        "endmodule",
        "`default_nettype wire",
        "",
    ]
    return "\n".join(lines)


def batch_verilog() -> str:
    """The Verilog of :class:`~hean_hw.tlast_batch.TlastBatch` (module ``hl2_tlast_batch``)."""
    from amaranth.back import verilog

    from hean_hw.build import _amaranth_lock
    from hean_hw.tlast_batch import TlastBatch

    with _amaranth_lock:
        return verilog.convert(TlastBatch(), name=BATCH_MODULE)


# --- the Vivado script -----------------------------------------------------------------


def _tcl_dict(values: dict[str, str]) -> str:
    return " \\\n    ".join(f"CONFIG.{k} {{{v}}}" for k, v in values.items())


def project_tcl(base_name: str, *, fclk_mhz: float = DEFAULT_FCLK_MHZ, jobs: int = 2) -> str:
    """The Vivado batch script (see the module docstring); run where the Verilog is."""
    dma = {
        "c_include_sg": "0",
        "c_sg_include_stscntrl_strm": "0",
        "c_sg_length_width": str(DMA_LENGTH_WIDTH),
        "c_addr_width": "32",
        "c_include_mm2s": "1",
        "c_include_s2mm": "1",
        "c_m_axi_mm2s_data_width": "64",
        "c_m_axis_mm2s_tdata_width": "64",
        "c_m_axi_s2mm_data_width": "64",
        "c_s_axis_s2mm_tdata_width": "64",
        "c_mm2s_burst_size": "64",
        "c_s2mm_burst_size": "64",
    }
    ps = {
        "PCW_USE_M_AXI_GP0": "1",
        "PCW_USE_S_AXI_HP0": "1",
        "PCW_S_AXI_HP0_DATA_WIDTH": "64",
        "PCW_EN_CLK0_PORT": "1",
        "PCW_EN_RST0_PORT": "1",
        "PCW_FPGA0_PERIPHERAL_FREQMHZ": f"{fclk_mhz:g}",
    }
    return _TCL.format(
        part=PART,
        board_part=BOARD_PART,
        bd=BD_NAME,
        base=base_name,
        fclk=f"{fclk_mhz:g}",
        jobs=jobs,
        ps=PS_NAME,
        dma=DMA_NAME,
        regs=REGS_NAME,
        module=WRAPPER_MODULE,
        batch=BATCH_MODULE,
        fallback=_tcl_dict(PS7_FALLBACK_PRESET),
        ps_config=_tcl_dict(ps),
        dma_config=_tcl_dict(dma),
    )


_TCL = r"""# Generated by hean_hw.shell_pynq: HL2 feature engine on the PYNQ-Z2 (Zynq-7020).
#
#   vivado -mode batch -source build_pynq_z2.tcl [-tclargs OUT_DIR]
#
# Block design "{bd}": {ps} (FCLK_CLK0 {fclk} MHz; M_AXI_GP0 for the AXI-Lite
# registers, S_AXI_HP0 for the DMA's memory traffic), {dma} (simple mode, 64-bit
# MM2S and S2MM streams), the HL2 core as module reference {regs} (module {module}).
# Writes OUT_DIR/{base}.bit and OUT_DIR/{base}.hwh (OUT_DIR defaults to ./out) and the
# utilization and timing reports into ./reports. Needs Vivado 2022.1 or newer; the
# PYNQ-Z2 board files are optional.

set here [file normalize [file dirname [info script]]]
if {{$argc > 0}} {{
  set out_dir [file normalize [lindex $argv 0]]
}} else {{
  set out_dir [file join $here out]
}}
set report_dir [file join $here reports]
set proj_dir [file join $here vivado]
set bd_name {bd}
set base_name {base}
set jobs {jobs}
file mkdir $out_dir $report_dir

if {{[scan [version -short] %d major] == 1 && $major < 2022}} {{
  puts "WARNING: this script was written for Vivado 2022.1 or newer (this is [version -short])"
}}

# Latest version of a Xilinx IP in this Vivado.
proc ipdef {{name}} {{
  set defs [lsort -dictionary [get_ipdefs -all xilinx.com:ip:${{name}}:*]]
  if {{[llength $defs] == 0}} {{ error "IP xilinx.com:ip:${{name}} not found in this Vivado" }}
  return [lindex $defs end]
}}

# --- project -----------------------------------------------------------------------
create_project -force hl2_pynq $proj_dir -part {part}
set have_board [expr {{[llength [get_board_parts -quiet {board_part}]] > 0}}]
if {{$have_board}} {{
  set_property board_part {board_part} [current_project]
  puts "INFO: using the PYNQ-Z2 board files ({board_part})"
}} else {{
  puts "INFO: PYNQ-Z2 board files not installed; applying the PS7 settings by properties"
}}
add_files -norecurse [list [file join $here hl2_top.v] [file join $here {batch}.v] \
  [file join $here {module}.v]]
update_compile_order -fileset sources_1

# --- block design ------------------------------------------------------------------
create_bd_design $bd_name
set ps [create_bd_cell -type ip -vlnv [ipdef processing_system7] {ps}]
if {{$have_board}} {{
  apply_bd_automation -rule xilinx.com:bd_rule:processing_system7 \
    -config {{make_external "FIXED_IO, DDR" apply_board_preset "1" \
              Master "Disable" Slave "Disable"}} $ps
}} else {{
  set_property -dict [list \
    {fallback}] $ps
  apply_bd_automation -rule xilinx.com:bd_rule:processing_system7 \
    -config {{make_external "FIXED_IO, DDR" apply_board_preset "0" \
              Master "Disable" Slave "Disable"}} $ps
}}
set_property -dict [list \
    {ps_config}] $ps
set fclk_actual [get_property CONFIG.PCW_ACT_FPGA0_PERIPHERAL_FREQMHZ $ps]
puts "INFO: FCLK_CLK0 requested {fclk} MHz, the PS gives $fclk_actual MHz"

set rst [create_bd_cell -type ip -vlnv [ipdef proc_sys_reset] proc_sys_reset_0]
set dma [create_bd_cell -type ip -vlnv [ipdef axi_dma] {dma}]
set_property -dict [list \
    {dma_config}] $dma
set core [create_bd_cell -type module -reference {module} {regs}]
set ctrl [create_bd_cell -type ip -vlnv [ipdef smartconnect] smartconnect_ctrl]
set_property -dict [list CONFIG.NUM_SI {{1}} CONFIG.NUM_MI {{2}}] $ctrl
set mem [create_bd_cell -type ip -vlnv [ipdef smartconnect] smartconnect_mem]
set_property -dict [list CONFIG.NUM_SI {{2}} CONFIG.NUM_MI {{1}}] $mem

# control: PS -> registers of the DMA and of the core
connect_bd_intf_net [get_bd_intf_pins {ps}/M_AXI_GP0] [get_bd_intf_pins smartconnect_ctrl/S00_AXI]
connect_bd_intf_net [get_bd_intf_pins smartconnect_ctrl/M00_AXI] [get_bd_intf_pins {dma}/S_AXI_LITE]
connect_bd_intf_net [get_bd_intf_pins smartconnect_ctrl/M01_AXI] [get_bd_intf_pins {regs}/s_axil]
# data: DDR -> MM2S -> core -> S2MM -> DDR
connect_bd_intf_net [get_bd_intf_pins {dma}/M_AXIS_MM2S] [get_bd_intf_pins {regs}/s_axis]
connect_bd_intf_net [get_bd_intf_pins {regs}/m_axis] [get_bd_intf_pins {dma}/S_AXIS_S2MM]
connect_bd_intf_net [get_bd_intf_pins {dma}/M_AXI_MM2S] [get_bd_intf_pins smartconnect_mem/S00_AXI]
connect_bd_intf_net [get_bd_intf_pins {dma}/M_AXI_S2MM] [get_bd_intf_pins smartconnect_mem/S01_AXI]
connect_bd_intf_net [get_bd_intf_pins smartconnect_mem/M00_AXI] [get_bd_intf_pins {ps}/S_AXI_HP0]

# one clock (FCLK_CLK0) for everything, resets from proc_sys_reset_0
set fclk [get_bd_pins {ps}/FCLK_CLK0]
foreach cell [list $ps $rst $dma $core $ctrl $mem] {{
  foreach pin [get_bd_pins -quiet -of_objects $cell -filter {{DIR == I && TYPE == clk}}] {{
    connect_bd_net $fclk $pin
  }}
}}
connect_bd_net [get_bd_pins {ps}/FCLK_RESET0_N] [get_bd_pins proc_sys_reset_0/ext_reset_in]
connect_bd_net [get_bd_pins proc_sys_reset_0/interconnect_aresetn] \
  [get_bd_pins smartconnect_ctrl/aresetn] [get_bd_pins smartconnect_mem/aresetn]
connect_bd_net [get_bd_pins proc_sys_reset_0/peripheral_aresetn] \
  [get_bd_pins {dma}/axi_resetn] [get_bd_pins {regs}/aresetn]

assign_bd_address
validate_bd_design
save_bd_design

# --- synthesis, implementation, bitstream ------------------------------------------
set bd_file [get_files ${{bd_name}}.bd]
generate_target all $bd_file
set wrapper [make_wrapper -files $bd_file -top]
add_files -norecurse $wrapper
set_property top ${{bd_name}}_wrapper [current_fileset]
update_compile_order -fileset sources_1

launch_runs synth_1 -jobs $jobs
wait_on_run synth_1
if {{[get_property PROGRESS [get_runs synth_1]] != "100%"}} {{
  error "synthesis failed; see [get_property DIRECTORY [get_runs synth_1]]/runme.log"
}}
launch_runs impl_1 -to_step write_bitstream -jobs $jobs
wait_on_run impl_1
if {{[get_property PROGRESS [get_runs impl_1]] != "100%"}} {{
  error "implementation failed; see [get_property DIRECTORY [get_runs impl_1]]/runme.log"
}}

# --- reports -----------------------------------------------------------------------
open_run impl_1
report_utilization -file [file join $report_dir utilization.rpt]
report_utilization -hierarchical -file [file join $report_dir utilization_hier.rpt]
report_timing_summary -max_paths 10 -file [file join $report_dir timing_summary.rpt]
set worst [get_timing_paths -delay_type max -max_paths 1 -nworst 1]
set wns [get_property SLACK $worst]
set period [get_property PERIOD [get_clocks clk_fpga_0]]
set fh [open [file join $report_dir results.txt] w]
puts $fh "wns_ns $wns"
puts $fh "period_ns $period"
puts $fh "fclk_mhz $fclk_actual"
puts $fh "vivado [version -short]"
close $fh
if {{$wns < 0}} {{
  puts "WARNING: timing not met at $fclk_actual MHz (WNS $wns ns); the bitstream is written anyway"
}}

# --- artifacts: the .hwh must have the .bit's base name for pynq.Overlay -----------
set bit [file join [get_property DIRECTORY [get_runs impl_1]] ${{bd_name}}_wrapper.bit]
set hwh [lindex [glob -nocomplain \
  [file join $proj_dir hl2_pynq.gen sources_1 bd $bd_name hw_handoff ${{bd_name}}.hwh] \
  [file join $proj_dir hl2_pynq.srcs sources_1 bd $bd_name hw_handoff ${{bd_name}}.hwh]] 0]
if {{![file exists $bit] || $hwh eq ""}} {{
  error "no bitstream ($bit) or no hardware handoff (.hwh) under $proj_dir"
}}
file copy -force $bit [file join $out_dir ${{base_name}}.bit]
file copy -force $hwh [file join $out_dir ${{base_name}}.hwh]
puts "INFO: wrote [file join $out_dir ${{base_name}}.bit] and ${{base_name}}.hwh"
"""


# --- files -----------------------------------------------------------------------------


def write_project(
    params: Params,
    d: Path,
    *,
    build_id: int,
    tag: str,
    fclk_mhz: float = DEFAULT_FCLK_MHZ,
    jobs: int = 2,
) -> dict:
    """Write ``hl2_top.v`` (+ ``.meta.json``), the wrapper and :data:`SCRIPT` into ``d``.

    Parameters
    ----------
    params : Params
        Build parameters of the core.
    d : Path
        The build directory (created).
    build_id : int
        Reported by the register block at 0x08.
    tag : str
        ``K32_N4``...: names the artifacts (``pynq-z2_<tag>.bit``/``.hwh``).
    fclk_mhz : float
        FCLK_CLK0, the one clock of the design.
    jobs : int
        Vivado's ``launch_runs -jobs``.

    Returns
    -------
    dict
        The Verilog's metadata (see :func:`hean_hw.build.write_verilog`) with ``script``
        and ``wrapper`` paths added.
    """
    from hean_hw import reports as rp
    from hean_hw.build import write_verilog

    d.mkdir(parents=True, exist_ok=True)
    meta = write_verilog(params, d / "hl2_top.v", build_id=build_id)
    rp.write_atomic(d / f"{BATCH_MODULE}.v", batch_verilog())
    wrapper = d / f"{WRAPPER_MODULE}.v"
    rp.write_atomic(wrapper, wrapper_verilog())
    script = d / SCRIPT
    rp.write_atomic(script, project_tcl(artifact_base(tag), fclk_mhz=fclk_mhz, jobs=jobs))
    return {**meta, "script": script, "wrapper": wrapper}


# --- Vivado's reports ------------------------------------------------------------------

#: Manifest resource -> the rows of ``report_utilization`` that hold it (7-series names
#: first, UltraScale after).
UTILIZATION_ROWS = {
    "LUT": ("Slice LUTs", "CLB LUTs"),
    "FF": ("Slice Registers", "CLB Registers"),
    "BRAM36": ("Block RAM Tile",),
    "DSP": ("DSPs",),
    "URAM": ("URAM",),
}


def _number(text: str) -> float | None:
    try:
        value = float(text.replace(",", ""))
    except ValueError:
        return None
    return int(value) if value.is_integer() else value


def parse_utilization(text: str) -> dict[str, dict]:
    """``{resource: {used, available, percent}}`` from a ``report_utilization`` file.

    The columns are found by their headers (``Used``, ``Available``), since Vivado
    versions differ in the columns between (``Fixed``, ``Prohibited``).
    """
    from hean_hw import reports as rp

    used_col = avail_col = None
    found: dict[str, dict] = {}
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if "Used" in cells and "Available" in cells:
            used_col, avail_col = cells.index("Used"), cells.index("Available")
            continue
        if used_col is None or len(cells) <= max(used_col, avail_col):
            continue
        for name, rows in UTILIZATION_ROWS.items():
            if name not in found and cells[0] in rows:
                used, avail = _number(cells[used_col]), _number(cells[avail_col])
                if used is not None and avail:
                    found[name] = rp.resource(used, int(avail))
    return found


def parse_results(text: str) -> dict[str, str]:
    """The ``key value`` lines the script writes to ``reports/results.txt``."""
    out = {}
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        if key:
            out[key] = value.strip()
    return out


def timing(results: dict[str, str]) -> dict:
    """``fmax_mhz``, ``target_mhz``, ``timing_met`` and ``wns_ns`` from :func:`parse_results`.

    Fmax is ``1000 / (period - WNS)``: the clock the worst path would just meet.
    """
    wns, period = _number(results.get("wns_ns", "")), _number(results.get("period_ns", ""))
    target = _number(results.get("fclk_mhz", ""))
    if target is None and period:
        target = round(1000.0 / period, 3)
    fmax = None
    if wns is not None and period and period - wns > 0:
        fmax = round(1000.0 / (period - wns), 2)
    return {
        "fmax_mhz": fmax,
        "target_mhz": target,
        "timing_met": None if wns is None else wns >= 0,
        "wns_ns": wns,
    }


def module_ports(verilog: str, module: str) -> list[str]:
    """Names of a module's ports in ANSI-style Verilog (for the tests and kernel.xml)."""
    found = re.search(rf"\bmodule\s+{re.escape(module)}\s*\((.*?)\);", verilog, re.S)
    if not found:
        raise ValueError(f"module {module} not found")
    body = re.sub(r"\(\*.*?\*\)", "", found.group(1), flags=re.S)
    names = re.findall(
        r"\b(?:input|output|inout)\s+(?:wire\s+|reg\s+)?(?:\[[^\]]*\]\s*)?(\w+)", body
    )
    return names
