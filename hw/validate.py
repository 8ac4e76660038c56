"""The contract's validity rules for one HL2 message, as combinational logic."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hean_hw.book import OP_CLEAR, OP_NONE, OP_SET
from hean_hw.layouts import MSG_LAYOUT

SET, TRADE, CLEAR, HEARTBEAT = 1, 2, 3, 4
MAX_PRICE = 0x7FFFFFFF

__all__ = ["OP_CLEAR", "OP_NONE", "OP_SET", "Validate"]


class Validate(wiring.Component):
    """Classify a message: valid or bad, and what it does to the book.

    Bad when the type is not 1..4, the instrument is not below N, a SET or TRADE has a
    side above 1 or a price of 0 or above 0x7FFFFFFF, a TRADE has size 0, or a CLEAR
    has a side above 2. Flag bits 2..7 are not checked (not a validity rule).

    Parameters
    ----------
    N : int
        Instruments.

    Ports
    -----
    i_msg : In(MSG_LAYOUT)
    o_good : Out(1)
        The message is valid.
    o_known : Out(1)
        The instrument is below N (a bad message then still reports its state).
    o_op : Out(2)
        OP_SET or OP_CLEAR for a valid SET or CLEAR, else OP_NONE.
    o_trade : Out(1)
        A valid TRADE.
    """

    def __init__(self, N: int) -> None:
        self.N = N
        super().__init__(
            {
                "i_msg": In(MSG_LAYOUT),
                "o_good": Out(1),
                "o_known": Out(1),
                "o_op": Out(2),
                "o_trade": Out(1),
            }
        )

    def elaborate(self, platform: object) -> Module:
        m = Module()
        msg = self.i_msg
        kind = msg.type
        priced = (kind == SET) | (kind == TRADE)
        known = msg.instrument < self.N
        bad = (
            (kind < SET)
            | (kind > HEARTBEAT)
            | ~known
            | (priced & ((msg.side > 1) | (msg.price == 0) | (msg.price > MAX_PRICE)))
            | ((kind == TRADE) & (msg.qty == 0))
            | ((kind == CLEAR) & (msg.side > 2))
        )
        m.d.comb += [self.o_good.eq(~bad), self.o_known.eq(known)]
        m.d.comb += self.o_trade.eq(~bad & (kind == TRADE))
        with m.If(~bad & (kind == SET)):
            m.d.comb += self.o_op.eq(OP_SET)
        with m.Elif(~bad & (kind == CLEAR)):
            m.d.comb += self.o_op.eq(OP_CLEAR)
        return m
