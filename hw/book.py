"""Per-instrument L2 order books in flip-flops, updated in one cycle (HL2 v1 steps 2 and 3).

An instrument's book state (its two rows of K levels) is read, modified and written back
within one clock, so the core accepts one message per clock even when consecutive
messages name the same instrument: the next message sees the registers the previous one
has just written.

The update of a side is a row of K level cells, the classic sorted shift-register array.
Cell ``j`` compares its own price with the message's price, and its next value is one of
itself, its better neighbour ``j-1`` (worse levels move down on insert), its worse
neighbour ``j+1`` (worse levels move up on delete) or the new level, chosen from the
compare results of cells ``j-1`` and ``j`` and from whether any cell matched. No loop over
time and no search: K comparators in parallel, then one mux level per cell.

Every row of every instrument runs its own cells against the broadcast message; the
instrument only chooses which row's write enable is on. So no N:1 multiplexer of rows
sits in front of the comparators (on the one path that cannot be pipelined, the
read-modify-write loop): the loop is register, compare, select, register. Reading an
instrument's levels for the outputs happens outside the loop, before the update (best
levels before) and one clock after it (the side after the update).

Prices are stored as *keys*, the price itself for bids and its bitwise complement for
asks, so that on both sides "better" means "greater key" and an empty level is the
all-zero word (key 0, qty 0, not live) on both sides. Valid SET prices are
``1..0x7FFFFFFF``, so no valid key is 0 on either side: an empty cell is never better
than nor equal to a price, and the spec's empty-side convention falls out by itself, a
bid of key 0 reads price 0 and an ask of key 0 reads price ``0xFFFFFFFF``. Reset, CLEAR
and the level shifted in behind a delete are all zeros.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, Value
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

#: ``i_op`` values.
OP_NONE, OP_SET, OP_CLEAR = 0, 1, 2
#: ``i_side`` value of a CLEAR that empties both sides.
SIDE_BOTH = 2

#: One stored level: its key (price for bids, ``~price`` for asks), size, and a live bit (set
#: for every kept level, so a level's presence is a flip-flop, not a 32-bit OR of its key);
#: all zero = empty.
LEVEL = data.StructLayout({"key": 32, "qty": 32, "live": 1})


def _one_hot_mux(sel: list[Value], values: list[Value]) -> Value:
    """The value whose ``sel`` bit is set (0 when none is): an AND-OR, no priority chain."""
    out: Value | int = 0
    for s, v in zip(sel, values, strict=True):
        out = out | Mux(s, v, 0)
    return out


class Book(wiring.Component):
    """Order books of ``N`` instruments, ``K`` levels per side, one message per clock.

    Three clocks from ``i_valid`` to ``o_valid``:

    1. the message is registered, with one select bit per instrument;
    2. every row compares itself with the message and the selected instrument's rows are
       written back (the single-cycle read-modify-write); the best levels *before* the
       update are read from the selected rows;
    3. the selected instrument's rows *after* the update are read.

    Parameters
    ----------
    K : int
        Levels kept per side (4..64).
    N : int
        Instruments (1..256; the rows are flip-flops, so small N in practice).
    tag_width : int
        Width of the opaque ``i_tag``, delayed alongside the outputs as ``o_tag``.

    Attributes
    ----------
    latency : int
        Clocks from a message to its outputs (3).

    Notes
    -----
    Inputs (sampled when ``i_valid``): ``i_op`` 0 none (TRADE, HEARTBEAT, bad message:
    state unchanged, outputs produced), 1 SET, 2 CLEAR; ``i_side`` SET 0 bid / 1 ask,
    CLEAR 0 bid / 1 ask / 2 both; ``i_instrument``, ``i_price``, ``i_qty``. The caller
    guarantees ``i_instrument < N`` and, for SET, ``i_price`` in ``1..0x7FFFFFFF``;
    with ``i_op == 0`` an instrument ``>= N`` touches no state (outputs unspecified).

    Outputs, about the message's instrument: best levels before and after the update
    (empty bid reads ``(0, 0)``, empty ask ``(0xFFFFFFFF, 0)``), whether each side has a
    level after it (``o_bid_any``, ``o_ask_any``), every level's size and live bit per side
    after it (``o_qty_bid``: level ``j`` in bits ``32j..32j+31``; ``o_live_bid``: bit
    ``j``; empty levels read 0), and ``o_dropped`` for a SET that could not be kept.
    """

    latency = 3

    def __init__(self, K: int, N: int, *, tag_width: int = 1) -> None:
        if not 4 <= K <= 64:
            raise ValueError(f"K must be in 4..64, got {K}")
        if not 1 <= N <= 256:
            raise ValueError(f"N must be in 1..256, got {N}")
        if tag_width < 1:
            raise ValueError(f"tag_width must be >= 1, got {tag_width}")
        self.K, self.N, self.tag_width = K, N, tag_width
        super().__init__(
            {
                "i_valid": In(1),
                "i_instrument": In(8),
                "i_op": In(2),
                "i_side": In(2),
                "i_price": In(32),
                "i_qty": In(32),
                "i_tag": In(tag_width),
                "o_valid": Out(1),
                "o_tag": Out(tag_width),
                "o_bid_px_before": Out(32),
                "o_bid_qty_before": Out(32),
                "o_ask_px_before": Out(32),
                "o_ask_qty_before": Out(32),
                "o_bid_px": Out(32),
                "o_bid_qty": Out(32),
                "o_ask_px": Out(32),
                "o_ask_qty": Out(32),
                "o_bid_any": Out(1),
                "o_ask_any": Out(1),
                "o_qty_bid": Out(32 * K),
                "o_qty_ask": Out(32 * K),
                "o_live_bid": Out(K),
                "o_live_ask": Out(K),
                "o_dropped": Out(1),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        K, N = self.K, self.N
        row_layout = data.ArrayLayout(LEVEL, K)
        sides = range(2)
        rows = [[Signal(row_layout, name=f"row_{n}_{s}") for s in sides] for n in range(N)]

        # ---- 1: the message registered, decoded per row ---------------------------------------
        # Each row (instrument n, side s) gets its own registered copy of the message: its
        # write strobes, and the key and size, zeroed unless the message is for instrument
        # n. The copies differ, so synthesis keeps them apart, and each drives one row's K
        # cells instead of every row's: the broadcast's fan-out is the routing delay that
        # dominates the update loop.
        a_valid, a_tag = Signal(), Signal(self.tag_width)
        a_sel = Signal(N)  # one-hot (or zero for an instrument >= N)
        m.d.sync += [a_valid.eq(self.i_valid), a_tag.eq(self.i_tag)]
        is_set = self.i_op == OP_SET
        is_clear = self.i_op == OP_CLEAR
        a_set = [[Signal(name=f"a_set_{n}_{s}") for s in sides] for n in range(N)]
        a_clear = [[Signal(name=f"a_clear_{n}_{s}") for s in sides] for n in range(N)]
        a_key = [[Signal(32, name=f"a_key_{n}_{s}") for s in sides] for n in range(N)]
        a_qty = [[Signal(32, name=f"a_qty_{n}_{s}") for s in sides] for n in range(N)]
        for n in range(N):
            mine = self.i_valid & (self.i_instrument == n)
            m.d.sync += a_sel[n].eq(mine)
            for s in sides:
                price = self.i_price if s == 0 else ~self.i_price  # the key of each side
                clears = (self.i_side == s) | (self.i_side == SIDE_BOTH)
                m.d.sync += [
                    a_set[n][s].eq(mine & is_set & (self.i_side[0] == s)),
                    a_clear[n][s].eq(mine & is_clear & clears),
                    a_key[n][s].eq(Mux(mine, price, 0)),
                    a_qty[n][s].eq(Mux(mine, self.i_qty, 0)),
                ]

        # ---- 2: every row updates itself; only the selected instrument's rows are written ----
        dropped_any = []
        for n in range(N):
            for s in sides:
                cur = rows[n][s]
                key, qty = a_key[n][s], a_qty[n][s]
                q_zero = qty == 0
                better = Signal(K, name=f"better_{n}_{s}")  # thermometer: cells better than p
                match = Signal(K, name=f"match_{n}_{s}")  # one-hot or zero: the cell holding p
                for j in range(K):
                    m.d.comb += [better[j].eq(cur[j].key > key), match[j].eq(cur[j].key == key)]
                hit = Signal(name=f"hit_{n}_{s}")
                m.d.comb += hit.eq(match.any())
                # i == K: the side is full and p is worse than every level; nothing changes.
                dropped = Signal(name=f"dropped_{n}_{s}")
                m.d.comb += dropped.eq(a_set[n][s] & ~hit & ~q_zero & better[K - 1])
                dropped_any.append(dropped)
                fresh = Cat(key, qty, 1)
                with m.If(a_clear[n][s]):
                    m.d.sync += cur.eq(0)
                with m.Elif(a_set[n][s]):
                    for j in range(K):
                        self._cell(m, cur, j, fresh, better, hit, q_zero)

        # best levels before: the selected rows as they are in this clock, read off the loop
        b_before = [Signal(LEVEL, name=f"b_before_{s}") for s in sides]
        b_dropped, b_valid, b_tag = Signal(), Signal(), Signal(self.tag_width)
        b_sel = Signal(N)
        m.d.sync += [
            b_dropped.eq(Cat(*dropped_any).any()),
            b_valid.eq(a_valid),
            b_tag.eq(a_tag),
            b_sel.eq(a_sel),
        ]
        for s in sides:
            bests = [rows[n][s][0].as_value() for n in range(N)]
            m.d.sync += b_before[s].eq(_one_hot_mux(list(a_sel), bests))

        # ---- 3: the selected instrument's rows after the update -------------------------------
        after = [
            data.View(
                row_layout, _one_hot_mux(list(b_sel), [rows[n][s].as_value() for n in range(N)])
            )
            for s in sides
        ]
        m.d.sync += [
            self.o_valid.eq(b_valid),
            self.o_tag.eq(b_tag),
            self.o_dropped.eq(b_dropped),
            self.o_bid_px_before.eq(b_before[0].key),
            self.o_bid_qty_before.eq(b_before[0].qty),
            self.o_ask_px_before.eq(~b_before[1].key),
            self.o_ask_qty_before.eq(b_before[1].qty),
            self.o_bid_px.eq(after[0][0].key),
            self.o_bid_qty.eq(after[0][0].qty),
            self.o_ask_px.eq(~after[1][0].key),
            self.o_ask_qty.eq(after[1][0].qty),
            self.o_bid_any.eq(after[0][0].live),
            self.o_ask_any.eq(after[1][0].live),
            self.o_qty_bid.eq(Cat(*(after[0][j].qty for j in range(K)))),
            self.o_qty_ask.eq(Cat(*(after[1][j].qty for j in range(K)))),
            self.o_live_bid.eq(Cat(*(after[0][j].live for j in range(K)))),
            self.o_live_ask.eq(Cat(*(after[1][j].live for j in range(K)))),
        ]
        return m

    def _cell(
        self,
        m: Module,
        row: data.View,
        j: int,
        fresh: Value,
        better: Signal,
        hit: Signal,
        q_zero: Value,
    ) -> None:
        """The write of level cell ``j`` of a row being SET (inside its write enable).

        Cells better than p never move. At or after the insertion index: a delete (hit,
        q == 0) takes the worse neighbour (worse levels move up); a missing level with
        q == 0 changes nothing; the insertion index itself with q > 0 takes the new level
        (replace or insert); after it, a replace leaves the cell alone and an insert takes
        the better neighbour. An insert with every cell better (i == K) changes nothing:
        DROPPED. A cell that keeps its value is not written at all, so each cell is a
        three-way choice behind a clock enable. ``better`` is a thermometer code, so
        ``~better[j] & better[j-1]`` marks exactly one cell: the insertion index, which is
        also where a matching level sits.
        """
        K = self.K
        zero = LEVEL.const(None).as_value()
        at_or_after = ~better[j]
        at_index = at_or_after & (better[j - 1] if j > 0 else 1)
        worse_nb = row[j + 1].as_value() if j < K - 1 else zero
        better_nb = row[j - 1].as_value() if j > 0 else zero
        with m.If(at_or_after & q_zero & hit):
            m.d.sync += row[j].eq(worse_nb)
        with m.Elif(at_index & ~q_zero):
            m.d.sync += row[j].eq(fresh)
        with m.Elif(at_or_after & ~q_zero & ~hit):
            m.d.sync += row[j].eq(better_nb)


__all__ = ["LEVEL", "OP_CLEAR", "OP_NONE", "OP_SET", "SIDE_BOTH", "Book"]
