"""AXI-Stream master that sends each feature record as a burst of narrow beats."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hean_hw.layouts import REC_LAYOUT


class RecNarrow(wiring.Component):
    """One feature record in, ``beats`` AXI-Stream beats out.

    Beat 0 carries the record's lowest bytes (bytes 0..7 for 64-bit beats), so the beats
    land in memory as a ``REC_DTYPE`` array. ``TLAST`` marks the last beat of every record:
    each record is a packet of its own, and a DMA receive of any whole number of records
    ends on a record boundary.

    The record is not copied: each beat is taken from ``i_stream.payload`` (which a stream
    holds still until it is taken) into a 64-bit output register, and the record is
    taken, ``i_stream.ready``, as its last beat moves into that register. A record
    register would load all 1024 bits on one enable, a net of a thousand loads driven
    by ``m_axis_tready``. ``i_stream.ready`` depends on ``m_axis_tready`` through one
    gate; ``m_axis_tdata``, ``tvalid`` and ``tlast`` are registers.

    Parameters
    ----------
    beats : int
        Beats per record; the data bus is ``REC_LAYOUT.size // beats`` bits wide.

    Attributes
    ----------
    latency : int
        Clocks from the edge that moves a record's first beat from ``i_stream`` into the
        output register (the first edge the record is offered with the register free) to
        the edge that can send it.

    Ports
    -----
    i_stream : In(stream.Signature(REC_LAYOUT))
        Feature records.
    m_axis_tdata : Out(width); m_axis_tvalid, m_axis_tlast : Out(1); m_axis_tready : In(1)
        The AXI-Stream master (plain ports, named for Vivado's interface inference).
    """

    latency = 1

    def __init__(self, beats: int = 16) -> None:
        if beats < 1 or REC_LAYOUT.size % (8 * beats):
            raise ValueError(f"a {REC_LAYOUT.size}-bit record is not {beats} whole-byte beats")
        self.beats = beats
        self.width = REC_LAYOUT.size // beats
        super().__init__(
            {
                "i_stream": In(stream.Signature(REC_LAYOUT)),
                "m_axis_tdata": Out(self.width),
                "m_axis_tvalid": Out(1),
                "m_axis_tready": In(1),
                "m_axis_tlast": Out(1),
            }
        )

    def elaborate(self, platform: object) -> Module:
        m = Module()
        index = Signal(range(self.beats))  # the beat of the record that moves next
        at_last = Signal(init=self.beats == 1)  # index == beats - 1, as a register
        data, valid, last = Signal(self.width), Signal(), Signal()

        advance = Signal()  # the output register is free on this edge
        move = Signal()
        m.d.comb += [
            self.m_axis_tdata.eq(data),
            self.m_axis_tvalid.eq(valid),
            self.m_axis_tlast.eq(last),
            advance.eq(~valid | self.m_axis_tready),
            move.eq(advance & self.i_stream.valid),
            self.i_stream.ready.eq(advance & at_last),
        ]
        with m.If(move):
            m.d.sync += [
                data.eq(self.i_stream.payload.as_value().word_select(index, self.width)),
                valid.eq(1),
                last.eq(at_last),
            ]
            if self.beats > 1:
                m.d.sync += [
                    index.eq(Mux(at_last, 0, index + 1)),
                    at_last.eq(index == self.beats - 2),
                ]
        with m.Elif(advance):
            m.d.sync += valid.eq(0)
        return m
