"""Depth and level count of one book side, summed in a pipelined adder tree.

The book does not keep a running depth: a running sum is per-instrument state, so its
update (find the matched size, subtract it, add the new one) would sit in the book's
single-cycle read-modify-write loop, the one path that cannot be pipelined. Instead the
book hands over the K sizes and K live bits of the side after each update, and this
tree adds them up, one level of two-input adders per clock, off the loop.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


class SideSum(wiring.Component):
    """Sum of K sizes and count of K live bits, one result per clock.

    Parameters
    ----------
    K : int
        Levels per side (4..64).
    width : int
        Width of one size.

    Attributes
    ----------
    latency : int
        Clocks from ``i_valid`` to the matching ``o_valid``: ``ceil(log2(K))``, one adder
        level per clock.

    Ports
    -----
    en : In(1)
        Pipeline enable; every register holds while it is 0.
    i_valid : In(1)
    i_qty : In(K * width)
        Level ``j``'s size in bits ``j*width .. (j+1)*width - 1``.
    i_live : In(K)
        Bit ``j`` set when level ``j`` holds an order.
    o_valid : Out(1)
    o_sum : Out(width + ceil(log2(K)))
        The sum of the sizes (never overflows).
    o_count : Out(range(K + 1))
        The number of live levels.
    """

    def __init__(self, K: int, width: int = 32) -> None:
        if not 2 <= K <= 64:
            raise ValueError(f"K must be in 2..64, got {K}")
        self.K, self.width = K, width
        self.latency = self.latency_for(K)
        super().__init__(
            {
                "en": In(1, init=1),
                "i_valid": In(1),
                "i_qty": In(K * width),
                "i_live": In(K),
                "o_valid": Out(1),
                "o_sum": Out(width + self.latency),
                "o_count": Out(range(K + 1)),
            }
        )

    @staticmethod
    def latency_for(K: int) -> int:
        """Latency in clocks of the sum of K levels: one adder level per clock."""
        return (K - 1).bit_length()

    def elaborate(self, platform: object) -> Module:
        m = Module()
        w = self.width
        sums = [self.i_qty[j * w : (j + 1) * w] for j in range(self.K)]
        counts = [self.i_live[j] for j in range(self.K)]
        valid = self.i_valid
        for level in range(self.latency):
            # pair up neighbours; an odd one out passes through this level unchanged
            next_sums, next_counts = [], []
            for i in range(0, len(sums), 2):
                s = Signal(w + level + 1, name=f"sum_{level}_{i // 2}")
                c = Signal(range(2 ** (level + 1) + 1), name=f"count_{level}_{i // 2}")
                pair = slice(i, i + 2)
                with m.If(self.en):
                    m.d.sync += [
                        s.eq(sum(sums[pair], start=0)),
                        c.eq(sum(counts[pair], start=0)),
                    ]
                next_sums.append(s)
                next_counts.append(c)
            v = Signal(name=f"valid_{level}")
            with m.If(self.en):
                m.d.sync += v.eq(valid)
            sums, counts, valid = next_sums, next_counts, v
        m.d.comb += [
            self.o_sum.eq(sums[0]),
            self.o_count.eq(counts[0]),
            self.o_valid.eq(valid),
        ]
        return m


__all__ = ["SideSum"]
