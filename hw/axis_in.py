"""AXI-Stream slave that gathers narrow DMA beats into whole HL2 messages."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hean_hw.layouts import MSG_LAYOUT


class MsgWiden(wiring.Component):
    """``beats`` AXI-Stream beats in, one HL2 message out.

    Beat 0 of a message carries its lowest bytes (bytes 0..7 for 64-bit beats) and the
    last beat its highest, matching the little-endian byte order of a message in memory,
    so a DMA of an ``MSG_DTYPE`` array needs no reordering.

    ``TLAST`` ends a DMA transfer, which may carry many messages. When it arrives on any
    beat but the last of a message, the transfer ended mid-message: the partial message
    is discarded, ``o_framing_errors`` counts it and the next beat starts a new message.

    Timing: ``s_axis_tready`` is a function of two registers only (the beat index and
    the output register's valid), never of ``o_stream.ready``, and each 64-bit lane of the
    output register loads on an enable of its own, one LUT of ``s_axis_tvalid`` and the
    lane's own copies of the index and the valid bit. Beats before the last of
    a message are always accepted; the last one waits until the output register is free.
    The register empties the cycle after it fills when the consumer is ready, well before
    the next message can be complete, so the input runs without bubbles: one beat per
    clock and one message every ``beats`` clocks.

    Parameters
    ----------
    beats : int
        Beats per message; the data bus is ``MSG_LAYOUT.size // beats`` bits wide.

    Attributes
    ----------
    latency : int
        Clocks from the edge that accepts a message's last beat to the edge where the
        message can be taken from ``o_stream`` (the output register).

    Ports
    -----
    s_axis_tdata : In(width); s_axis_tvalid, s_axis_tlast : In(1); s_axis_tready : Out(1)
        The AXI-Stream slave (plain ports, named for Vivado's interface inference).
    o_stream : Out(stream.Signature(MSG_LAYOUT))
        Whole messages, in order.
    o_framing_errors : Out(32)
        Messages cut short by ``TLAST`` since reset (wraps).
    """

    latency = 1

    def __init__(self, beats: int = 4) -> None:
        if beats < 1 or MSG_LAYOUT.size % (8 * beats):
            raise ValueError(f"a {MSG_LAYOUT.size}-bit message is not {beats} whole-byte beats")
        self.beats = beats
        self.width = MSG_LAYOUT.size // beats
        super().__init__(
            {
                "s_axis_tdata": In(self.width),
                "s_axis_tvalid": In(1),
                "s_axis_tready": Out(1),
                "s_axis_tlast": In(1),
                "o_stream": Out(stream.Signature(MSG_LAYOUT)),
                "o_framing_errors": Out(32),
            }
        )

    def elaborate(self, platform: object) -> Module:
        m = Module()
        beats, last, width = self.beats, self.beats - 1, self.width
        # The beat index, one-hot, in ``beats`` copies: each 64-bit lane of the output
        # register loads on its own copy's "last beat" bit, so no single enable drives
        # all 256 bits. Each copy is a ring that feeds back on itself, so synthesis
        # cannot merge the copies into one (they are equal, but not structurally).
        rings = [Signal(beats, init=1, name=f"index_{k}") for k in range(beats)]
        # and "the output register is full", once per lane for the same reason (each copy
        # also feeds back on itself); lane k loads, and its copies step, on local bits
        full = [Signal(name=f"full_{k}") for k in range(beats)]
        at_last = rings[0][last]
        # beats 0 .. last-1 of the message being gathered; the last beat goes straight
        # into the output register, so it needs no slot here
        partial = [Signal(width, name=f"partial_{k}") for k in range(last)]
        lanes = [Signal(width, name=f"lane_{k}") for k in range(beats)]
        valid = self.s_axis_tvalid

        m.d.comb += [
            self.s_axis_tready.eq(~at_last | ~full[0]),
            self.o_stream.valid.eq(full[0]),
            self.o_stream.payload.eq(Cat(*lanes)),
        ]
        for k, (ring, ful) in enumerate(zip(rings, full, strict=True)):
            # this copy's "a beat is taken": tready from the copy's own bits. A beat at
            # the last index is taken only into an empty register, so a lane's enable is
            # one LUT of local bits and TVALID, not a chain through TREADY
            take = valid & (~ring[last] | ~ful)
            with m.If(self.o_stream.ready):
                m.d.sync += ful.eq(0)
            with m.If(valid & ring[last] & ~ful):
                # a whole message; TLAST here is the normal end of a transfer
                m.d.sync += [
                    ful.eq(1),
                    lanes[k].eq(partial[k] if k < last else self.s_axis_tdata),
                ]
            # the next beat's index: back to 0 after the last beat, or after TLAST
            # on an earlier beat (the partial message is dropped)
            with m.If(take):
                restart = ring[last] | self.s_axis_tlast
                m.d.sync += ring.eq(Mux(restart, 1, ring.rotate_left(1)))
            if k < last:
                # beat k is never the last, so it is always taken: lane k's copy decides
                with m.If(valid & ring[k] & ~self.s_axis_tlast):
                    m.d.sync += partial[k].eq(self.s_axis_tdata)
        if last:  # with one beat per message every beat is the last one
            with m.If(valid & ~at_last & self.s_axis_tlast):
                m.d.sync += self.o_framing_errors.eq(self.o_framing_errors + 1)
        return m
