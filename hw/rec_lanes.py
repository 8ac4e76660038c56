"""The top's output FIFO: records in, 64-bit AXI-Stream beats out, one RAM per beat lane."""

from __future__ import annotations

import functools
import operator

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out


class LaneFifo(wiring.Component):
    """A FIFO of ``width``-bit records that sends each one as ``beats`` AXI-Stream beats.

    A record FIFO followed by a beat multiplexer puts the RAM's data output (about 6 ns
    from the clock on an ECP5 block RAM), the wires to a 16-way multiplexer and the
    multiplexer itself into one clock: the K=16 top's critical path at 63.7 MHz. Here
    the record is stored as ``beats`` lanes, one RAM each, and every lane fetches its own
    next beat, on its own read address, while the other lanes' beats are being sent:

    * lane ``j`` holds one beat, beat ``j`` of the next record it has not sent, in a
      register that copies the RAM's output on every clock (no enable, so nothing but
      the RAM drives it; the RAM holds its output while not read);
    * once that beat is sent the lane reads the next record's beat (the RAM read on one
      edge, the register on the next), so it is ready again within two clocks, long
      before the other ``beats - 1`` beats of the record have gone;
    * the output register takes its beat from the lane registers through a one-hot
      AND-OR, so the RAMs' outputs never meet the multiplexer or ``m_axis_tready``.

    Beat 0 carries the record's lowest bytes, so the beats land in memory as the record
    array. ``TLAST`` marks every record's last beat.

    Parameters
    ----------
    width : int
        Bits per record (a whole number of bytes per beat).
    depth : int
        Records it must hold (each RAM holds the next power of two).
    beats : int
        Beats per record; ``m_axis_tdata`` is ``width // beats`` bits.

    Attributes
    ----------
    latency : int
        Clocks from the edge that writes a record into an empty FIFO, with the output
        idle and ready, to the edge that sends its first beat (4: the edges that read the
        RAM, load the lane register and load the output register, then the one that
        sends).

    Ports
    -----
    w_en : In(1); w_data : In(width); w_rdy : Out(1)
        Write side. ``w_rdy`` is low while full; a write then is ignored.
    taken : Out(1)
        High on the clock whose edge moves a record's last beat into the output register:
        the record's slot is free from that edge on.
    m_axis_tdata : Out(width // beats); m_axis_tvalid, m_axis_tlast : Out(1)
    m_axis_tready : In(1)
        The AXI-Stream master; ``tdata``, ``tvalid`` and ``tlast`` are registers.
    """

    latency = 4

    def __init__(self, width: int, depth: int, beats: int = 16) -> None:
        if beats < 1 or width % (8 * beats):
            raise ValueError(f"a {width}-bit record is not {beats} whole-byte beats")
        if depth < 2:
            raise ValueError(f"depth must be >= 2, got {depth}")
        self.width = width
        self.beats = beats
        self.lane = width // beats
        self.depth = 1 << (depth - 1).bit_length()  # whole pointers wrap by themselves
        super().__init__(
            {
                "w_en": In(1),
                "w_data": In(width),
                "w_rdy": Out(1),
                "taken": Out(1),
                "m_axis_tdata": Out(self.lane),
                "m_axis_tvalid": Out(1),
                "m_axis_tready": In(1),
                "m_axis_tlast": Out(1),
            }
        )

    def elaborate(self, platform: object) -> Module:
        m = Module()
        bits = (self.depth - 1).bit_length()
        n, w = self.beats, self.lane

        # the write pointer with one wrap bit, so that a lane's pointer equals it only
        # when the lane has read every record written
        wp = Signal(bits + 1)  # records written
        written = Signal()
        # "not full" as a register of its own, stepped with the record count: a write
        # enable computed from the pointers (w_en & (wp - sent) != depth) put a
        # subtraction and a compare in front of every lane RAM's write enable (the top's
        # slowest path at ab25749)
        count = Signal(bits + 1)  # records held: written and not yet wholly sent
        room = Signal(init=1)
        m.d.comb += [
            self.w_rdy.eq(room),
            written.eq(self.w_en & room),
        ]
        after = Signal(bits + 2)
        m.d.comb += after.eq(count + written - self.taken)
        m.d.sync += [count.eq(after), room.eq(after != self.depth)]
        with m.If(written):
            m.d.sync += wp.eq(wp + 1)

        # ---- the output register and the beat it sends next ------------------------
        sel = Signal(n, init=1)  # one-hot: the lane whose beat goes out next
        data, valid, last = Signal(w), Signal(), Signal()
        have = Signal(n)  # lane j's register holds a beat not yet sent
        advance, move = Signal(), Signal()
        m.d.comb += [
            self.m_axis_tdata.eq(data),
            self.m_axis_tvalid.eq(valid),
            self.m_axis_tlast.eq(last),
            advance.eq(~valid | self.m_axis_tready),
            move.eq(advance & (sel & have).any()),
            self.taken.eq(move & sel[n - 1]),
        ]

        held = []
        for j in range(n):
            # no_rw_check: a lane never reads the slot being written (it reads only
            # records already written, and a write waits while the FIFO is full, so the
            # two addresses differ), so Yosys need not emulate what such a read returns.
            # Its emulation (the write address and data registered, an address compare
            # and a choice after the RAM, one LUT per bit) sat on the top's slowest path
            storage = Memory(shape=w, depth=self.depth, init=[], attrs={"no_rw_check": 1})
            m.submodules[f"lane{j}"] = storage
            wr = storage.write_port()
            rd = storage.read_port(transparent_for=())
            ptr = Signal(bits + 1, name=f"ptr{j}")  # the next record this lane reads
            fetching = Signal(name=f"fetching{j}")  # read on the last edge, not yet held
            fetch = Signal(name=f"fetch{j}")
            beat = Signal(w, name=f"beat{j}")
            m.d.comb += [
                wr.en.eq(written),
                wr.addr.eq(wp[:bits]),
                wr.data.eq(self.w_data[j * w : (j + 1) * w]),
                # a lane with nothing held or coming reads as soon as a record is there
                fetch.eq(~have[j] & ~fetching & (ptr != wp)),
                rd.en.eq(fetch),
                rd.addr.eq(ptr[:bits]),
            ]
            m.d.sync += [beat.eq(rd.data), fetching.eq(fetch)]
            with m.If(fetch):
                m.d.sync += ptr.eq(ptr + 1)
            with m.If(fetching):
                m.d.sync += have[j].eq(1)
            with m.Elif(move & sel[j]):
                m.d.sync += have[j].eq(0)
            held.append(beat)

        # one-hot AND-OR of the lane registers: a few LUT levels per bit, from flip-flops
        pick = functools.reduce(
            operator.or_, (beat & sel[j].replicate(w) for j, beat in enumerate(held))
        )
        with m.If(move):
            m.d.sync += [data.eq(pick), valid.eq(1), last.eq(sel[n - 1])]
            if n > 1:
                m.d.sync += sel.eq(Cat(sel[n - 1], sel[: n - 1]))
        with m.Elif(advance):
            m.d.sync += valid.eq(0)
        return m


__all__ = ["LaneFifo"]
