"""Per-instrument trade-flow accumulators (contract step 6)."""

from __future__ import annotations

from amaranth.hdl import Array, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


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
        One cycle later: the instrument's accumulators after the message.
    """

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
        buy = Array(Signal(64, name=f"buy_{i}") for i in range(self.N))
        sell = Array(Signal(64, name=f"sell_{i}") for i in range(self.N))
        inst = self.i_instrument
        s = self.flow_shift

        trade = Signal()
        m.d.comb += trade.eq(self.i_good & self.i_trade)
        buy_now, sell_now = Signal(64), Signal(64)
        m.d.comb += [buy_now.eq(buy[inst]), sell_now.eq(sell[inst])]
        buy_next, sell_next = Signal(64), Signal(64)
        m.d.comb += [
            buy_next.eq(buy_now - (buy_now >> s) + Mux(self.i_side, 0, self.i_qty)),
            sell_next.eq(sell_now - (sell_now >> s) + Mux(self.i_side, self.i_qty, 0)),
        ]
        for i in range(self.N):
            with m.If(self.en & self.i_valid & trade & (inst == i)):
                m.d.sync += [buy[i].eq(buy_next), sell[i].eq(sell_next)]
        with m.If(self.en):
            m.d.sync += [
                self.o_valid.eq(self.i_valid),
                self.o_buy.eq(Mux(trade, buy_next, buy_now)),
                self.o_sell.eq(Mux(trade, sell_next, sell_now)),
            ]
        return m
