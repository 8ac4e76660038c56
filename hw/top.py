"""The HL2 feature engine as an FPGA top level: AXI-Stream in and out, AXI4-Lite registers.

::

    s_axis (64-bit) -> MsgWiden -> FeatureCore (its output FIFO: LaneFifo) -> m_axis (64-bit)
                                       |
                              counters, cycle counter -> RegisterBlock <-> s_axil

The top has only the three bus interfaces as ports (about 230 bits plus clock and reset),
so it fits the I/O of an FPGA package when built on its own, and inside a Zynq design
Vivado infers ``s_axis``, ``m_axis`` and ``s_axil`` as interfaces from the port names.

Throughput: a message is 4 input beats and a record 16 output beats, so a saturated
output bus carries one record every 16 clocks; the core's one message per clock is
headroom, not the limit, at a 64-bit output width.
"""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from hean.wire import Params
from hean_hw.axis_in import MsgWiden
from hean_hw.core import COUNTERS, FeatureCore
from hean_hw.rec_lanes import LaneFifo
from hean_hw.regs import RegisterBlock

#: Beats per record on ``m_axis`` (64-bit beats).
OUT_BEATS = 16


class HL2Top(wiring.Component):
    """MsgWiden -> FeatureCore with 64-bit beats out, and a RegisterBlock on its counters.

    Parameters
    ----------
    params : Params
        Build parameters of the core (also reported by the registers).
    build_id : int
        32-bit build identifier reported at register 0x08.
    fifo_depth, steps_per_stage : int
        Passed to :class:`~hean_hw.core.FeatureCore`.

    Attributes
    ----------
    latency : int
        Clocks from the edge that accepts the last input beat of a message to the edge
        that sends the first output beat of its record, with the output idle and ready:
        ``MsgWiden.latency + core.latency + LaneFifo.latency`` (with ``core.latency``
        counted from the core accepting the message to its record being written into the
        core's output FIFO). Also readable at register 0x24.

    Ports
    -----
    s_axis_* : AXI-Stream slave, 64-bit (``tdata``, ``tvalid``, ``tready``, ``tlast``)
        HL2 messages, 4 beats each, many per transfer.
    m_axis_* : AXI-Stream master, 64-bit
        Feature records, 16 beats each, ``tlast`` on every record's last beat.
    s_axil_* : AXI4-Lite slave, 8-bit address, 32-bit data
        The read-only register block (see :mod:`hean_hw.regs`).
    """

    def __init__(
        self,
        params: Params,
        *,
        build_id: int = 0,
        fifo_depth: int = 64,
        steps_per_stage: int = 1,
    ) -> None:
        self.params = params
        self.widen = MsgWiden(beats=4)
        self.core = FeatureCore(
            params, fifo_depth=fifo_depth, steps_per_stage=steps_per_stage, out_beats=OUT_BEATS
        )
        self.latency = self.widen.latency + self.core.latency + LaneFifo.latency
        self.regs = RegisterBlock(params, build_id=build_id, latency=self.latency)
        # the bus ports of the parts become the ports of the top, unchanged
        self._forwarded = [
            (part, name, member)
            for part, prefix in (
                (self.widen, "s_axis_"),
                (self.core, "m_axis_"),
                (self.regs, "s_axil_"),
            )
            for name, member in part.signature.members.items()
            if name.startswith(prefix)
        ]
        super().__init__({name: member for _, name, member in self._forwarded})

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.submodules.widen = widen = self.widen
        m.submodules.core = core = self.core
        m.submodules.regs = regs = self.regs

        for part, name, member in self._forwarded:
            inner, outer = getattr(part, name), getattr(self, name)
            m.d.comb += inner.eq(outer) if member.flow == In else outer.eq(inner)

        wiring.connect(m, widen.o_stream, core.i_stream)
        m.d.comb += [
            regs.i_cycles.eq(core.cycles),
            regs.i_framing_errors.eq(widen.o_framing_errors),
        ]
        m.d.comb += [getattr(regs, f"i_{name}").eq(getattr(core, name)) for name in COUNTERS]
        return m
