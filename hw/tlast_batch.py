"""TLAST per DMA transfer instead of per record, for the PYNQ-Z2 shell's S2MM channel.

``hl2_top`` marks the last beat of every record with TLAST. An AXI DMA in simple mode ends
an S2MM transfer at the first TLAST, so a driver that asks for the records of a whole
batch in one transfer would get one record. The core emits exactly one record per whole
message, in order, so the records of an input transfer are known by count: this block
counts the whole messages of each MM2S transfer (as :class:`~hean_hw.axis_in.MsgWiden`
frames them: a message is complete on its 4th beat, a TLAST before that discards the
partial message), queues the counts, and passes the core's TLAST through only on the
last record of each transfer.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out


class TlastBatch(wiring.Component):
    """Regroups the output TLAST of the HL2 top by input transfer.

    Parameters
    ----------
    beats : int
        Input beats per message (4 for 64-bit beats).
    depth : int
        Input transfers whose records may be outstanding; the input waits (``in_ready``
        low) while this many are.

    Ports
    -----
    in_valid, in_last : In(1)
        The input stream's TVALID and TLAST (the data goes to the core directly).
    in_ready : Out(1)
        TREADY to the source: the core's ``core_in_ready`` unless the count queue is full.
    core_in_valid : Out(1)
        TVALID to the core (held back with ``in_ready``).
    core_in_ready : In(1)
        The core's TREADY.
    out_valid, out_ready, core_out_last : In(1)
        The output handshake and the core's per-record TLAST.
    out_last : Out(1)
        TLAST on the last beat of the last record of each input transfer.
    """

    def __init__(self, *, beats: int = 4, depth: int = 8) -> None:
        self.beats = beats
        self.depth = depth
        super().__init__(
            {
                "in_valid": In(1),
                "in_last": In(1),
                "in_ready": Out(1),
                "core_in_valid": Out(1),
                "core_in_ready": In(1),
                "out_valid": In(1),
                "out_ready": In(1),
                "core_out_last": In(1),
                "out_last": Out(1),
            }
        )

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.submodules.counts = counts = SyncFIFO(width=32, depth=self.depth)

        # --- input: whole messages per transfer ---------------------------------------
        index = Signal(range(self.beats))
        whole = Signal(32)  # whole messages of the transfer so far
        take = Signal()
        complete = Signal()
        total = Signal(32)
        m.d.comb += [
            self.in_ready.eq(self.core_in_ready & counts.w_rdy),
            self.core_in_valid.eq(self.in_valid & counts.w_rdy),
            take.eq(self.in_valid & self.in_ready),
            complete.eq(take & (index == self.beats - 1)),
            total.eq(whole + complete),
            counts.w_data.eq(total),
            # a transfer without a whole message has no record to end
            counts.w_en.eq(take & self.in_last & (total != 0)),
        ]
        with m.If(take):
            with m.If(self.in_last | (index == self.beats - 1)):
                m.d.sync += index.eq(0)
            with m.Else():
                m.d.sync += index.eq(index + 1)
            with m.If(self.in_last):
                m.d.sync += whole.eq(0)
            with m.Elif(complete):
                m.d.sync += whole.eq(whole + 1)

        # --- output: records of the transfer at the head of the queue -----------------
        records = Signal(32)  # records of that transfer sent so far
        record_end = Signal()
        m.d.comb += [
            self.out_last.eq(self.core_out_last & counts.r_rdy & (records + 1 == counts.r_data)),
            record_end.eq(self.out_valid & self.out_ready & self.core_out_last),
            counts.r_en.eq(record_end & self.out_last),
        ]
        with m.If(record_end):
            with m.If(self.out_last):
                m.d.sync += records.eq(0)
            with m.Else():
                m.d.sync += records.eq(records + 1)
        return m
