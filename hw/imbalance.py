"""Pipelined imbalance: ``imb(b, a) = trunc((b - a) * 32768 / (b + a))`` clipped to +-32767.

Because ``|b - a| <= b + a``, the quotient's magnitude is at most 32768, so only 16
quotient bits exist whatever the operand width: a non-restoring divider of 16 steps on the
magnitudes, with the sign applied afterwards, gives truncation toward zero exactly as
the contract requires. Steps are spread over pipeline stages (``steps_per_stage`` of
them each) so the core keeps one result per clock.
"""

from __future__ import annotations

from amaranth.hdl import C, Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

QUOTIENT_BITS = 16
LIMIT = 32767


class Imbalance(wiring.Component):
    """Signed 16-bit imbalance of two unsigned sizes, one result per clock.

    Parameters
    ----------
    width : int
        Width of ``b`` and ``a`` (32 for best-level sizes, 64 for depth sums).
    steps_per_stage : int
        Divider steps per pipeline stage (1..16): fewer stages cost longer paths.

    Attributes
    ----------
    latency : int
        Cycles from ``i_valid`` to the matching ``o_valid``, counting enabled cycles.

    Ports
    -----
    en : In(1)
        Pipeline enable; every register holds while it is 0 (global stall).
    i_valid, i_b, i_a : In
        One operand pair per enabled cycle.
    o_valid, o_imb : Out
        The result ``latency`` enabled cycles later.
    """

    def __init__(self, width: int, steps_per_stage: int = 2) -> None:
        if not 1 <= steps_per_stage <= QUOTIENT_BITS:
            raise ValueError(f"steps_per_stage must be 1..16, got {steps_per_stage}")
        self.width = width
        self.steps_per_stage = steps_per_stage
        self.stages = -(-QUOTIENT_BITS // steps_per_stage)
        self.latency = self.latency_for(steps_per_stage)
        super().__init__(
            {
                "en": In(1, init=1),
                "i_valid": In(1),
                "i_b": In(width),
                "i_a": In(width),
                "o_valid": Out(1),
                "o_imb": Out(signed(16)),
            }
        )

    @staticmethod
    def latency_for(steps_per_stage: int) -> int:
        """Latency in clocks of a divider with ``steps_per_stage`` steps per stage."""
        return -(-QUOTIENT_BITS // steps_per_stage) + 2

    def elaborate(self, platform: object) -> Module:
        m = Module()
        w = self.width
        # the remainder stays below the denominator, which needs one bit more than b or a
        den_shape = unsigned(w + 1)

        # stage 0: magnitudes and sign
        valid = Signal(name="p_valid")
        zero = Signal(name="p_zero")  # b + a == 0: the imbalance is 0
        neg = Signal(name="p_neg")
        rem = Signal(den_shape, name="p_rem")
        den = Signal(den_shape, name="p_den")
        with m.If(self.en):
            m.d.sync += [
                valid.eq(self.i_valid),
                zero.eq((self.i_b == 0) & (self.i_a == 0)),
                neg.eq(self.i_b < self.i_a),
                rem.eq(Mux(self.i_b < self.i_a, self.i_a - self.i_b, self.i_b - self.i_a)),
                den.eq(self.i_b + self.i_a),
            ]

        # divider stages: quotient bit k has weight 2**k, from bit 15 down to bit 0.
        # Non-restoring: the partial remainder R may go negative, and each step adds or
        # subtracts the denominator by R's sign (a register): R' = 2R - den if R >= 0,
        # else 2R + den. R' equals the restoring divider's trial difference, so its sign
        # is the same quotient bit, and a step is one carry chain with no multiplexer
        # after it. Bit 15 starts from R = rem - den (the remainder itself, not doubled).
        quotient = None
        bit = QUOTIENT_BITS - 1
        rem_shape = signed(w + 3)  # -den <= R < den, and 2R
        for stage in range(self.stages):
            r = rem
            q = C(0, QUOTIENT_BITS) if quotient is None else quotient
            bits = []
            for _ in range(self.steps_per_stage):
                if bit < 0:
                    break
                r_next = Signal(rem_shape, name=f"r_{bit}")
                if bit == QUOTIENT_BITS - 1:
                    m.d.comb += r_next.eq(r - den)
                else:
                    neg_r = r[-1]
                    # 2R + (den or -den): -den is ~den + 1, and the + 1 rides in 2R's free
                    # bit 0, so one adder does it
                    two_r = Cat(~neg_r, r)
                    den_s = Cat(den, C(0, 1)).as_signed()  # den, as a signed value
                    addend = Mux(neg_r, den_s, ~den_s)
                    m.d.comb += r_next.eq(two_r.as_signed() + addend)
                bits.append((bit, ~r_next[-1]))
                r = r_next
                bit -= 1
            n_valid = Signal(name=f"s{stage}_valid")
            n_neg = Signal(name=f"s{stage}_neg")
            n_zero = Signal(name=f"s{stage}_zero")
            n_rem = Signal(rem_shape, name=f"s{stage}_rem")
            n_den = Signal(den_shape, name=f"s{stage}_den")
            n_q = Signal(QUOTIENT_BITS, name=f"s{stage}_q")
            q_bits = q
            for k, take in bits:
                q_bits = q_bits | (take << k)
            with m.If(self.en):
                m.d.sync += [
                    n_valid.eq(valid),
                    n_neg.eq(neg),
                    n_zero.eq(zero),
                    n_rem.eq(r),
                    n_den.eq(den),
                    n_q.eq(q_bits),
                ]
            valid, neg, zero, rem, den, quotient = n_valid, n_neg, n_zero, n_rem, n_den, n_q

        # output: clip 32768 (one side empty) to 32767, apply the sign; 0 when b + a == 0.
        # The quotient is at most 2**15, so "above LIMIT" is its bit 15 alone.
        assert LIMIT == (1 << (QUOTIENT_BITS - 1)) - 1
        magnitude = Mux(quotient[-1], LIMIT, quotient[:-1])
        with m.If(self.en):
            m.d.sync += [
                self.o_valid.eq(valid),
                self.o_imb.eq(Mux(zero, 0, Mux(neg, -magnitude, magnitude))),
            ]
        return m
