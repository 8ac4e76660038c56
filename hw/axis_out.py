"""AXI-Stream master that sends each feature record as a burst of narrow beats."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hean_hw.layouts import REC_LAYOUT


class RecNarrow(wiring.Component):
    """One feature record in, ``beats`` AXI-Stream beats out.

    Beat 0 carries the record's lowest bytes (bytes 0..7 for 64-bit beats), so the beats
    land in memory as a ``REC_DTYPE`` array. ``TLAST`` marks the last beat of every record:
    each record is a packet of its own, and a DMA receive of any whole number of records
    ends on a record boundary.

    The record is held in one register and its beats are selected by index (a mux per
    data bit rather than a shifting register, which would need a load/shift mux per
    record bit). The next record is loaded on the edge that sends the last beat of the
    current one, so records follow each other without a bubble; the price is that
    ``i_stream.ready`` depends on ``m_axis_tready`` through one AND gate.

    Parameters
    ----------
    beats : int
        Beats per record; the data bus is ``REC_LAYOUT.size // beats`` bits wide.

    Attributes
    ----------
    latency : int
        Clocks from the edge that takes a record from ``i_stream`` to the edge that can
        send its first beat.

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
        record = Signal(REC_LAYOUT.size)
        index = Signal(range(self.beats))
        full = Signal()

        last = index == self.beats - 1
        sent = Signal()
        m.d.comb += [
            self.m_axis_tdata.eq(record.word_select(index, self.width)),
            self.m_axis_tvalid.eq(full),
            self.m_axis_tlast.eq(last),
            sent.eq(self.m_axis_tvalid & self.m_axis_tready),
            # empty, or the last beat leaves on this edge
            self.i_stream.ready.eq(~full | (sent & last)),
        ]

        with m.If(sent):
            with m.If(last):
                m.d.sync += [index.eq(0), full.eq(0)]
            with m.Else():
                m.d.sync += index.eq(index + 1)
        with m.If(self.i_stream.valid & self.i_stream.ready):
            m.d.sync += [record.eq(self.i_stream.payload), full.eq(1)]
        return m
