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

Only the keys move. A level's size sits in one of the row's K *slots*, which never move,
and its cell holds a pointer to that slot. The pointers of a row are always a permutation
of its slots: an insert gives the new level the pointer of the last cell (the level it
pushes out, or a free slot, since empty cells hold the free pointers), a delete hands the
deleted level's pointer to the last cell, and a size is written once, in place. A cell
thus moves its key, live bit and pointer (38 bits at K=32) instead of key, size and live
bit (65), and the cells' 3-way moves are most of the book's logic (docs/hardware.md has
the figures). A free slot holds size 0, so a side's depth is the sum of its slots in any
order.

Every row of every instrument runs its own cells against the broadcast message; the
instrument only chooses which row's write enable is on. So no N:1 multiplexer of rows
sits in front of the comparators (on the one path that cannot be pipelined, the
read-modify-write loop). The compares themselves are a stage ahead of the loop, and
their results are corrected for the messages in between, so the loop is register,
select, register. Reading an instrument's levels for the outputs happens outside the
loop, before the update (best keys before) and one clock after it (the side after the
update, then the best sizes through the best cells' pointers).

Prices are stored as *keys*, the price itself for bids and its bitwise complement for
asks, so that on both sides "better" means "greater key" and an empty cell is key 0,
not live, on both sides. Valid SET prices are ``1..0x7FFFFFFF``, so no valid key is 0
on either side: an empty cell is never better than nor equal to a price, and the spec's
empty-side convention falls out by itself, a bid of key 0 reads price 0 and an ask of
key 0 reads price ``0xFFFFFFFF``. Reset, CLEAR and the cell shifted in behind a delete
are key 0 and not live.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Module, Mux, Signal, Value
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from hean_hw.arith import apart, pick

#: ``i_op`` values.
OP_NONE, OP_SET, OP_CLEAR = 0, 1, 2
#: ``i_side`` value of a CLEAR that empties both sides.
SIDE_BOTH = 2


def ptr_width(K: int) -> int:
    """Bits of a slot pointer in a book of ``K`` levels per side."""
    return max(1, (K - 1).bit_length())


def cell_layout_for(K: int) -> data.StructLayout:
    """One sorted cell: its key (price for bids, ``~price`` for asks), a live bit (set for
    every kept level, so a level's presence is a flip-flop, not a 32-bit OR of its key)
    and the pointer to the slot that holds its size. An empty cell has key 0 and live 0;
    its pointer names a free slot."""
    return data.StructLayout({"key": 32, "live": 1, "ptr": ptr_width(K)})


#: A cell's key and live bit, as the reads carry them.
_KEY_LIVE = data.StructLayout({"key": 32, "live": 1})


class Book(wiring.Component):
    """Order books of ``N`` instruments, ``K`` levels per side, one message per clock.

    Six clocks from ``i_valid`` to ``o_valid``:

    1. P: the message is registered per row, with one select bit per instrument;
    2. C1: every row compares its cells with the message (registered raw results);
    3. C2: the raw results are corrected for the two messages ahead, which update the
       rows after C1 read them (one is in U in the same clock);
    4. U: the selected instrument's rows and slots are written from the corrected
       results (the single-cycle read-modify-write); the best keys *before* the update
       are read;
    5. R: the selected instrument's cells and slots *after* the update are read;
    6. R2: the best sizes, through the best cells' slot pointers.

    A row keeps its levels' keys sorted in cells that move, and their sizes in K slots
    that do not: each cell points to the slot of its size. A cell moves 33 + log2(K)
    bits instead of 65, and a size is written once, in place (the cells' moves are most
    of the book's logic).

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
        Clocks from a message to its outputs (6).
    sizes_latency : int
        Clocks from a message to ``o_sizes_valid`` and the per-slot outputs (5).
    ptr_width : int
        Bits of a slot pointer.

    Notes
    -----
    Inputs (sampled when ``i_valid``): ``i_op`` 0 none (TRADE, HEARTBEAT, bad message:
    state unchanged, outputs produced), 1 SET, 2 CLEAR; ``i_side`` SET 0 bid / 1 ask,
    CLEAR 0 bid / 1 ask / 2 both; ``i_price``, ``i_qty``; and ``i_sel``, the message's
    instrument one-hot (bit ``n`` set for instrument ``n``, none for an instrument
    ``>= N``), zero while ``i_valid`` is low. The caller decodes ``i_sel`` into a register
    of its own, a clock ahead: decoded here, the instrument compare sat in front of the
    select's fan-out to every row's copies of the message (the K=16 N=1 top's critical
    path). For SET and CLEAR the caller guarantees an instrument ``< N`` and, for SET,
    ``i_price`` in ``1..0x7FFFFFFF``; with ``i_op == 0`` and no ``i_sel`` bit the message
    touches no state (outputs unspecified).

    Outputs, about the message's instrument: best levels before and after the update
    (empty bid reads ``(0, 0)``, empty ask ``(0xFFFFFFFF, 0)``), whether each side has a
    level after it (``o_bid_any``, ``o_ask_any``) and ``o_dropped`` for a SET that could
    not be kept. A clock earlier, with ``o_sizes_valid``: each level's live bit per side
    after the update (``o_live_bid``: bit ``j`` for level ``j``, a prefix of ones) and the
    sizes of the side's slots (``o_qty_bid``: slot ``j`` in bits ``32j..32j+31``), in slot
    order, not level order: their sum is the side's depth, and a slot that holds no level
    reads 0. For ``N >= 2``, an instrument ``>= N`` reads no live level and no size.
    """

    latency = 6
    sizes_latency = 5

    def __init__(self, K: int, N: int, *, tag_width: int = 1) -> None:
        if not 4 <= K <= 64:
            raise ValueError(f"K must be in 4..64, got {K}")
        if not 1 <= N <= 256:
            raise ValueError(f"N must be in 1..256, got {N}")
        if tag_width < 1:
            raise ValueError(f"tag_width must be >= 1, got {tag_width}")
        self.K, self.N, self.tag_width = K, N, tag_width
        self.ptr_width = ptr_width(K)
        super().__init__(
            {
                "i_valid": In(1),
                "i_sel": In(N),
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
                "o_sizes_valid": Out(1),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        K, N = self.K, self.N
        P = self.ptr_width
        cell_layout = cell_layout_for(K)
        row_layout = data.ArrayLayout(cell_layout, K)
        sides = range(2)
        # cell j starts out holding slot j: the pointers are a permutation from reset on
        row_init = [{"key": 0, "live": 0, "ptr": j} for j in range(K)]
        rows = [
            [Signal(row_layout, init=row_init, name=f"row_{n}_{s}") for s in sides]
            for n in range(N)
        ]
        # the sizes, one per slot, written in place by address and never moved
        slots = [
            [[Signal(32, name=f"slot_{n}_{s}_{j}") for j in range(K)] for s in sides]
            for n in range(N)
        ]

        # ---- P: the message registered, decoded per row ---------------------------------------
        # Each row (instrument n, side s) gets its own registered copy of the message: its
        # write strobes, and the key and size, zeroed unless the message is for instrument
        # n. The copies differ, so synthesis keeps them apart, and each drives one row's K
        # comparators instead of every row's: the broadcast's fan-out would otherwise be
        # the routing delay in front of every compare.
        p_valid, p_tag = Signal(), Signal(self.tag_width)
        p_sel = Signal(N)  # one-hot (or zero for an instrument >= N)
        m.d.sync += [p_valid.eq(self.i_valid), p_tag.eq(self.i_tag)]
        is_set = self.i_op == OP_SET
        is_clear = self.i_op == OP_CLEAR
        fields = (("set", 1), ("clear", 1), ("key", 32), ("qty", 32), ("qz", 1))
        p = {
            name: [[Signal(w, name=f"p_{name}_{n}_{s}") for s in sides] for n in range(N)]
            for name, w in fields
        }
        # C1's own copies of each row's key, one per quarter of the row, so that no key
        # bit drives more than K/4 cells' comparators (built by apart; the value a copy
        # has after reset never matters: a row reads a key only for a message of its own)
        quarter = -(-K // 4)
        cell_keys = [[[], []] for n in range(N)]  # the key copy each cell compares with
        for n in range(N):
            mine = self.i_sel[n]
            m.d.sync += p_sel[n].eq(mine)
            for s in sides:
                price = self.i_price if s == 0 else ~self.i_price  # the key of each side
                copies = apart(32, 4, f"p_key_{n}_{s}_q")
                m.d.sync += [copy.eq(Mux(mine, price, 0)) for copy in copies]
                cell_keys[n][s] = [copies[j // quarter] for j in range(K)]
                clears = (self.i_side == s) | (self.i_side == SIDE_BOTH)
                m.d.sync += [
                    p["set"][n][s].eq(mine & is_set & (self.i_side[0] == s)),
                    p["clear"][n][s].eq(mine & is_clear & clears),
                    # the level a cell takes: a CLEAR's is the empty level
                    p["key"][n][s].eq(Mux(mine & ~is_clear, price, 0)),
                    p["qty"][n][s].eq(Mux(mine & ~is_clear, self.i_qty, 0)),
                    # masked like the rest, so that each row keeps a register of its own
                    p["qz"][n][s].eq(mine & (self.i_qty == 0)),
                ]

        # ---- C1, C2 and U ------------------------------------------------------------------
        # C1 compares the message with every cell of its rows; C2 corrects those results
        # for the two messages ahead of it, which update the rows after C1 has read them;
        # U updates each row from the corrected, registered results. So the compare (a
        # register-to-register stage of its own, with the broadcast key's fan-out) and
        # the wide OR that says whether a cell matched are both off the loop. The loop,
        # U's update and C2's correction by the message in U, holds no comparator: a
        # correction moves the result vectors as that message moves the cells (a cell
        # that takes its worse neighbour takes that neighbour's results, one that takes
        # the better neighbour takes its results, one that takes the new level takes the
        # compare of the two messages' keys, a cleared row compares as empty).
        q_valid, q_tag, q_sel = Signal(), Signal(self.tag_width), Signal(N)
        c_valid, c_tag, c_sel = Signal(), Signal(self.tag_width), Signal(N)
        m.d.sync += [
            q_valid.eq(p_valid),
            q_tag.eq(p_tag),
            q_sel.eq(p_sel),
            c_valid.eq(q_valid),
            c_tag.eq(q_tag),
            c_sel.eq(q_sel),
        ]
        dropped_any = []
        groups = range(0, K, 4)
        for n in range(N):
            for s in sides:
                cur = rows[n][s]
                tag = f"{n}_{s}"
                # the message's fields in C2 (q) and in U (c)
                q = {name: Signal(len(p[name][n][s]), name=f"q_{name}_{tag}") for name in p}
                c = {name: Signal(len(p[name][n][s]), name=f"c_{name}_{tag}") for name in p}
                m.d.sync += [q[name].eq(p[name][n][s]) for name in p]
                m.d.sync += [c[name].eq(q[name]) for name in p]
                # copies of q's and c's keys for C1's compares with them, apart from the
                # keys the cells take (no reset, so synthesis keeps them apart)
                q_key = Signal(32, reset_less=True, name=f"q_key_cmp_{tag}")
                c_key = Signal(32, reset_less=True, name=f"c_key_cmp_{tag}")
                m.d.sync += [q_key.eq(p["key"][n][s]), c_key.eq(q_key)]
                # U: the update of this row by the message in c's registers. Its moves
                # are registers, decided in C2 from the corrected compares: each cell's
                # clock enable, and whether it takes its worse neighbour or the new level
                # (else its better one), so the loop is a register, a 3-way choice, a
                # register. A CLEAR is every cell taking the new level, the empty one.
                # The keys and live bits move with one copy of the moves, the slot
                # pointers with another: a pointer moves as its level does, except that
                # a replace or a CLEAR leaves it where it is (the level keeps its slot).
                twice = {k: apart(K, 2, f"c_{k}_{tag}_") for k in ("up", "fresh", "ce")}
                copies = [{k: regs[v] for k, regs in twice.items()} for v in range(2)]
                live = _Moves(
                    c["clear"],
                    copies[0]["up"],
                    copies[0]["fresh"],
                    Signal(K, name=f"c_down_{tag}"),
                    inserts=Signal(name=f"c_inserts_{tag}"),
                    deletes=Signal(name=f"c_deletes_{tag}"),
                )
                dropped = Signal(name=f"dropped_{tag}")
                dropped_any.append(dropped)
                _move(
                    m,
                    [Cat(cur[j].key, cur[j].live) for j in range(K)],
                    Cat(c["key"], c["set"]),
                    copies[0],
                )
                # The slot pointers stay a permutation of 0..K-1: a new level takes the
                # pointer of the last cell (the level it pushes out, or a free slot), and
                # a delete hands the deleted level's pointer to the last cell.
                c_ptr_hit = Signal(P, name=f"c_ptr_hit_{tag}")  # the matched level's slot
                last = cur[K - 1].ptr
                _move(m, [cur[j].ptr for j in range(K)], last, copies[1], past_end=c_ptr_hit)
                # the sizes: the message's size goes to the slot of the level it replaces
                # or deletes (0, for a delete), or to the slot its new level takes; a
                # CLEAR empties every slot (its size is 0)
                c_write_hit = Signal(name=f"c_write_hit_{tag}")
                for j, slot in enumerate(slots[n][s]):
                    write = (
                        c["clear"] | (c_write_hit & (c_ptr_hit == j)) | (live.inserts & (last == j))
                    )
                    with m.If(write):
                        m.d.sync += slot.eq(c["qty"])
                # the same moves a clock later, for C2's first correction
                late = live.registered(m, tag)

                # C1: the raw compares with the rows as they are now (before the updates
                # of the two messages ahead, in C2 and U), and the compares of the
                # message's key with those two messages' keys
                key, keys = p["key"][n][s], cell_keys[n][s]
                r_gt = Signal(K, name=f"r_gt_{tag}")
                r_eq = Signal(K, name=f"r_eq_{tag}")
                r_any = Signal(len(groups), name=f"r_any_{tag}")  # eq ORed by 4 cells
                r_new = Signal(4, name=f"r_new_{tag}")  # gt, eq with q's key; with c's
                # the cells' pointers as C1 saw them, for the pointer of the level that
                # r_eq marks (a level keeps its pointer as it moves)
                r_ptr = [Signal(P, name=f"r_ptr_{tag}_{j}") for j in range(K)]
                raw_eq = [cur[j].key == keys[j] for j in range(K)]
                m.d.sync += [
                    r_gt.eq(Cat(*(cur[j].key > keys[j] for j in range(K)))),
                    r_eq.eq(Cat(*raw_eq)),
                    r_any.eq(Cat(*(Cat(*raw_eq[g : g + 4]).any() for g in groups))),
                    r_new.eq(Cat(q_key > key, q_key == key, c_key > key, c_key == key)),
                    *(r_ptr[j].eq(cur[j].ptr) for j in range(K)),
                ]

                # C2: corrected first for the message that was in U a clock ago (it wrote
                # the rows after C1 read them; its key is the one C1 compared with c's),
                # then for the message in U now (C1 compared with it in q); then the
                # moves this message will make in U
                gt1 = _moved(m, r_gt, r_new[2], late.vectors, f"gt1_{tag}")
                eq1 = _moved(m, r_eq, r_new[3], late.vectors, f"eq1_{tag}")
                hit1 = late.hit_after(r_any.any(), r_eq[K - 1], r_new[3])
                gt = _moved(m, gt1, r_new[0], live.vectors, f"gt2_{tag}")
                hit = Signal(name=f"hit2_{tag}")
                m.d.comb += hit.eq(live.hit_after(hit1, eq1[K - 1], r_new[1]))
                up, fresh, down = self._actions(m, q["set"], q["qz"], gt, hit, tag)
                adds = q["set"] & ~q["qz"] & ~hit
                inserts = adds & ~gt[K - 1]
                # the matched level's slot: the one C1 saw, unless one of the two messages
                # ahead has since added the level, in a slot of its own (that message's
                # last cell then: the U message's now, the earlier one's as C1 saw it)
                seen = pick(list(r_eq), r_ptr)
                ptr_hit = Mux(
                    live.inserts & r_new[1],
                    last,
                    Mux(late.inserts & r_new[3], r_ptr[K - 1], seen),
                )
                # the keys' moves (a CLEAR: every cell takes the empty level) and the
                # pointers' (a new level only: a replace or a CLEAR keeps the pointers)
                fresh_key = fresh | q["clear"].replicate(K)
                fresh_ptr = fresh & ~hit.replicate(K)
                moves = (
                    (fresh_key, up | fresh_key | down),
                    (fresh_ptr, up | fresh_ptr | down),
                )
                for copy, (fresh_v, ce_v) in zip(copies, moves, strict=True):
                    m.d.sync += [
                        copy["up"].eq(up),
                        copy["fresh"].eq(fresh_v),
                        copy["ce"].eq(ce_v),
                    ]
                m.d.sync += [
                    live.down.eq(down),
                    live.inserts.eq(inserts),
                    live.deletes.eq(q["set"] & q["qz"] & hit),
                    dropped.eq(adds & gt[K - 1]),
                    c_write_hit.eq(q["set"] & hit),
                    c_ptr_hit.eq(ptr_hit),
                ]

        # best levels before: the selected rows' best keys as they are during U, read off
        # the loop; their sizes come from ``held`` (below). The reads are AND-ORs of the
        # instruments' rows. The outputs for an instrument >= N are unspecified, so one
        # instrument needs no select at all: its AND with the select became a synchronous
        # reset of every output flip-flop, a net of 2K * 65 loads (the K=16 N=1 book's
        # critical path). With more instruments, each quarter of the cells reads through
        # its own copy of the select.
        b_before = [Signal(33, name=f"b_before_{s}") for s in sides]  # key, live
        b_dropped, b_valid, b_tag = Signal(), Signal(), Signal(self.tag_width)
        b_sels = apart(N, 4, "b_sel_")
        m.d.sync += [
            b_dropped.eq(Cat(*dropped_any).any()),
            b_valid.eq(c_valid),
            b_tag.eq(c_tag),
            *(copy.eq(c_sel) for copy in b_sels),
        ]

        def read(sel: Value, cells: list) -> Value:
            """The value of ``cells`` (one per instrument) that ``sel`` selects."""
            return cells[0] if N == 1 else pick(list(sel), cells)

        for s in sides:
            m.d.sync += b_before[s].eq(
                read(c_sel, [Cat(rows[n][s][0].key, rows[n][s][0].live) for n in range(N)])
            )

        # ---- R: the selected instrument's rows and slots after the update ---------------------
        r_valid, r_tag, r_dropped = Signal(), Signal(self.tag_width), Signal()
        r_sel = Signal(N)
        r_before = [Signal(33, name=f"r_before_{s}") for s in sides]
        r_key = [Signal(32, name=f"r_key_{s}") for s in sides]  # the best cell's key
        r_live = [Signal(K, name=f"r_live_{s}") for s in sides]
        r_slots = [[Signal(32, name=f"r_slot_{s}_{j}") for j in range(K)] for s in sides]
        r_best = [Signal(P, name=f"r_best_ptr_{s}") for s in sides]
        m.d.sync += [
            r_valid.eq(b_valid),
            r_tag.eq(b_tag),
            r_dropped.eq(b_dropped),
            r_sel.eq(b_sels[0]),
            *(r_before[s].eq(b_before[s]) for s in sides),
        ]
        for s in sides:
            for j in range(K):
                sel = b_sels[j // quarter]
                m.d.sync += [
                    r_live[s][j].eq(read(sel, [rows[n][s][j].live for n in range(N)])),
                    r_slots[s][j].eq(read(sel, [slots[n][s][j] for n in range(N)])),
                ]
            m.d.sync += [
                r_key[s].eq(read(b_sels[0], [rows[n][s][0].key for n in range(N)])),
                r_best[s].eq(read(b_sels[0], [rows[n][s][0].ptr for n in range(N)])),
            ]

        # ---- R2: the best sizes, through the slot pointer of the best cell --------------------
        # ``held`` keeps, per row, the best size after the latest message of its instrument
        # to leave the book; the next one's best size before is that (no message of the
        # instrument is in between, and the rows hold no size to read it from directly)
        best_qty = [Array(r_slots[s])[r_best[s]] for s in sides]
        held = [[Signal(32, name=f"held_{n}_{s}") for s in sides] for n in range(N)]
        for n in range(N):
            with m.If(r_valid & r_sel[n]):
                m.d.sync += [held[n][s].eq(best_qty[s]) for s in sides]
        qty_before = [read(r_sel, [held[n][s] for n in range(N)]) for s in sides]
        before = [data.View(_KEY_LIVE, r_before[s]) for s in sides]
        m.d.sync += [
            self.o_valid.eq(r_valid),
            self.o_tag.eq(r_tag),
            self.o_dropped.eq(r_dropped),
            self.o_bid_px_before.eq(before[0].key),
            self.o_bid_qty_before.eq(qty_before[0]),
            self.o_ask_px_before.eq(~before[1].key),
            self.o_ask_qty_before.eq(qty_before[1]),
            self.o_bid_px.eq(r_key[0]),
            self.o_bid_qty.eq(best_qty[0]),
            self.o_ask_px.eq(~r_key[1]),
            self.o_ask_qty.eq(best_qty[1]),
            self.o_bid_any.eq(r_live[0][0]),
            self.o_ask_any.eq(r_live[1][0]),
        ]
        # the sizes and live bits leave a clock early, straight from R's registers
        m.d.comb += [
            self.o_sizes_valid.eq(r_valid),
            self.o_qty_bid.eq(Cat(*r_slots[0])),
            self.o_qty_ask.eq(Cat(*r_slots[1])),
            self.o_live_bid.eq(r_live[0]),
            self.o_live_ask.eq(r_live[1]),
        ]
        return m

    def _actions(
        self, m: Module, set_: Value, qz: Value, gt: Signal, hit: Signal, tag: str
    ) -> tuple[Signal, Signal, Signal]:
        """What each cell of a row being SET takes: ``(up, fresh, down)``, K bits each.

        Cells better than p never move. At or after the insertion index, a delete (hit,
        q == 0) takes the worse neighbour (``up``: worse levels move up). The insertion
        index itself with q > 0 takes the new level (``fresh``: replace or insert); after
        it, an insert takes the better neighbour (``down``) and a replace leaves the cell
        alone. A missing level with q == 0 changes nothing, and so does an insert with
        every cell better (i == K): DROPPED. ``gt`` is a thermometer code, so
        ``~gt[j] & gt[j-1]`` marks exactly one cell, the insertion index, which is also
        where a matching level sits; the three choices never overlap.
        """
        K = self.K
        up = Signal(K, name=f"up_{tag}")
        fresh = Signal(K, name=f"fresh_{tag}")
        down = Signal(K, name=f"down_{tag}")
        for j in range(K):
            first = ~gt[j] & (gt[j - 1] if j > 0 else 1)
            m.d.comb += [
                up[j].eq(set_ & qz & hit & ~gt[j]),
                fresh[j].eq(set_ & ~qz & first),
                down[j].eq(set_ & ~qz & ~hit & ~gt[j - 1] if j > 0 else 0),
            ]
        return up, fresh, down


class _Moves:
    """How one message moves the cells of one row, and what that does to a match.

    The K-bit vectors ``up``, ``fresh``, ``down`` say which cells take their worse
    neighbour, the new level, their better neighbour (a CLEAR: every cell takes the new
    level, the empty one). ``clear``, ``inserts`` (a new level that pushes the last cell
    out) and ``deletes`` (the matching level removed) are what :meth:`hit_after` needs.
    """

    def __init__(
        self, clear: Value, up: Value, fresh: Value, down: Value, *, inserts: Value, deletes: Value
    ) -> None:
        self.clear, self.up, self.fresh, self.down = clear, up, fresh, down
        self.inserts, self.deletes = inserts, deletes

    @property
    def vectors(self) -> tuple:
        return (self.up, self.fresh, self.down)

    def registered(self, m: Module, tag: str) -> _Moves:
        """The same moves one clock later."""
        regs = {}
        for name in ("clear", "up", "fresh", "down", "inserts", "deletes"):
            value = Value.cast(getattr(self, name))
            regs[name] = Signal(len(value), name=f"late_{name}_{tag}")
            m.d.sync += regs[name].eq(value)
        return _Moves(**regs)

    def hit_after(self, hit: Value, eq_last: Value, new_eq: Value) -> Value:
        """Whether a price is in the row after these moves.

        ``hit``: it is in the row before them; ``eq_last``: the last cell holds it (an
        insert pushes that cell out); ``new_eq``: it is the moving message's price (a
        delete removes it, an insert adds it). The row's keys are unique, so at most one
        cell matches, and the answer needs no OR over the cells after the moves.
        """
        return Mux(
            self.clear,
            0,
            Mux(self.deletes, hit & ~new_eq, Mux(self.inserts, (hit & ~eq_last) | new_eq, hit)),
        )


def _moved(m: Module, src: Value, new: Value, moves: tuple, name: str) -> Signal:
    """The K-bit vector ``src`` moved as ``moves`` (``up``, ``fresh``, ``down``) move the
    cells: a bit that does not move keeps ``src``'s value, one that takes the new level
    takes ``new``."""
    up, fresh, down = moves
    K = len(src)
    out = Signal(K, name=name)
    for j in range(K):
        worse = src[j + 1] if j < K - 1 else 0
        better = src[j - 1] if j > 0 else 0
        m.d.comb += out[j].eq(Mux(up[j], worse, Mux(fresh[j], new, Mux(down[j], better, src[j]))))
    return out


def _move(m: Module, dst: list, new: Value, moves: dict, past_end: Value | int = 0) -> None:
    """Row ``dst`` of K cells (one field of each) moves as ``moves`` say.

    ``moves`` holds K-bit registers: ``ce``, the cells that change; ``up``, those that
    take their worse neighbour (past the end: ``past_end``); ``fresh``, those that take
    ``new``; every other changing cell takes its better neighbour. A cell that does not change
    keeps its value on its clock enable.
    """
    K = len(dst)
    for j in range(K):
        worse = dst[j + 1] if j < K - 1 else past_end
        better = dst[j - 1] if j > 0 else 0
        with m.If(moves["ce"][j]):
            m.d.sync += dst[j].eq(Mux(moves["up"][j], worse, Mux(moves["fresh"][j], new, better)))


__all__ = ["OP_CLEAR", "OP_NONE", "OP_SET", "SIDE_BOTH", "Book"]
