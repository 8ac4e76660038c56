"""How a message moves the cells of one book row, and the helpers the book's stages share.

A row of level cells (see :mod:`hean_hw.book`) changes by moves: each cell keeps its
value, takes its worse neighbour (``up``), the new level (``fresh``) or its better
neighbour (``down``). The same moves correct compare results computed before them, so
that the book can compare ahead of its read-modify-write loop. Not a component.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value


class Moves:
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

    @classmethod
    def signals(cls, K: int, name: str) -> Moves:
        """Moves held in registers of their own, named ``name_...``."""
        regs = {k: Signal(K, name=f"{name}_{k}") for k in ("up", "fresh", "down")}
        flags = {k: Signal(name=f"{name}_{k}") for k in ("clear", "inserts", "deletes")}
        return cls(**regs, **flags)

    def masked(self, src: Moves, gate: Value | int) -> list:
        """Statements that set these registers to ``src``'s moves where ``gate`` is 1 and
        to no move at all where it is 0."""
        out = []
        for name in ("clear", "up", "fresh", "down", "inserts", "deletes"):
            dst, value = getattr(self, name), Value.cast(getattr(src, name))
            out.append(dst.eq(value & Value.cast(gate).replicate(len(dst))))
        return out

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


def moved(m: Module, src: Value, new: Value, moves: tuple, name: str) -> Signal:
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


def shifted(cells: list, new: Value, moves: dict, past_end: Value | int = 0) -> list:
    """What each of the K ``cells`` (one field of each) becomes where it changes.

    ``moves`` holds K-bit registers: ``up``, the cells that take their worse neighbour
    (past the end: ``past_end``); ``fresh``, those that take ``new``; every other
    changing cell takes its better neighbour. Which cells change at all (``ce``) is the
    caller's write enable: a cell that does not change is not written.
    """
    K = len(cells)
    out = []
    for j in range(K):
        worse = cells[j + 1] if j < K - 1 else past_end
        better = cells[j - 1] if j > 0 else 0
        out.append(Mux(moves["up"][j], worse, Mux(moves["fresh"][j], new, better)))
    return out


def encode(onehot: Value) -> Value:
    """The index of the set bit of ``onehot`` (0 when none is): bit b ORs the bits whose
    index has bit b set."""
    n = len(onehot)
    width = max(1, (n - 1).bit_length())
    bits = [Cat(*(onehot[i] for i in range(n) if i >> b & 1)).any() for b in range(width)]
    return Cat(*bits) if n > 1 else Const(0, 1)


__all__ = ["Moves", "encode", "moved", "shifted"]
