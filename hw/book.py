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

With several instruments the rows are LUT RAM (:mod:`hean_hw.row_store`): per side and
cell one word per instrument for the key, live bit and pointer, and per slot one for the
size, read asynchronously at the message's index wherever a stage needs the row, and
written by U at the end of its clock. So the compares and the moves are built once per
side, and no instrument's row is brought across the die to a multiplexer: with
flip-flop rows chosen by multiplexers, the K=32 N=4 top needed 68,501 LUT4 slots of the
ECP5-85's 83,640 and did not route; with LUT RAM, 46,166, and it routes
(docs/hardware.md has the figures). With one instrument the rows are registers. The
compares are a stage ahead of the read-modify-write loop, and their results are
corrected for the messages in between that are for the same instrument, so the loop is
a read, a choice among registered moves, a write on registered write enables.
A reset does not reach a RAM: after one, the book clears every instrument's rows by
feeding itself a CLEAR per instrument, one per clock, and holds ``o_ready`` low
meanwhile (at power-on the RAMs start out empty).
Reading an instrument's levels for the outputs happens outside the loop, before the
update (best keys before) and one clock after it (the side after the update, then the
best sizes through the best cells' pointers).

Prices are stored as *keys*, the price itself for bids and its bitwise complement for
asks, so that on both sides "better" means "greater key" and an empty cell is key 0,
not live, on both sides. Valid SET prices are ``1..0x7FFFFFFF``, so no valid key is 0
on either side: an empty cell is never better than nor equal to a price, and the spec's
empty-side convention falls out by itself, a bid of key 0 reads price 0 and an ask of
key 0 reads price ``0xFFFFFFFF``. Reset, CLEAR and the cell shifted in behind a delete
are key 0 and not live.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Module, Mux, ResetSignal, Signal, Value
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from hean_hw.arith import apart, pick
from hean_hw.row_moves import Moves, encode, moved, shifted
from hean_hw.row_store import RowField

#: ``i_op`` values.
OP_NONE, OP_SET, OP_CLEAR = 0, 1, 2
#: ``i_side`` value of a CLEAR that empties both sides.
SIDE_BOTH = 2


def ptr_width(K: int) -> int:
    """Bits of a slot pointer in a book of ``K`` levels per side."""
    return max(1, (K - 1).bit_length())


#: A cell's key and live bit, as the reads carry them.
_KEY_LIVE = data.StructLayout({"key": 32, "live": 1})


class Book(wiring.Component):
    """Order books of ``N`` instruments, ``K`` levels per side, one message per clock.

    Six clocks from ``i_valid`` to ``o_valid``:

    1. P: the message is registered once per side, with one select bit per instrument
       and a binary instrument index (the rows' read and write address from here on);
    2. C1: each side's row of the message's instrument is read at the index and its
       cells are compared with the message (registered raw results);
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
        Instruments (1..256; rows in LUT RAM for N >= 2, in registers for N = 1).
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
    ``o_ready`` is low for N clocks after a reset (N >= 2), while the book clears its
    rows; messages sent meanwhile are lost, so the caller holds its input.
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
                "o_ready": Out(1),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        K, N = self.K, self.N
        P = self.ptr_width
        sides = range(2)
        quarter = -(-K // 4)
        # one word per instrument, and with several an empty row for instruments >= N: it
        # is never written (only SET and CLEAR write, and only for instruments < N)
        depth = 1 if N == 1 else N + 1
        # per side and cell: its key (price for bids, ~price for asks), a live bit (set for
        # every kept level, so a level's presence is one bit, not a 32-bit OR of its key)
        # and the pointer to the slot of its size; per side and slot: the size. An empty
        # cell has key 0 and live 0, and its pointer names a free slot (cell j starts out
        # holding slot j: the pointers are a permutation from the start)
        keys = [[RowField(m, f"key_{s}_{j}", 32, depth) for j in range(K)] for s in sides]
        lives = [[RowField(m, f"live_{s}_{j}", 1, depth) for j in range(K)] for s in sides]
        ptrs = [[RowField(m, f"ptr_{s}_{j}", P, depth, init=j) for j in range(K)] for s in sides]
        slots = [[RowField(m, f"slot_{s}_{j}", 32, depth) for j in range(K)] for s in sides]

        # ---- after a reset: every instrument's rows cleared, one CLEAR per clock ---------
        # A reset does not reach the RAMs, so the book feeds itself a CLEAR of both sides
        # of each instrument in turn, through its own stages, and is not ready meanwhile.
        # At power-on the RAMs hold their initial (empty) rows, so nothing is swept.
        i_sel, i_op, i_side = self.i_sel, self.i_op, self.i_side
        if N > 1:
            sweeping = Signal(reset_less=True)
            sweep = Signal(range(N), reset_less=True)
            with m.If(ResetSignal()):
                m.d.sync += [sweeping.eq(1), sweep.eq(0)]
            with m.Elif(sweeping):
                m.d.sync += sweep.eq(sweep + 1)
                with m.If(sweep == N - 1):
                    m.d.sync += sweeping.eq(0)
            m.d.comb += self.o_ready.eq(~sweeping)
            # signals, not expressions: each use of a bit of an expression would copy it
            i_sel, i_op, i_side = Signal(N), Signal(2), Signal(2)
            m.d.comb += [
                i_sel.eq(Mux(sweeping, Cat(*(sweep == n for n in range(N))), self.i_sel)),
                i_op.eq(Mux(sweeping, OP_CLEAR, self.i_op)),
                i_side.eq(Mux(sweeping, SIDE_BOTH, self.i_side)),
            ]
            gate = self.i_valid | sweeping
        else:
            m.d.comb += self.o_ready.eq(1)
            gate = self.i_valid

        # ---- P: the message registered once per side --------------------------------------
        # what C2 decides from (SET, CLEAR, size 0); the new level's key and size (the empty
        # level for a CLEAR); and C1's own copies of the key, one per quarter of the row, so
        # that no key bit drives more than K/4 comparators
        p_valid, p_tag = Signal(), Signal(self.tag_width)
        p_sel = Signal(N)  # one-hot (or zero for an instrument >= N)
        m.d.sync += [p_valid.eq(self.i_valid), p_tag.eq(self.i_tag), p_sel.eq(i_sel)]
        is_set = i_op == OP_SET
        is_clear = i_op == OP_CLEAR
        known = i_sel.any()
        prices = [self.i_price, ~self.i_price]  # the key of each side
        clears = [(i_side == s) | (i_side == SIDE_BOTH) for s in sides]
        ps = {k: [Signal(name=f"p_{k}_side_{s}") for s in sides] for k in ("set", "clear", "qz")}
        p_key = [Signal(32, reset_less=True, name=f"p_key_cmp_{s}") for s in sides]
        p_qty = [Signal(32, name=f"p_qty_{s}") for s in sides]
        cell_keys = []  # per side: the key copy each cell compares with
        for s in sides:
            copies = apart(32, 4, f"p_key_{s}_q")
            m.d.sync += [copy.eq(prices[s]) for copy in copies]
            cell_keys.append([copies[j // quarter] for j in range(K)])
            m.d.sync += [
                ps["set"][s].eq(known & is_set & (i_side[0] == s)),
                ps["clear"][s].eq(known & is_clear & clears[s]),
                ps["qz"][s].eq(self.i_qty == 0),
                p_key[s].eq(Mux(is_clear, 0, prices[s])),
                p_qty[s].eq(Mux(is_clear, 0, self.i_qty)),
            ]
        # the instrument as a binary index, the address of C1's reads (bit N of the one-hot
        # code: an instrument >= N, the empty row). One copy per quarter of each side's
        # row: two sources built differently (the second reads 0 for no message), four
        # kinds of register each (apart keeps four apart). The copies travel on to U's and
        # R's addresses, each side's cells reading through the copies of their quarter.
        onehot, gated = Signal(N + (N > 1)), Signal(N + (N > 1))
        m.d.comb += [
            onehot.eq(Cat(i_sel, ~known) if N > 1 else i_sel),
            gated.eq(onehot & gate.replicate(len(onehot))),
        ]
        index = [encode(onehot), encode(gated)]
        idx_bits = len(index[0])

        def addresses(name: str, src: list) -> list:
            """Eight copies of the index (four per source) registered from ``src``."""
            out = apart(idx_bits, 4, f"{name}_a") + apart(idx_bits, 4, f"{name}_b")
            m.d.sync += [copy.eq(src[v // 4]) for v, copy in enumerate(out)]
            return out

        p_idx = addresses("p_idx", index)
        q_idx = addresses("q_idx", [p_idx[0], p_idx[4]])
        c_idx = addresses("c_idx", [q_idx[0], q_idx[4]])
        b_idx = addresses("b_idx", [c_idx[0], c_idx[4]])

        def at(idx: list, s: int, j: int) -> Value:
            """The copy of the index that cell (or slot) ``j`` of side ``s`` reads with."""
            return idx[4 * s + j // quarter]

        # ---- C1, C2 and U ------------------------------------------------------------------
        # C1 compares the message with every cell of its rows; C2 corrects those results
        # for the two messages ahead of it, which update the rows after C1 has read them;
        # U updates the rows from the corrected, registered results. So the compare (a
        # register-to-register stage of its own, with the broadcast key's fan-out) and
        # the wide OR that says whether a cell matched are both off the loop. The loop,
        # U's update, holds no comparator: a correction moves the result vectors as that
        # message moves the cells (a cell that takes its worse neighbour takes that
        # neighbour's results, one that takes the better neighbour takes its results, one
        # that takes the new level takes the compare of the two messages' keys, a cleared
        # row compares as empty). A message ahead moves this message's row only if it is
        # for the same instrument: its moves reach C2 already masked by that.
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
        # whether the message in C1 is for the instrument of the one in C2, and of the one
        # in U: it then sees their moves, a clock later, in C2
        same_next = (p_sel & q_sel).any()
        same_after = (p_sel & c_sel).any()
        groups = range(0, K, 4)
        # U's reads: the message's rows as they are during U (the loop's inputs; C2 and
        # the best level before read them too)
        cur = [
            {
                "key": [keys[s][j].read(at(c_idx, s, j)) for j in range(K)],
                "live": [lives[s][j].read(at(c_idx, s, j)) for j in range(K)],
                "ptr": [ptrs[s][j].read(at(c_idx, s, j)) for j in range(K)],
            }
            for s in sides
        ]
        decided = []  # per side: C2's decisions, registered for U
        dropped_any = []
        for s in sides:
            tag = f"s{s}"
            # C1: the raw compares with the message's row as it is now (before the updates
            # of the two messages ahead, in C2 and U), and the compares of the message's key
            # with those two messages' keys
            q_key = Signal(32, reset_less=True, name=f"q_key_cmp_{tag}")
            c_key = Signal(32, reset_less=True, name=f"c_key_cmp_{tag}")
            m.d.sync += [q_key.eq(p_key[s]), c_key.eq(q_key)]
            ck = cell_keys[s]
            here_key = [keys[s][j].read(at(p_idx, s, j)) for j in range(K)]
            here_ptr = [ptrs[s][j].read(at(p_idx, s, j)) for j in range(K)]
            r_gt = Signal(K, name=f"r_gt_{tag}")
            r_eq = Signal(K, name=f"r_eq_{tag}")
            r_any = Signal(len(groups), name=f"r_any_{tag}")  # eq ORed by 4 cells
            r_new = Signal(4, name=f"r_new_{tag}")  # gt, eq with q's key; with c's
            # the cells' pointers as C1 saw them, for the pointer of the level that r_eq
            # marks (a level keeps its pointer as it moves)
            r_ptr = [Signal(P, name=f"r_ptr_{tag}_{j}") for j in range(K)]
            raw_eq = [here_key[j] == ck[j] for j in range(K)]
            key = p_key[s]
            m.d.sync += [
                r_gt.eq(Cat(*(here_key[j] > ck[j] for j in range(K)))),
                r_eq.eq(Cat(*raw_eq)),
                r_any.eq(Cat(*(Cat(*raw_eq[g : g + 4]).any() for g in groups))),
                r_new.eq(Cat(q_key > key, q_key == key, c_key > key, c_key == key)),
                *(r_ptr[j].eq(here_ptr[j]) for j in range(K)),
            ]

            # C2: corrected first for the message that was in U a clock ago (it wrote the
            # row after C1 read it; its key is the one C1 compared with c's), then for the
            # message in U now (C1 compared with it in q); then the moves this message
            # makes in U. Those moves are registered three ways: for the C2 of the message
            # behind (``ahead``, masked by same_next), as they are (``moves``, while the
            # message is in U) and from those a clock later for the C2 of the message two
            # behind (``after``, masked by same_after). U itself takes them from copies of
            # its own (below).
            q = {k: Signal(name=f"q_{k}_{tag}") for k in ps}
            m.d.sync += [q[k].eq(ps[k][s]) for k in ps]
            moves = Moves.signals(K, f"u_{tag}")
            ahead = Moves.signals(K, f"ahead_{tag}")
            after = Moves.signals(K, f"after_{tag}")
            m.d.sync += after.masked(moves, same_after)
            gt1 = moved(m, r_gt, r_new[2], after.vectors, f"gt1_{tag}")
            eq1 = moved(m, r_eq, r_new[3], after.vectors, f"eq1_{tag}")
            hit1 = after.hit_after(r_any.any(), r_eq[K - 1], r_new[3])
            gt = moved(m, gt1, r_new[0], ahead.vectors, f"gt2_{tag}")
            hit = Signal(name=f"hit2_{tag}")
            m.d.comb += hit.eq(ahead.hit_after(hit1, eq1[K - 1], r_new[1]))
            up, fresh, down = self._actions(m, q["set"], q["qz"], gt, hit, tag)
            adds = q["set"] & ~q["qz"] & ~hit
            inserts = adds & ~gt[K - 1]
            # the matched level's slot: the one C1 saw, unless one of the two messages
            # ahead has since added the level, in a slot of its own (that message's last
            # cell then: the U message's now, which U is reading for it, the same
            # instrument's row; the earlier one's as C1 saw it)
            seen = pick(list(r_eq), r_ptr)
            ptr_hit = Mux(
                ahead.inserts & r_new[1],
                cur[s]["ptr"][K - 1],
                Mux(after.inserts & r_new[3], r_ptr[K - 1], seen),
            )
            # the keys' moves (a CLEAR: every cell takes the empty level) and the pointers'
            # (a new level only: a replace or a CLEAR keeps the pointers)
            fresh_key = fresh | q["clear"].replicate(K)
            now = Moves(
                q["clear"],
                up,
                fresh_key,
                down,
                inserts=inserts,
                deletes=q["set"] & q["qz"] & hit,
            )
            m.d.sync += moves.masked(now, 1) + ahead.masked(now, same_next)
            dropped = Signal(name=f"dropped_{tag}")
            m.d.sync += dropped.eq(adds & gt[K - 1])
            dropped_any.append(dropped)
            fresh_ptr = fresh & ~hit.replicate(K)
            decided.append(
                {
                    "up": up,
                    "fresh": (fresh_key, fresh_ptr),
                    "ce": (up | fresh_key | down, up | fresh_ptr | down),
                    # the slots a SET's size goes to in place (the matched level's) or
                    # a CLEAR's 0 (every slot), decoded here, a clock ahead of U's writes
                    "in_place": Cat(
                        q["clear"] | (q["set"] & hit & (ptr_hit == j)) for j in range(K)
                    ),
                    "inserts": inserts,
                    "ptr_hit": ptr_hit,
                    "set": q["set"],
                }
            )

        for s in sides:
            d = decided[s]
            tag = f"s{s}"
            # U's copies of the moves: one for the keys and live bits, one for the slot
            # pointers (kinds 1 and 2: the ``moves`` registers above are kind 0); the
            # clock enables are the RAMs' write enables
            ups = apart(K, 2, f"c_up_{tag}_", first=1)
            m.d.sync += [copy.eq(d["up"]) for copy in ups]
            copies = []
            for v, field in enumerate(("key", "ptr")):
                fresh = Signal(K, name=f"c_fresh_{field}_{tag}")
                ce = Signal(K, name=f"c_ce_{field}_{tag}")
                m.d.sync += [fresh.eq(d["fresh"][v]), ce.eq(d["ce"][v])]
                copies.append({"up": ups[v], "fresh": fresh, "ce": ce})
            # the new level (the empty one for a CLEAR) and the size U writes
            q_new = Signal(32, name=f"q_new_key_{tag}")
            c_new = Signal(32, name=f"c_new_key_{tag}")
            q_qty = Signal(32, name=f"q_qty_{tag}")
            c_qty = Signal(32, name=f"c_qty_{tag}")
            c_set = Signal(name=f"c_set_{tag}")
            c_inserts = Signal(name=f"c_inserts_{tag}")
            c_in_place = Signal(K, name=f"c_in_place_{tag}")
            c_ptr_hit = Signal(P, name=f"c_ptr_hit_{tag}")  # the matched level's slot
            m.d.sync += [
                q_new.eq(p_key[s]),
                c_new.eq(q_new),
                q_qty.eq(p_qty[s]),
                c_qty.eq(q_qty),
                c_set.eq(d["set"]),
                c_inserts.eq(d["inserts"]),
                c_in_place.eq(d["in_place"]),
                c_ptr_hit.eq(d["ptr_hit"]),
            ]
            # U: the update of the message's rows, read and written at its index. Its
            # moves are registers, decided in C2 from the corrected compares: each cell's
            # write enable, and whether it takes its worse neighbour or the new level (else
            # its better one), so the loop is a read, a 3-way choice, a write. The keys
            # and live bits move with one copy of the moves, the slot pointers with
            # another: a pointer moves as its level does, except that a replace or a CLEAR
            # leaves it where it is (the level keeps its slot).
            row = cur[s]
            kl = [Cat(row["key"][j], row["live"][j]) for j in range(K)]
            new_kl = shifted(kl, Cat(c_new, c_set), copies[0])
            # The slot pointers stay a permutation of 0..K-1: a new level takes the
            # pointer of the last cell (the level it pushes out, or a free slot), and
            # a delete hands the deleted level's pointer to the last cell.
            last = row["ptr"][K - 1]
            new_ptr = shifted(row["ptr"], last, copies[1], past_end=c_ptr_hit)
            for j in range(K):
                where = at(c_idx, s, j)
                keys[s][j].write(where, new_kl[j][:32], copies[0]["ce"][j])
                lives[s][j].write(where, new_kl[j][32], copies[0]["ce"][j])
                ptrs[s][j].write(where, new_ptr[j], copies[1]["ce"][j])
                # the sizes: the message's size goes to the slot of the level it replaces
                # or deletes (0, for a delete), or to the slot its new level takes; a
                # CLEAR empties every slot (its size is 0)
                write = c_in_place[j] | (c_inserts & (last == j))
                slots[s][j].write(where, c_qty, write)

        # best levels before: the message's best cells as U reads them (before its update);
        # their sizes come from ``held`` (below)
        b_before = [Signal(33, name=f"b_before_{s}") for s in sides]  # key, live
        b_dropped, b_valid, b_tag = Signal(), Signal(), Signal(self.tag_width)
        b_sel = Signal(N)
        m.d.sync += [
            b_dropped.eq(Cat(*dropped_any).any()),
            b_valid.eq(c_valid),
            b_tag.eq(c_tag),
            b_sel.eq(c_sel),
            *(b_before[s].eq(Cat(cur[s]["key"][0], cur[s]["live"][0])) for s in sides),
        ]

        # ---- R: the message's rows and slots after the update -----------------------------
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
            r_sel.eq(b_sel),
            *(r_before[s].eq(b_before[s]) for s in sides),
        ]
        for s in sides:
            for j in range(K):
                where = at(b_idx, s, j)
                m.d.sync += [
                    r_live[s][j].eq(lives[s][j].read(where)),
                    r_slots[s][j].eq(slots[s][j].read(where)),
                ]
            m.d.sync += [
                r_key[s].eq(keys[s][0].read(at(b_idx, s, 0))),
                r_best[s].eq(ptrs[s][0].read(at(b_idx, s, 0))),
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

        def read(sel: Value, cells: list) -> Value:
            """The value of ``cells`` (one per instrument) that ``sel`` selects (none: 0,
            for N >= 2)."""
            return cells[0] if N == 1 else pick(list(sel), cells)

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


__all__ = ["OP_CLEAR", "OP_NONE", "OP_SET", "SIDE_BOTH", "Book"]
