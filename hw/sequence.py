"""Per-instrument sequence tracking (contract step 1) and the sticky GAP flag."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hean_hw.arith import pick


class Sequence(wiring.Component):
    """Detect sequence gaps per instrument; keep the sticky gap flag.

    For a valid message: a gap is a ``seq`` other than ``last_seq + 1`` (mod 2**32)
    once the instrument has seen one; then ``last_seq = seq``. A CLEAR of both sides
    clears the flag (after this message's own check, as the contract orders it).
    A bad message changes nothing. State is read, updated and written in one cycle, so
    back-to-back messages for one instrument need no forwarding.

    Parameters
    ----------
    N : int
        Instruments.

    Ports
    -----
    en, i_valid : In(1)
        Global stall (hold when 0) and input valid.
    i_good : In(1)
        The message is valid (the validator's verdict).
    i_instrument : In(8), i_seq : In(32)
    i_clear_both : In(1)
        The message is a CLEAR with side 2.
    o_valid, o_gap, o_jump : Out(1)
        :attr:`latency` (2) cycles later: the instrument's gap flag after the message (its
        current flag for a bad one) and whether this message was a discontinuity (for the
        counter).
    """

    latency = 2

    def __init__(self, N: int) -> None:
        self.N = N
        super().__init__(
            {
                "en": In(1, init=1),
                "i_valid": In(1),
                "i_good": In(1),
                "i_instrument": In(8),
                "i_seq": In(32),
                "i_clear_both": In(1),
                "o_valid": Out(1),
                "o_gap": Out(1),
                "o_jump": Out(1),
            }
        )

    def elaborate(self, platform: object) -> Module:
        m = Module()
        N, en = self.N, self.en
        has = [Signal(name=f"has_{i}") for i in range(N)]
        expected = [Signal(32, name=f"expected_{i}") for i in range(N)]  # last seq + 1
        gap = [Signal(name=f"gap_{i}") for i in range(N)]
        write = self.i_valid & self.i_good

        # clock 1: each instrument checks the message against the seq it expects (stored
        # as last + 1, so no adder sits in the loop); the message's instrument is written
        jumps = []
        for i in range(N):
            jump = Signal(name=f"jump_{i}")
            m.d.comb += jump.eq(has[i] & (self.i_seq != expected[i]))
            jumps.append(jump)
            with m.If(en & write & (self.i_instrument == i)):
                m.d.sync += [
                    has[i].eq(1),
                    expected[i].eq(self.i_seq + 1),  # wraps at 2**32 by width
                    gap[i].eq((gap[i] | jump) & ~self.i_clear_both),
                ]
        sel = [self.i_instrument == i for i in range(N)]
        valid, inst, jumped = Signal(), Signal(8), Signal()
        with m.If(en):
            m.d.sync += [
                valid.eq(self.i_valid),
                inst.eq(self.i_instrument),
                jumped.eq(write & pick(sel, jumps)),
            ]
        # clock 2: the instrument's gap flag read after the write (unchanged for a bad one)
        with m.If(en):
            m.d.sync += [
                self.o_valid.eq(valid),
                self.o_gap.eq(pick([inst == i for i in range(N)], gap)),
                self.o_jump.eq(jumped),
            ]
        return m
