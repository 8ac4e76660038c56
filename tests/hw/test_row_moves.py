"""hean_hw.row_moves: the index encoder, the moved cells and the masked moves."""

from __future__ import annotations

import random

import pytest
from amaranth.hdl import Const, Module, Signal
from amaranth.sim import Simulator

from hean_hw.row_moves import Moves, encode, moved, shifted


def _run(m: Module, bench) -> None:
    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8])
def test_encode_is_the_index_of_the_set_bit(n: int) -> None:
    onehot, out = Signal(n), Signal(max(1, (n - 1).bit_length()))
    m = Module()
    m.d.comb += out.eq(encode(onehot))

    async def bench(ctx) -> None:
        for i in range(n):
            ctx.set(onehot, 1 << i)
            assert ctx.get(out) == i
        ctx.set(onehot, 0)
        assert ctx.get(out) == 0

    _run(m, bench)


def test_shifted_takes_the_worse_neighbour_the_new_level_or_the_better_one() -> None:
    K = 6
    cells = [Signal(8, init=10 + j) for j in range(K)]
    up, fresh = Signal(K), Signal(K)
    outs = [Signal(8) for _ in range(K)]
    m = Module()
    got = shifted(cells, Const(99, 8), {"up": up, "fresh": fresh}, past_end=Const(77, 8))
    m.d.comb += [o.eq(v) for o, v in zip(outs, got, strict=True)]

    async def bench(ctx) -> None:
        rng = random.Random(5)
        for _ in range(50):
            u, f = rng.getrandbits(K), rng.getrandbits(K)
            ctx.set(up, u)
            ctx.set(fresh, f)
            for j in range(K):
                if u >> j & 1:
                    want = 10 + j + 1 if j < K - 1 else 77
                elif f >> j & 1:
                    want = 99
                else:
                    want = 10 + j - 1 if j > 0 else 0
                assert ctx.get(outs[j]) == want, (u, f, j)

    _run(m, bench)


def test_masked_moves_are_the_moves_or_none() -> None:
    K = 8
    src = Moves.signals(K, "src")
    dst = Moves.signals(K, "dst")
    gate = Signal()
    m = Module()
    m.d.sync += dst.masked(src, gate)
    names = ("clear", "up", "fresh", "down", "inserts", "deletes")
    rng = random.Random(3)

    async def bench(ctx) -> None:
        for _ in range(50):
            want = {k: rng.getrandbits(len(getattr(src, k))) for k in names}
            g = rng.getrandbits(1)
            for k, v in want.items():
                ctx.set(getattr(src, k), v)
            ctx.set(gate, g)
            await ctx.tick()
            for k, v in want.items():
                assert ctx.get(getattr(dst, k)) == (v if g else 0), k

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


def test_moved_follows_each_cell_choice() -> None:
    K = 6
    src, new = Signal(K), Signal()
    up, fresh, down = Signal(K), Signal(K), Signal(K)
    m = Module()
    out = moved(m, src, new, (up, fresh, down), "out")
    rng = random.Random(5)

    async def bench(ctx) -> None:
        for _ in range(300):
            s, n = rng.getrandbits(K), rng.getrandbits(1)
            # one choice per cell at most, as the book's moves are
            choice = [rng.choice("kufd") for _ in range(K)]
            u = sum(1 << j for j, c in enumerate(choice) if c == "u")
            f = sum(1 << j for j, c in enumerate(choice) if c == "f")
            d = sum(1 << j for j, c in enumerate(choice) if c == "d")
            for sig, v in ((src, s), (new, n), (up, u), (fresh, f), (down, d)):
                ctx.set(sig, v)
            bit = [(s >> j) & 1 for j in range(K)]
            for j, c in enumerate(choice):
                expect = {
                    "k": bit[j],
                    "u": bit[j + 1] if j < K - 1 else 0,
                    "f": n,
                    "d": bit[j - 1] if j > 0 else 0,
                }[c]
                assert (ctx.get(out) >> j) & 1 == expect, (j, c)

    _run(m, bench)


def test_hit_after_a_move() -> None:
    flags = Moves.signals(4, "mv")
    hit, eq_last, new_eq, out = Signal(), Signal(), Signal(), Signal()
    m = Module()
    m.d.comb += out.eq(flags.hit_after(hit, eq_last, new_eq))

    async def bench(ctx) -> None:
        for case in range(64):
            h, e, n, clr, ins, dele = ((case >> b) & 1 for b in range(6))
            if ins and dele:
                continue  # one message never both inserts and deletes
            for sig, v in (
                (hit, h),
                (eq_last, e),
                (new_eq, n),
                (flags.clear, clr),
                (flags.inserts, ins),
                (flags.deletes, dele),
            ):
                ctx.set(sig, v)
            if clr:
                expect = 0
            elif dele:
                expect = h & (1 - n)
            elif ins:
                expect = (h & (1 - e)) | n
            else:
                expect = h
            assert ctx.get(out) == expect, case

    _run(m, bench)
