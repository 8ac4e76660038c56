"""The top's output FIFO: records in, 64-bit AXI-Stream beats out, one RAM per beat lane."""

from __future__ import annotations

import math

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hean_hw.arith import pick


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
    * once its group's head has taken that beat the lane reads the next record's beat
      (the RAM read on one edge, the register on the next), so it is ready again within
      two clocks, long before the other ``beats - 1`` beats of the record have gone;
    * the lanes are dealt into up to four interleaved groups (lane ``j`` in group ``j %
      groups``), and each group's head register takes its lanes' beats in turn, a clock
      ahead of their turn on the bus;
    * the output register takes its beat from the heads through a one-hot AND-OR, so the
      RAMs' outputs never meet a multiplexer or ``m_axis_tready``, and no wire runs from
      every lane to the output register.

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
        idle and ready, to the edge that sends its first beat (5: the edges that read the
        RAM, load the lane register, the group head and the output register, then the
        one that sends).

    Ports
    -----
    w_en : In(1); w_data : In(width); w_rdy : Out(1)
        Write side. ``w_rdy`` is low while full; a write then is ignored.
    taken : Out(1)
        High for one clock, the clock after the edge that moved a record's last beat into
        the output register: the record's slot is free from the end of this clock on. A
        register, so that ``m_axis_tready`` reaches no count (``move`` into the
        record count and the "not full" compare was the K=16 N=1 top's slowest path at
        61e36cb, seed 3).
    m_axis_tdata : Out(width // beats); m_axis_tvalid, m_axis_tlast : Out(1)
    m_axis_tready : In(1)
        The AXI-Stream master; ``tdata``, ``tvalid`` and ``tlast`` are registers.
    """

    latency = 5

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

        # ---- the output register, the group heads, the beat it sends next ------------
        # The lanes sit beside their RAMs, spread over the die, so one multiplexer of all
        # ``beats`` lane registers into the output register put long wires and a
        # 16-way AND-OR into one clock (the K=16 top's slowest path at 49f26aa, 63.0 MHz).
        # Here the lanes are dealt into ``groups`` interleaved groups (lane j in group
        # j % groups), each with a head register that takes its lanes' beats in turn; the
        # output register chooses among the heads only. Consecutive beats come from
        # different groups, so a head has ``groups`` clocks to refill and its refill need
        # not wait for ``m_axis_tready`` (with one group it must, to keep a beat a clock).
        groups = math.gcd(n, 4)
        per = n // groups  # lanes per group
        sel = Signal(n, init=1)  # one-hot: the beat of the record that goes out next
        gsel = Signal(groups, init=1)  # one-hot: the group that beat comes from
        data, valid, last = Signal(w), Signal(), Signal()
        have = Signal(n)  # lane j's register holds a beat not yet taken by its group
        ghave = Signal(groups)  # group k's head holds a beat not yet sent
        took = Signal(n)  # lane j's beat goes to its group's head on this edge
        advance, move = Signal(), Signal()
        m.d.comb += [
            self.m_axis_tdata.eq(data),
            self.m_axis_tvalid.eq(valid),
            self.m_axis_tlast.eq(last),
            advance.eq(~valid | self.m_axis_tready),
            move.eq(advance & (gsel & ghave).any()),
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
            with m.Elif(took[j]):
                m.d.sync += have[j].eq(0)
            held.append(beat)

        heads = []
        for k in range(groups):
            lanes = range(k, n, groups)  # in the order the group sends them
            turn = Signal(per, init=1, name=f"turn{k}")  # one-hot: its lane that is next
            head = Signal(w, name=f"head{k}")
            fill = Signal(name=f"fill{k}")
            sent = move & gsel[k]
            empty = (~ghave[k] | sent) if groups == 1 else ~ghave[k]
            ready = Cat(*(have[j] for j in lanes))
            m.d.comb += fill.eq(empty & (turn & ready).any())
            with m.If(fill):
                # a one-hot AND-OR of the group's lane registers, from flip-flops
                m.d.sync += [head.eq(pick(list(turn), [held[j] for j in lanes])), ghave[k].eq(1)]
                if per > 1:
                    m.d.sync += turn.eq(Cat(turn[per - 1], turn[: per - 1]))
            with m.Elif(sent):
                m.d.sync += ghave[k].eq(0)
            m.d.comb += [took[j].eq(fill & turn[i]) for i, j in enumerate(lanes)]
            heads.append(head)

        m.d.sync += self.taken.eq(move & sel[n - 1])
        with m.If(move):
            # the output register: one of the heads
            m.d.sync += [data.eq(pick(list(gsel), heads)), valid.eq(1), last.eq(sel[n - 1])]
            if n > 1:
                m.d.sync += sel.eq(Cat(sel[n - 1], sel[: n - 1]))
            if groups > 1:
                m.d.sync += gsel.eq(Cat(gsel[groups - 1], gsel[: groups - 1]))
        with m.Elif(advance):
            m.d.sync += valid.eq(0)
        return m


__all__ = ["LaneFifo"]
