"""The core's output FIFO: records in block RAM, read straight off the RAM's data port."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out


class RecordFifo(wiring.Component):
    """A first-word-fall-through FIFO of ``width``-bit words whose read data is the RAM's.

    A FIFO with an output register (``SyncFIFOBuffered``) loads that register when it is
    read, so the read enable drives the clock enable of every data bit: a net of a
    thousand loads for a 1024-bit record, which was the K=16 core's critical path. Here
    the RAM is read on every clock at the head's address, and a read only moves the
    address (``r_en`` selects between two registered pointers, in front of the RAM's own
    address register), so the read enable drives a handful of address bits and nothing
    wide. ``r_data`` holds still while the FIFO is not read.

    ``r_rdy`` is a register, decided a clock ahead for both outcomes of the read.

    Parameters
    ----------
    width : int
        Bits per word.
    depth : int
        Words it must hold (the RAM holds the next power of two).

    Attributes
    ----------
    latency : int
        Clocks from the edge that writes a word into an empty FIFO to the edge where it
        can be read (2, as ``SyncFIFOBuffered``).

    Ports
    -----
    w_en : In(1); w_data : In(width); w_rdy : Out(1)
        Write side. ``w_rdy`` is low while full; a write then is ignored.
    r_en : In(1); r_data : Out(width); r_rdy : Out(1)
        Read side. A word is taken on an edge with ``r_en & r_rdy``.
    """

    latency = 2

    def __init__(self, width: int, depth: int) -> None:
        if width < 1:
            raise ValueError(f"width must be >= 1, got {width}")
        if depth < 2:
            raise ValueError(f"depth must be >= 2, got {depth}")
        self.width = width
        self.depth = 1 << (depth - 1).bit_length()  # whole pointers wrap by themselves
        super().__init__(
            {
                "w_en": In(1),
                "w_data": In(width),
                "w_rdy": Out(1),
                "r_en": In(1),
                "r_data": Out(width),
                "r_rdy": Out(1),
            }
        )

    def elaborate(self, platform: object) -> Module:
        m = Module()
        bits = (self.depth - 1).bit_length()
        m.submodules.storage = mem = Memory(shape=self.width, depth=self.depth, init=[])
        wr = mem.write_port()
        rd = mem.read_port(transparent_for=())

        # pointers with one wrap bit, so that full and empty differ
        wp = Signal(bits + 1)
        rp = Signal(bits + 1)
        rp_inc = Signal(bits + 1, init=1)  # rp + 1, kept so no adder follows ``r_en``
        take = Signal()
        written = Signal()
        m.d.comb += [
            self.w_rdy.eq((wp - rp)[: bits + 1] != self.depth),
            written.eq(self.w_en & self.w_rdy),
            take.eq(self.r_en & self.r_rdy),
            wr.en.eq(written),
            wr.addr.eq(wp[:bits]),
            wr.data.eq(self.w_data),
            # the head's address goes into the RAM every clock: during a clock, the RAM
            # outputs the word at the head of that clock's start
            rd.addr.eq(Mux(take, rp_inc[:bits], rp[:bits])),
            self.r_data.eq(rd.data),
        ]
        with m.If(written):
            m.d.sync += wp.eq(wp + 1)
        with m.If(take):
            m.d.sync += [rp.eq(rp_inc), rp_inc.eq(rp_inc + 1)]
        # the next head is readable once it was written on an edge before the one that
        # reads it: ``wp`` as it is now counts exactly those writes
        m.d.sync += self.r_rdy.eq(Mux(take, rp_inc != wp, rp != wp))
        return m


__all__ = ["RecordFifo"]
