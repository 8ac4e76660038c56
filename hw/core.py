"""The HL2 feature core: one HL2 message per clock in, one feature record per clock out.

Pipeline (each stage one clock; every per-instrument state is read, updated and written
within one stage, so messages for the same instrument can follow each other on
consecutive clocks):

====  =====================================================================
S0    accept a message, stamp ``engine_t_in``, validate it
SV    the verdict registered (keeps validation off the book's critical path)
S1    book update (best levels before/after, levels, depth, drop), sequence
      and gap tracking, trade flow
S2    OFI and iceberg tracking (from S1's best levels); the record is
      assembled, bad messages of unknown instruments zeroed
S3..  the two imbalances through pipelined dividers, the record delayed
      alongside in a RAM ring buffer; at the end the record gets ``engine_t_out`` and enters the
      output FIFO
====  =====================================================================

Back-pressure: the pipeline never stalls. The input is ready only while the output FIFO
has room for every message already in flight, so a consumer that stops reading stops
the input after at most ``fifo_depth`` records and no record is ever lost.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, Value
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hean.wire import Params
from hean_hw.book import OP_CLEAR, SIDE_BOTH, Book
from hean_hw.depth import SideSum
from hean_hw.flow import Flow
from hean_hw.iceberg import Iceberg
from hean_hw.imbalance import Imbalance
from hean_hw.layouts import MSG_LAYOUT, REC_LAYOUT
from hean_hw.ofi import Ofi
from hean_hw.rec_fifo import RecordFifo
from hean_hw.rec_lanes import LaneFifo
from hean_hw.sequence import Sequence
from hean_hw.validate import Validate

EMPTY_ASK = 0xFFFFFFFF
COUNTERS = ("msgs_in", "recs_out", "bad", "gaps", "dropped")


def _delayed(m: Module, value: Value, clocks: int, name: str) -> Value:
    """``value`` through ``clocks`` registers."""
    for k in range(clocks):
        reg = Signal(len(value), name=f"{name}_d{k}")
        m.d.sync += reg.eq(value)
        value = reg
    return value


class _Rings:
    """Fixed delays in RAM for a pipeline that never stalls: ring buffers in LUT RAM.

    A wide value is split into slices of :attr:`SLICE` bits, each a ring with pointers
    of its own. One ring of the 1024-bit record puts 512 LUT-RAM cells on one write
    address, a net that took 16 ns to route in a K=16 N=1 top; in block RAM instead,
    the record's two 1024-bit buses into RAM columns (this ring and the output FIFO)
    left a K=16 N=1 top unroutable. A slice's pointers drive only its own 32 cells (the
    read pointer of a 128-bit slice, 64 cells, still took 10.9 ns in one K=16 N=1
    build). The slices' pointers step together but start at different places in their
    rings, so synthesis cannot merge them.
    """

    SLICE = 64

    def __init__(self, m: Module) -> None:
        self.m = m
        self.slices = 0

    def delay(self, name: str, value: Value, clocks: int) -> Value:
        """``value`` as it was ``clocks`` (>= 1) clocks ago."""
        m = self.m
        depth = 1 << clocks.bit_length()  # > clocks, a power of two so the pointers wrap
        parts = []
        for k, at in enumerate(range(0, len(value), self.SLICE)):
            part = value[at : at + self.SLICE]
            start = self.slices % depth
            self.slices += 1
            mem = Memory(shape=len(part), depth=depth, init=[])
            m.submodules[f"ring_{name}_{k}"] = mem
            wr, rd = mem.write_port(), mem.read_port()
            # the read is synchronous: the address goes in a clock early, ``clocks - 1``
            # behind the writes, so at clock t + clocks it yields what was written at
            # clock t. Both pointers are registers that step every clock, so no adder
            # sits in front of an address that fans out to the slice's cells.
            wp = Signal(range(depth), init=start, name=f"ring_{name}_{k}_wp")
            rp = Signal(
                range(depth), init=(start - (clocks - 1)) % depth, name=f"ring_{name}_{k}_rp"
            )
            m.d.sync += [wp.eq(wp + 1), rp.eq(rp + 1)]
            m.d.comb += [
                wr.en.eq(1),
                wr.addr.eq(wp),
                wr.data.eq(part),
                rd.addr.eq(rp),
            ]
            parts.append(rd.data)
        return Cat(*parts)


class FeatureCore(wiring.Component):
    """HL2 v1 feature engine in gateware.

    Parameters
    ----------
    params : Params
        Build parameters (K, N, shifts and iceberg thresholds), fixed at elaboration.
    fifo_depth : int
        Records the output FIFO holds (at least ``latency + 4``); the input stalls when it
        could overflow.
    steps_per_stage : int
        Divider steps per pipeline stage (trades latency against clock rate).
    out_beats : int or None
        None: records leave whole on ``o_stream``, one per clock, from a
        :class:`~hean_hw.rec_fifo.RecordFifo`. A number: they leave as that many
        AXI-Stream beats each on ``m_axis_*``, from a :class:`~hean_hw.rec_lanes.LaneFifo`
        (the FPGA top's output; the beats never pass through a 1024-bit bus).

    Attributes
    ----------
    latency : int
        Clocks from a message's acceptance (``engine_t_in``) to its record entering the
        output FIFO (``engine_t_out``) when the output is not back-pressured.

    Ports
    -----
    i_stream : In(stream.Signature(MSG_LAYOUT))
        HL2 messages, one per beat.
    o_stream : Out(stream.Signature(REC_LAYOUT))
        Feature records, one per message, in order (without ``out_beats``).
    m_axis_tdata, m_axis_tvalid, m_axis_tlast : Out; m_axis_tready : In(1)
        The same records as AXI-Stream beats, ``TLAST`` on each record's last one (with
        ``out_beats``).
    cycles : Out(64)
        The free-running cycle counter that stamps records.
    msgs_in, recs_out, bad, gaps, dropped : Out(64)
        Counters since reset.
    """

    def __init__(
        self,
        params: Params,
        *,
        fifo_depth: int = 64,
        steps_per_stage: int = 1,
        out_beats: int | None = None,
    ) -> None:
        self.params = params
        self.fifo_depth = fifo_depth
        self.depth_bits = 32 + SideSum.latency_for(params.K)  # the tree's sum width
        self.steps_per_stage = steps_per_stage
        self.divider_start = self.divider_start_for(params.K, steps_per_stage)
        self.latency = (
            2 + Book.latency + self.divider_start + Imbalance.latency_for(steps_per_stage)
        )
        # every message in flight has a reserved FIFO slot; fewer slots than the pipeline
        # holds would throttle the input below one message per clock
        if fifo_depth < self.latency + 4:
            raise ValueError(
                f"fifo_depth={fifo_depth} cannot sustain one message per clock with a "
                f"{self.latency}-clock pipeline; use at least {self.latency + 4}"
            )
        if out_beats is None:
            self.out_fifo: RecordFifo | LaneFifo = RecordFifo(REC_LAYOUT.size, fifo_depth)
        else:
            self.out_fifo = LaneFifo(REC_LAYOUT.size, fifo_depth, beats=out_beats)
        ports = {"i_stream": In(stream.Signature(MSG_LAYOUT)), "cycles": Out(64)}
        if isinstance(self.out_fifo, LaneFifo):
            ports |= {
                name: member
                for name, member in self.out_fifo.signature.members.items()
                if name.startswith("m_axis_")
            }
        else:
            ports["o_stream"] = Out(stream.Signature(REC_LAYOUT))
        ports |= {name: Out(64) for name in COUNTERS}
        super().__init__(ports)

    @staticmethod
    def divider_start_for(K: int, steps_per_stage: int) -> int:
        """Clocks after the book's outputs at which the imbalance dividers start.

        As soon as their operands are there: the best sizes a clock after the book's
        outputs, the depth sums when the adder trees finish (they start a clock early,
        from the book's sizes); but not so early that the imbalances would come out
        before the record, which is ready with the OFI unit and waits for them for at
        least a clock, in a RAM ring.
        """
        sums_ready = SideSum.latency_for(K) - (Book.latency - Book.sizes_latency)
        return max(1, sums_ready, Ofi.latency + 1 - Imbalance.latency_for(steps_per_stage))

    def elaborate(self, platform: object) -> Module:
        m = Module()
        p = self.params
        m.d.sync += self.cycles.eq(self.cycles + 1)

        book = Book(p.K, p.N)  # its readiness gates the input (below)
        # ---- output FIFO and credits ------------------------------------------------
        m.submodules.out_fifo = out_fifo = self.out_fifo
        # Every message accepted and not yet read out holds a FIFO slot. ``ready`` is a
        # register, decided a clock ahead with one slot of margin (the count can grow by
        # one meanwhile), so no adder or compare sits between the handshake and the
        # counters it feeds.
        outstanding = Signal(range(self.fifo_depth + 2))
        ready = Signal()
        accept = Signal()
        read = Signal()  # a record leaves the FIFO this cycle
        m.d.comb += [
            self.i_stream.ready.eq(ready),
            accept.eq(self.i_stream.valid & ready),
        ]
        m.d.sync += [
            outstanding.eq(outstanding + accept - read),
            # and not while the book clears its rows after a reset
            ready.eq((outstanding <= self.fifo_depth - 2) & book.o_ready),
        ]

        # ---- S0: accept and validate -------------------------------------------------
        s0_valid = Signal()
        s0_msg = Signal(MSG_LAYOUT)
        s0_t_in = Signal(64)
        # The message and its stamp load every clock, not on ``accept``: an enable would
        # fan ``valid & ready`` out to all 320 flip-flops (the K=4 N=1 top's critical
        # path, 9.9 ns of routing). Nothing downstream looks at them without s0_valid.
        m.d.sync += [
            s0_valid.eq(accept),
            s0_msg.eq(self.i_stream.payload),
            s0_t_in.eq(self.cycles),
        ]
        m.submodules.validate = check = Validate(p.N)
        m.d.comb += check.i_msg.eq(s0_msg)

        # ---- SV: the verdict registered, so the book's stage starts from flip-flops -----
        # (validation is a few comparators deep; in front of the book it would sit on the
        # book's critical path)
        sv_valid = Signal()
        sv_msg = Signal(MSG_LAYOUT)
        sv_t_in = Signal(64)
        sv_op = Signal(2)
        sv_good, sv_known, sv_trade = Signal(), Signal(), Signal()
        sv_sel = Signal(p.N)  # the book's one-hot instrument select, decoded here
        m.d.sync += [
            sv_valid.eq(s0_valid),
            sv_sel.eq(Cat(s0_valid & (s0_msg.instrument == n) for n in range(p.N))),
            sv_msg.eq(s0_msg),
            sv_t_in.eq(s0_t_in),
            sv_op.eq(check.o_op),
            sv_good.eq(check.o_good),
            sv_known.eq(check.o_known),
            sv_trade.eq(check.o_trade),
        ]

        # ---- S1: book (its own three clocks), sequence and flow (one clock, fed later) ----
        m.submodules.book = book
        m.submodules.sequence = seq = Sequence(p.N)
        m.submodules.flow = flow = Flow(p.N, p.flow_shift)
        m.d.comb += [
            book.i_valid.eq(sv_valid),
            book.i_sel.eq(sv_sel),
            book.i_op.eq(sv_op),
            book.i_side.eq(sv_msg.side),
            book.i_price.eq(sv_msg.price),
            book.i_qty.eq(sv_msg.qty),
        ]

        def fed(lag: int, tag: str, ctl: tuple) -> tuple:
            """The message and the controls ``ctl`` (value, name), ``lag`` clocks after SV."""
            assert lag >= 0
            msg = Signal(MSG_LAYOUT, name=f"{tag}_msg")
            m.d.comb += msg.eq(_delayed(m, sv_msg.as_value(), lag, f"{tag}_msg"))
            return (msg, *(_delayed(m, v, lag, f"{tag}_{n}") for v, n in ctl))

        # sequence and flow are faster than the book; each is fed as many clocks later
        # as it is faster, so its results line up with the book's
        ctl = ((sv_valid, "valid"), (sv_good, "good"), (sv_trade, "trade"), (sv_op, "op"))
        q_msg, q_valid, q_good, _, q_op = fed(Book.latency - Sequence.latency, "q", ctl)
        f_msg, f_valid, f_good, f_trade, _ = fed(Book.latency - Flow.latency, "f", ctl)
        m.d.comb += [
            seq.i_valid.eq(q_valid),
            seq.i_good.eq(q_good),
            seq.i_instrument.eq(q_msg.instrument),
            seq.i_seq.eq(q_msg.seq),
            seq.i_clear_both.eq((q_op == OP_CLEAR) & (q_msg.side == SIDE_BOTH)),
            flow.i_valid.eq(f_valid),
            flow.i_good.eq(f_good),
            flow.i_trade.eq(f_trade),
            flow.i_side.eq(f_msg.side[0]),
            flow.i_instrument.eq(f_msg.instrument),
            flow.i_qty.eq(f_msg.qty),
        ]
        s1_msg = Signal(MSG_LAYOUT)
        s1_t_in = Signal(64)
        s1_good, s1_known = Signal(), Signal()
        # and the message itself, registered as the book's outputs are
        for reg, value, name in (
            (s1_msg, sv_msg.as_value(), "s1_msg"),
            (s1_t_in, sv_t_in, "s1_t_in"),
            (s1_good, sv_good, "s1_good"),
            (s1_known, sv_known, "s1_known"),
        ):
            m.d.comb += reg.eq(_delayed(m, value, Book.latency, name))
        # the iceberg unit takes the message Iceberg.lead clocks ahead of the book's outputs
        i_ctl = ((sv_valid, "valid"), (sv_good, "good"), (sv_sel, "sel"))
        i_msg, i_valid, i_good, i_sel = fed(Book.latency - Iceberg.lead, "i", i_ctl)

        # ---- S2: OFI and icebergs; the record without its imbalances -----------------
        m.submodules.ofi = ofi = Ofi(p.N, p.ofi_shift)
        m.submodules.iceberg = ice = Iceberg(p.N, p.ice_min_refills, p.ice_absorb_ratio)
        bid_any = book.o_bid_any
        ask_any = book.o_ask_any
        m.d.comb += [
            ofi.i_valid.eq(book.o_valid),
            ofi.i_good.eq(s1_good),
            ofi.i_instrument.eq(s1_msg.instrument),
            ofi.i_pb.eq(book.o_bid_px_before),
            ofi.i_qb.eq(book.o_bid_qty_before),
            ofi.i_pa.eq(book.o_ask_px_before),
            ofi.i_qa.eq(book.o_ask_qty_before),
            ofi.i_pb2.eq(book.o_bid_px),
            ofi.i_qb2.eq(book.o_bid_qty),
            ofi.i_pa2.eq(book.o_ask_px),
            ofi.i_qa2.eq(book.o_ask_qty),
            ice.i_valid.eq(i_valid),
            ice.i_good.eq(i_good),
            ice.i_type.eq(i_msg.type),
            ice.i_side.eq(i_msg.side[:2]),
            ice.i_sel.eq(i_sel),
            ice.i_price.eq(i_msg.price),
            ice.i_qty.eq(i_msg.qty),
            ice.i_bid_px.eq(book.o_bid_px),
            ice.i_bid_qty.eq(book.o_bid_qty),
            ice.i_ask_px.eq(book.o_ask_px),
            ice.i_ask_qty.eq(book.o_ask_qty),
            ice.i_bid_any.eq(bid_any),
            ice.i_ask_any.eq(ask_any),
        ]
        # S1 values that S2's units do not produce, registered to line up with them
        s2 = {
            "valid": Signal(),
            "msg": Signal(MSG_LAYOUT),
            "t_in": Signal(64),
            "good": Signal(),
            "known": Signal(),
            "bid_px": Signal(32),
            "bid_qty": Signal(32),
            "ask_px": Signal(32),
            "ask_qty": Signal(32),
            "bid_any": Signal(),
            "ask_any": Signal(),
            "dropped": Signal(),
            "gap": Signal(),
            "buy": Signal(64),
            "sell": Signal(64),
        }
        m.d.sync += [
            s2["valid"].eq(book.o_valid),
            s2["msg"].eq(s1_msg),
            s2["t_in"].eq(s1_t_in),
            s2["good"].eq(s1_good),
            s2["known"].eq(s1_known),
            s2["bid_px"].eq(book.o_bid_px),
            # the sizes zeroed for an unknown instrument here, a register ahead, since
            # the imbalance divider's first step takes them straight from the record
            s2["bid_qty"].eq(Mux(s1_known, book.o_bid_qty, 0)),
            s2["ask_px"].eq(Mux(ask_any, book.o_ask_px, 0)),
            s2["ask_qty"].eq(Mux(s1_known, book.o_ask_qty, 0)),
            s2["bid_any"].eq(bid_any),
            s2["ask_any"].eq(ask_any),
            s2["dropped"].eq(book.o_dropped),
            s2["gap"].eq(seq.o_gap),
            s2["buy"].eq(flow.o_buy),
            s2["sell"].eq(flow.o_sell),
        ]

        # OFI takes one clock more than the iceberg unit: line everything else up with it
        lag_ofi = Ofi.latency - 1
        s2_early = s2
        s2 = {
            k: _delayed(m, v.as_value() if k == "msg" else v, lag_ofi, f"s2_{k}")
            for k, v in s2.items()
        }
        msg_view = Signal(MSG_LAYOUT)
        m.d.comb += msg_view.eq(s2["msg"])
        s2["msg"] = msg_view
        lag_ice = Ofi.latency - Iceberg.latency
        assert lag_ice >= 0, "the iceberg unit must not be slower than the OFI unit"
        ice_out = {
            name: _delayed(m, getattr(ice, name), lag_ice, f"ice_{name}")
            for name in ice.signature.members
            if name.startswith("o_")
        }

        rec = Signal(REC_LAYOUT)
        known = s2["known"]
        msg = s2["msg"]

        def state(value: object) -> object:
            """A state field: zero when the message names no instrument below N."""
            return Mux(known, value, 0)

        bid_empty = ~s2["bid_any"]
        ask_empty = ~s2["ask_any"]
        crossed = ~bid_empty & ~ask_empty & (s2["bid_px"] >= s2["ask_px"])
        status = Cat(
            state(s2["gap"]),
            state(crossed),
            state(bid_empty),
            state(ask_empty),
            state(ice_out["o_iceberg_bid"]),
            state(ice_out["o_iceberg_ask"]),
            ~s2["good"],
            msg.flags[0],
            msg.flags[1],
            s2["good"] & s2["dropped"],
        )
        m.d.comb += [
            rec.seq.eq(msg.seq),
            rec.instrument.eq(msg.instrument),
            rec.type.eq(msg.type),
            rec.status.eq(status),
            rec.bid_px.eq(state(s2["bid_px"])),
            rec.bid_qty.eq(s2["bid_qty"]),
            rec.ask_px.eq(state(s2["ask_px"])),
            rec.ask_qty.eq(s2["ask_qty"]),
            rec.ice_refills_bid.eq(state(ice_out["o_refills_bid"])),
            rec.ice_refills_ask.eq(state(ice_out["o_refills_ask"])),
            rec.ofi.eq(state(ofi.o_ofi)),
            rec.ofi_event.eq(state(ofi.o_event)),
            rec.buy_flow.eq(state(s2["buy"])),
            rec.sell_flow.eq(state(s2["sell"])),
            rec.ice_absorbed_bid.eq(state(ice_out["o_absorbed_bid"])),
            rec.ice_absorbed_ask.eq(state(ice_out["o_absorbed_ask"])),
            rec.ice_px_bid.eq(state(ice_out["o_px_bid"])),
            rec.ice_px_ask.eq(state(ice_out["o_px_ask"])),
            rec.recv_ts_ns.eq(msg.recv_ts_ns),
            rec.engine_t_in.eq(s2["t_in"]),
        ]

        # ---- S2..: depth and level counts, summed from the book's slots off its loop ----
        # The sizes leave the book a clock before its other outputs. A message naming no
        # instrument below N must sum to 0: with N >= 2 the book reads it no sizes, with
        # N == 1 (no select) they are masked here.
        early = Book.latency - Book.sizes_latency
        if p.N == 1:
            sz_known = _delayed(m, sv_known, Book.sizes_latency, "sz_known")
        sums = []
        for side in ("bid", "ask"):
            tree = SideSum(p.K)
            m.submodules[f"depth_{side}"] = tree
            qty, live = getattr(book, f"o_qty_{side}"), getattr(book, f"o_live_{side}")
            if p.N == 1:
                qty, live = Mux(sz_known, qty, 0), Mux(sz_known, live, 0)
            m.d.comb += [
                tree.i_valid.eq(book.o_sizes_valid),
                tree.i_qty.eq(qty),
                tree.i_live.eq(live),
            ]
            sums.append(tree)
        depth_bid, depth_ask = sums
        # the dividers start when their operands are there (the best sizes from S2's
        # registers, a clock after the book's outputs), and the record (ready with the
        # OFI unit) waits for them in RAM
        start = self.divider_start
        lag = start - Ofi.latency  # how much later the record's imbalances start than it
        l1_b = _delayed(m, s2_early["bid_qty"], start - 1, "l1_b")
        l1_a = _delayed(m, s2_early["ask_qty"], start - 1, "l1_a")
        wait = start - (depth_bid.latency - early)
        sum_b, sum_a, cnt_b, cnt_a, sums_valid = (
            _delayed(m, v, wait, name)
            for v, name in (
                (depth_bid.o_sum, "sum_b"),
                (depth_ask.o_sum, "sum_a"),
                (depth_bid.o_count, "cnt_b"),
                (depth_ask.o_count, "cnt_a"),
                (depth_bid.o_valid, "sums_valid"),
            )
        )

        # ---- then the two imbalances through pipelined dividers, side by side ---------
        m.submodules.imb_l1 = imb_l1 = Imbalance(32, self.steps_per_stage)
        m.submodules.imb_depth = imb_depth = Imbalance(self.depth_bits, self.steps_per_stage)
        m.d.comb += [
            imb_l1.i_valid.eq(sums_valid),
            imb_l1.i_b.eq(l1_b),
            imb_l1.i_a.eq(l1_a),
            imb_depth.i_valid.eq(sums_valid),
            imb_depth.i_b.eq(sum_b),
            imb_depth.i_a.eq(sum_a),
        ]
        # The stages after S2 never stall, so the record waits in RAM ring buffers (written
        # every clock, read a fixed number of clocks later) rather than in a 1024-bit
        # shift register per stage: RAM instead of about 20k flip-flops.
        ring = _Rings(m)
        delayed = Signal(REC_LAYOUT)
        m.d.comb += delayed.eq(ring.delay("rec", rec.as_value(), lag + imb_l1.latency))
        totals = Cat(sum_b, sum_a, cnt_b, cnt_a)
        totals_out = ring.delay("totals", totals, imb_l1.latency)
        w, c = self.depth_bits, len(cnt_b)
        out = Signal(REC_LAYOUT)
        m.d.comb += [
            out.eq(delayed),
            out.depth_bid.eq(totals_out[:w]),
            out.depth_ask.eq(totals_out[w : 2 * w]),
            out.levels_bid.eq(totals_out[2 * w : 2 * w + c]),
            out.levels_ask.eq(totals_out[2 * w + c :]),
            out.imb_l1.eq(imb_l1.o_imb),
            out.imb_depth.eq(imb_depth.o_imb),
            out.engine_t_out.eq(self.cycles),
            out_fifo.w_en.eq(imb_l1.o_valid),
            out_fifo.w_data.eq(out),
        ]
        if isinstance(out_fifo, LaneFifo):
            m.d.comb += [
                self.m_axis_tdata.eq(out_fifo.m_axis_tdata),
                self.m_axis_tvalid.eq(out_fifo.m_axis_tvalid),
                self.m_axis_tlast.eq(out_fifo.m_axis_tlast),
                out_fifo.m_axis_tready.eq(self.m_axis_tready),
                read.eq(out_fifo.taken),
            ]
        else:
            m.d.comb += [
                self.o_stream.payload.eq(out_fifo.r_data),
                self.o_stream.valid.eq(out_fifo.r_rdy),
                out_fifo.r_en.eq(self.o_stream.ready),
                read.eq(self.o_stream.valid & self.o_stream.ready),
            ]

        # ---- counters ----------------------------------------------------------------
        # each counter adds a registered event bit, so its 64-bit carry chain starts
        # from a flip-flop (the counts trail the events by one clock)
        events = (
            (self.msgs_in, accept, "msgs_in"),
            (self.recs_out, read, "recs_out"),
            (self.bad, sv_valid & ~sv_good, "bad"),
            (self.gaps, seq.o_valid & seq.o_jump, "gaps"),
            (self.dropped, book.o_valid & book.o_dropped & s1_good, "dropped"),
        )
        for counter, event, name in events:
            bit = Signal(name=f"{name}_event")
            m.d.sync += [bit.eq(event), counter.eq(counter + bit)]
        return m
