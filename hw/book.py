"""Per-instrument L2 order books in flip-flops, updated in one cycle (HL2 v1 steps 2 and 3).

An instrument's book state (its two rows of K levels) is read, modified and written back
within this one pipeline stage, so the
core accepts one message per clock even when consecutive messages name the same
instrument: the next message reads the registers the previous one has just written.

The update of a side is a row of K level cells, the classic sorted shift-register array.
Cell ``j`` compares its own price with the message's price, and its next value is one of
itself, its better neighbour ``j-1`` (worse levels move down on insert), its worse
neighbour ``j+1`` (worse levels move up on delete) or the new level, chosen from the
compare results of cells ``j-1`` and ``j`` and from whether any cell matched. No loop over
time and no search: K comparators in parallel, then one mux level per cell.

Prices are stored as *keys*, the price itself for bids and its bitwise complement for
asks, so that on both sides "better" means "greater key" and an empty level is the
all-zero word (key 0, qty 0) on both sides. Valid SET prices are ``1..0x7FFFFFFF``, so no
valid key is 0 on either side: an empty cell is never better than nor equal to a price,
and the spec's empty-side convention falls out by itself, a bid of key 0 reads price 0
and an ask of key 0 reads price ``0xFFFFFFFF``. Reset, CLEAR and the level shifted in
behind a delete are all zeros.
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


def _next_level(
    cur: Value,
    better_nb: Value,
    worse_nb: Value,
    fresh: Value,
    better: Value,
    better_prev: Value,
    hit: Value,
    q_zero: Value,
) -> Value:
    """The next value of one level cell of the row being SET.

    Parameters
    ----------
    cur, better_nb, worse_nb : Value
        The cell's level and those of its better (``j-1``) and worse (``j+1``)
        neighbours; 64-bit ``LEVEL`` words (the zero word stands in past either end).
    fresh : Value
        The level ``(key, qty)`` of the message.
    better : Value
        This cell's level is better than the message's price.
    better_prev : Value
        The better neighbour's level is (1 for cell 0, which has none). Because the row
        is sorted, ``better`` is a thermometer code and ``~better & better_prev`` marks
        exactly one cell: the insertion index, which is also where a matching level sits.
    hit : Value
        Some cell holds the message's price (the OR of the one-hot match).
    q_zero : Value
        The message's size is 0 (delete).
    """
    # Cells better than p never move. At or after the insertion index:
    #   delete (hit, q == 0): take the worse neighbour (worse levels move up);
    #   missing and q == 0: no change;
    #   the insertion index itself with q > 0: the new level (replace or insert);
    #   after it, replace leaves the cell alone, insert takes the better neighbour.
    # An insert with every cell better (i == K) therefore changes nothing: DROPPED.
    return Mux(
        better,
        cur,
        Mux(
            q_zero,
            Mux(hit, worse_nb, cur),
            Mux(better_prev, fresh, Mux(hit, cur, better_nb)),
        ),
    )


class Book(wiring.Component):
    """Order books of ``N`` instruments, ``K`` levels per side, one message per clock.

    The selected instrument's rows are read through an N:1 mux, the row of the SET side
    is updated by K parallel level cells, and the result is written back at the clock
    edge into that instrument's registers only (per-instrument write enables). Level
    counts and depths are not state here: the sizes and live bits of both sides after
    the update are outputs, summed by :class:`hean_hw.depth.SideSum` off the loop.
    Outputs are registered: they appear the cycle after the message, with ``o_valid``
    the delayed ``i_valid``.

    Parameters
    ----------
    K : int
        Levels kept per side (4..64).
    N : int
        Instruments (1..256).
    tag_width : int
        Width of the opaque ``i_tag``, delayed alongside the outputs as ``o_tag``.

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

        # ---- State: per instrument n and side s ---------------------------------------------
        rows = [[Signal(row_layout, name=f"row_{n}_{s}") for s in sides] for n in range(N)]

        # ---- Read the selected instrument (N:1 mux; an id >= N reads zeros, no indexing) ----
        sel_row = [Signal(row_layout, name=f"sel_row_{s}") for s in sides]
        with m.Switch(self.i_instrument):
            for n in range(N):
                with m.Case(n):
                    for s in sides:
                        m.d.comb += sel_row[s].eq(rows[n][s])

        # ---- The SET row: K parallel compares against the message's key ---------------------
        side = self.i_side[0]
        key = Signal(32)  # the price in the chosen side's order: greater is better
        m.d.comb += key.eq(Mux(side, ~self.i_price, self.i_price))
        cur = Signal(row_layout)
        m.d.comb += cur.eq(Mux(side, sel_row[1].as_value(), sel_row[0].as_value()))
        better = Signal(K)  # thermometer: 1 for the cells better than the price
        match = Signal(K)  # one-hot (or zero): the cell holding the price
        for j in range(K):
            m.d.comb += [better[j].eq(cur[j].key > key), match[j].eq(cur[j].key == key)]
        hit = match.any()
        q_zero = self.i_qty == 0

        zero = LEVEL.const(None).as_value()
        fresh = Cat(key, self.i_qty, 1)
        new_row = Signal(row_layout)
        for j in range(K):
            m.d.comb += new_row[j].eq(
                _next_level(
                    cur[j].as_value(),
                    cur[j - 1].as_value() if j > 0 else zero,
                    cur[j + 1].as_value() if j < K - 1 else zero,
                    fresh,
                    better[j],
                    better[j - 1] if j > 0 else 1,
                    hit,
                    q_zero,
                )
            )

        # i == K: the side is full and p is worse than every level; nothing changes.
        dropped = ~hit & ~q_zero & better[K - 1]

        # ---- Which side the message changes --------------------------------------------------
        is_set = self.i_op == OP_SET
        is_clear = self.i_op == OP_CLEAR
        set_side = [is_set & (side == s) for s in sides]
        clear_side = [is_clear & ((self.i_side == s) | (self.i_side == SIDE_BOTH)) for s in sides]

        # ---- Write back into the selected instrument only ------------------------------------
        for n in range(N):
            selected = self.i_valid & (self.i_instrument == n)
            for s in sides:
                with m.If(selected & clear_side[s]):
                    m.d.sync += rows[n][s].eq(0)
                with m.Elif(selected & set_side[s]):
                    m.d.sync += rows[n][s].eq(new_row)

        # ---- Registered outputs: the same choice, on the selected instrument's copies --------
        row_after = []
        for s in sides:
            row_after.append(
                Mux(set_side[s], new_row.as_value(), Mux(clear_side[s], 0, sel_row[s].as_value()))
            )
        row_after = [data.View(row_layout, r) for r in row_after]
        best_after = [r[0].as_value() for r in row_after]
        best_bid = data.View(LEVEL, best_after[0])
        best_ask = data.View(LEVEL, best_after[1])
        m.d.sync += [
            self.o_valid.eq(self.i_valid),
            self.o_tag.eq(self.i_tag),
            self.o_bid_px_before.eq(sel_row[0][0].key),
            self.o_bid_qty_before.eq(sel_row[0][0].qty),
            self.o_ask_px_before.eq(~sel_row[1][0].key),
            self.o_ask_qty_before.eq(sel_row[1][0].qty),
            self.o_bid_px.eq(best_bid.key),
            self.o_bid_qty.eq(best_bid.qty),
            self.o_ask_px.eq(~best_ask.key),
            self.o_ask_qty.eq(best_ask.qty),
            self.o_bid_any.eq(best_bid.live),
            self.o_ask_any.eq(best_ask.live),
            self.o_qty_bid.eq(Cat(*(row_after[0][j].qty for j in range(K)))),
            self.o_qty_ask.eq(Cat(*(row_after[1][j].qty for j in range(K)))),
            self.o_live_bid.eq(Cat(*(row_after[0][j].live for j in range(K)))),
            self.o_live_ask.eq(Cat(*(row_after[1][j].live for j in range(K)))),
            self.o_dropped.eq(is_set & dropped),
        ]
        return m


__all__ = ["LEVEL", "OP_CLEAR", "OP_NONE", "OP_SET", "SIDE_BOTH", "Book"]
