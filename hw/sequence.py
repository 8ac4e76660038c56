"""Per-instrument sequence tracking (contract step 1) and the sticky GAP flag."""

from __future__ import annotations

from amaranth.hdl import Array, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


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
        One cycle later: the instrument's gap flag after the message (its current flag
        for a bad one) and whether this message was a discontinuity (for the counter).
    """

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
        has = Array(Signal(name=f"has_{i}") for i in range(self.N))
        last = Array(Signal(32, name=f"last_{i}") for i in range(self.N))
        gap = Array(Signal(name=f"gap_{i}") for i in range(self.N))
        inst = self.i_instrument

        expected = Signal(32)
        m.d.comb += expected.eq(last[inst] + 1)  # wraps at 2**32 by width
        jump = Signal()
        m.d.comb += jump.eq(has[inst] & (self.i_seq != expected))
        gap_next = Signal()
        m.d.comb += gap_next.eq((gap[inst] | jump) & ~self.i_clear_both)
        write = Signal()
        m.d.comb += write.eq(self.en & self.i_valid & self.i_good)

        for i in range(self.N):
            with m.If(write & (inst == i)):
                m.d.sync += [has[i].eq(1), last[i].eq(self.i_seq), gap[i].eq(gap_next)]
        with m.If(self.en):
            m.d.sync += [
                self.o_valid.eq(self.i_valid),
                self.o_gap.eq(gap_next),
                self.o_jump.eq(jump & self.i_good),
            ]
            with m.If(~self.i_good):
                m.d.sync += self.o_gap.eq(gap[inst])
        return m
