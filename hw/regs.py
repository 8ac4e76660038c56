"""Read-only AXI4-Lite register block: identity, build parameters and counters.

Register map (32-bit registers, byte addresses; the two low address bits are ignored):

======  ====================  ===========================================================
Offset  Name                  Contents
======  ====================  ===========================================================
0x00    ``magic``             0x484C3243, "HL2C" in ASCII (most significant byte first)
0x04    ``version``           register map / format version, 1
0x08    ``build_id``          the build id given at elaboration
0x0C    ``K``                 price levels per side
0x10    ``N``                 instruments
0x14    ``ofi_shift``         OFI decay shift
0x18    ``flow_shift``        trade-flow decay shift
0x1C    ``ice_min_refills``   iceberg refill threshold
0x20    ``ice_absorb_ratio``  iceberg absorbed-volume ratio
0x24    ``latency``           clocks from a message's last input beat to its record's first
                              output beat (``HL2Top.latency``)
0x40    ``cycles_lo/hi``      free-running cycle counter (0x44 high word)
0x48    ``msgs_in_lo/hi``     messages accepted by the core (0x4C high word)
0x50    ``recs_out_lo/hi``    records leaving the core (0x54 high word)
0x58    ``bad_lo/hi``         bad messages (0x5C high word)
0x60    ``gaps_lo/hi``        sequence gaps (0x64 high word)
0x68    ``dropped_lo/hi``     levels dropped from full books (0x6C high word)
0x70    ``framing_errors_lo/hi``  messages cut short by TLAST (0x74 high word)
======  ====================  ===========================================================

Every other address reads as 0 with SLVERR. Counters are 64 bits wide and read as a
low/high word pair: reading the low word latches the high word of the same counter, and
the high-word register returns that latched value (0 before the first low-word read). A
low-then-high read pair is therefore one consistent 64-bit sample even while the counter
runs; each counter has its own latch, so reads of different counters may interleave.

The block is read-only: every write is accepted and answered with SLVERR.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hean.wire import Params

MAGIC = 0x484C3243
VERSION = 1
OKAY = 0
SLVERR = 2
#: Counter inputs, in register order from ``COUNTER_BASE``.
COUNTERS = ("cycles", "msgs_in", "recs_out", "bad", "gaps", "dropped", "framing_errors")
COUNTER_BASE = 0x40
PARAM_NAMES = ("K", "N", "ofi_shift", "flow_shift", "ice_min_refills", "ice_absorb_ratio")

#: Register name -> byte offset; the map the gateware decodes and software reads.
REGISTERS: dict[str, int] = {
    "magic": 0x00,
    "version": 0x04,
    "build_id": 0x08,
    **{name: 0x0C + 4 * i for i, name in enumerate(PARAM_NAMES)},
    "latency": 0x24,
    **{
        f"{name}_{half}": COUNTER_BASE + 8 * i + 4 * j
        for i, name in enumerate(COUNTERS)
        for j, half in enumerate(("lo", "hi"))
    },
}


def constants(params: Params, build_id: int, latency: int) -> dict[str, int]:
    """The values of the constant registers of a build, by register name."""
    values = {"magic": MAGIC, "version": VERSION, "build_id": build_id, "latency": latency}
    return values | params.as_dict()


class RegisterBlock(wiring.Component):
    """Read-only AXI4-Lite slave serving the register map in the module docstring.

    Reads take two clocks: the address is accepted when no response is pending
    (``arready`` is ``~rvalid``), and the data is registered, so one read completes per
    two clocks at best; software polls these registers, it does not stream them.

    Parameters
    ----------
    params : Params
        The build parameters reported at 0x0C..0x20.
    build_id : int
        Reported at 0x08 (32 bits).
    latency : int
        Reported at 0x24.

    Ports
    -----
    s_axil_* : AXI4-Lite slave
        8-bit addresses, 32-bit data; no ``*prot`` signals (they would be ignored).
    i_cycles, i_msgs_in, i_recs_out, i_bad, i_gaps, i_dropped, i_framing_errors : In(64)
        The counters to report.
    """

    def __init__(self, params: Params, *, build_id: int = 0, latency: int = 0) -> None:
        if not 0 <= build_id < 1 << 32:
            raise ValueError(f"build_id {build_id:#x} does not fit in 32 bits")
        if not 0 <= latency < 1 << 32:
            raise ValueError(f"latency {latency} does not fit in 32 bits")
        self.values = constants(params, build_id, latency)
        ports = {
            "s_axil_awaddr": In(8),
            "s_axil_awvalid": In(1),
            "s_axil_awready": Out(1),
            "s_axil_wdata": In(32),
            "s_axil_wstrb": In(4),
            "s_axil_wvalid": In(1),
            "s_axil_wready": Out(1),
            "s_axil_bresp": Out(2),
            "s_axil_bvalid": Out(1),
            "s_axil_bready": In(1),
            "s_axil_araddr": In(8),
            "s_axil_arvalid": In(1),
            "s_axil_arready": Out(1),
            "s_axil_rdata": Out(32),
            "s_axil_rresp": Out(2),
            "s_axil_rvalid": Out(1),
            "s_axil_rready": In(1),
        }
        ports |= {f"i_{name}": In(64) for name in COUNTERS}
        super().__init__(ports)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        self._write_channel(m)

        # ---- read channel ------------------------------------------------------------
        ar = Signal()
        m.d.comb += [
            self.s_axil_arready.eq(~self.s_axil_rvalid),
            ar.eq(self.s_axil_arvalid & self.s_axil_arready),
        ]
        with m.If(self.s_axil_rvalid & self.s_axil_rready):
            m.d.sync += self.s_axil_rvalid.eq(0)

        latched = {name: Signal(32, name=f"{name}_hi_latch") for name in COUNTERS}
        with m.If(ar):
            m.d.sync += self.s_axil_rvalid.eq(1)
            with m.Switch(self.s_axil_araddr[2:]):
                for name, value in self.values.items():
                    with m.Case(REGISTERS[name] >> 2):
                        m.d.sync += [self.s_axil_rdata.eq(value), self.s_axil_rresp.eq(OKAY)]
                for name in COUNTERS:
                    count = getattr(self, f"i_{name}")
                    with m.Case(REGISTERS[f"{name}_lo"] >> 2):
                        m.d.sync += [
                            self.s_axil_rdata.eq(count[:32]),
                            self.s_axil_rresp.eq(OKAY),
                            latched[name].eq(count[32:]),
                        ]
                    with m.Case(REGISTERS[f"{name}_hi"] >> 2):
                        m.d.sync += [
                            self.s_axil_rdata.eq(latched[name]),
                            self.s_axil_rresp.eq(OKAY),
                        ]
                with m.Default():
                    m.d.sync += [self.s_axil_rdata.eq(0), self.s_axil_rresp.eq(SLVERR)]
        return m

    def _write_channel(self, m: Module) -> None:
        """Accept address and data (in either order), then answer SLVERR once per pair."""
        have_aw, have_w = Signal(), Signal()
        aw = self.s_axil_awvalid & self.s_axil_awready
        w = self.s_axil_wvalid & self.s_axil_wready
        m.d.comb += [
            self.s_axil_awready.eq(~have_aw & ~self.s_axil_bvalid),
            self.s_axil_wready.eq(~have_w & ~self.s_axil_bvalid),
            self.s_axil_bresp.eq(SLVERR),
        ]
        with m.If(aw):
            m.d.sync += have_aw.eq(1)
        with m.If(w):
            m.d.sync += have_w.eq(1)
        with m.If((have_aw | aw) & (have_w | w)):
            m.d.sync += [have_aw.eq(0), have_w.eq(0), self.s_axil_bvalid.eq(1)]
        with m.If(self.s_axil_bvalid & self.s_axil_bready):
            m.d.sync += self.s_axil_bvalid.eq(0)
