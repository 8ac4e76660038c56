"""Per-instrument trade-flow accumulators (contract step 6)."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hean_hw.arith import decay_add, pick


class Flow(wiring.Component):
    """Decaying buy and sell volume per instrument.

    On a valid TRADE both accumulators decay, ``x - (x >> FLOW_SHIFT)``, and the
    aggressor's gains ``qty``; other messages leave them unchanged. Read, update and
    write happen in one cycle (no hazard for back-to-back messages).

    Parameters
    ----------
    N : int
        Instruments.
    flow_shift : int
        The contract's FLOW_SHIFT (1..16), fixed at elaboration.

    Ports
    -----
    en, i_valid, i_good : In(1)
    i_trade : In(1)
        The message is a TRADE.
    i_side : In(1)
        The aggressor: 0 buy, 1 sell.
    i_instrument : In(8), i_qty : In(32)
    o_valid : Out(1); o_buy, o_sell : Out(64)
        :attr:`latency` (3) cycles later: the instrument's accumulators after the message.
    """

    latency = 3

    def __init__(self, N: int, flow_shift: int) -> None:
        self.N = N
        self.flow_shift = flow_shift
        super().__init__(
            {
                "en": In(1, init=1),
                "i_valid": In(1),
                "i_good": In(1),
                "i_trade": In(1),
                "i_side": In(1),
                "i_instrument": In(8),
                "i_qty": In(32),
                "o_valid": Out(1),
                "o_buy": Out(64),
                "o_sell": Out(64),
            }
        )

    def elaborate(self, platform: object) -> Module:
        m = Module()
        N, en, shift = self.N, self.en, self.flow_shift
        buy = [Signal(64, name=f"buy_{i}") for i in range(N)]
        sell = [Signal(64, name=f"sell_{i}") for i in range(N)]
        trade = self.i_valid & self.i_good & self.i_trade

        # clock 1: what each accumulator gains, and which instrument's are written
        add_buy, add_sell, we = Signal(32), Signal(32), Signal(N)
        a_valid, a_inst = Signal(), Signal(8)
        with m.If(en):
            m.d.sync += [
                add_buy.eq(Mux(self.i_side, 0, self.i_qty)),
                add_sell.eq(Mux(self.i_side, self.i_qty, 0)),
                we.eq(Cat(trade & (self.i_instrument == i) for i in range(N))),
                a_valid.eq(self.i_valid),
                a_inst.eq(self.i_instrument),
            ]
        # clock 2: every instrument's accumulators compute their next value (one carry
        # chain each, no read multiplexer in the loop); the message's instrument keeps it
        for i in range(N):
            with m.If(en & we[i]):
                m.d.sync += [
                    buy[i].eq(decay_add(buy[i], shift, add_buy)),
                    sell[i].eq(decay_add(sell[i], shift, add_sell)),
                ]
        # clock 3: the instrument's accumulators read after the write, through a one-hot
        # select decoded a clock ahead (a compare in front of it would fan its result out
        # to all 128 bits of the read)
        valid, sel = Signal(), Signal(N)
        with m.If(en):
            m.d.sync += [valid.eq(a_valid), sel.eq(Cat(a_inst == i for i in range(N)))]
            m.d.sync += [
                self.o_valid.eq(valid),
                self.o_buy.eq(pick(list(sel), buy)),
                self.o_sell.eq(pick(list(sel), sell)),
            ]
        return m
