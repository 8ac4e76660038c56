"""hean_hw.arith: the one-carry-chain decay step and the one-hot pick."""

from __future__ import annotations

import random

import pytest
from amaranth.hdl import Module, Signal, signed
from amaranth.sim import Simulator

from hean_hw.arith import apart, decay_add, pick


@pytest.mark.parametrize(("signed_acc", "shift"), [(True, 6), (True, 1), (False, 4), (False, 16)])
def test_decay_add_is_acc_minus_shifted_acc_plus_addend(signed_acc: bool, shift: int) -> None:
    acc = Signal(signed(64) if signed_acc else 64)
    add = Signal(signed(35) if signed_acc else 32)
    out = Signal(64)
    m = Module()
    m.d.comb += out.eq(decay_add(acc, shift, add))
    rng = random.Random(shift)
    lo, hi = (-(1 << 63), 1 << 63) if signed_acc else (0, 1 << 64)
    edges = [lo, hi - 1, 0, 1, -1 if signed_acc else 2, (1 << shift) - 1]
    alo, ahi = (-(1 << 34), 1 << 34) if signed_acc else (0, 1 << 32)
    cases = [(a, e) for a in edges for e in (alo, ahi - 1, 0, 1)]
    cases += [(rng.randrange(lo, hi), rng.randrange(alo, ahi)) for _ in range(1500)]

    async def bench(ctx) -> None:
        for a, e in cases:
            ctx.set(acc, a)
            ctx.set(add, e)
            # Python's >> on a negative int is arithmetic, as the contract's is
            assert ctx.get(out) == (a - (a >> shift) + e) % (1 << 64), (a, e)

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()


def test_pick_is_the_selected_value_or_zero() -> None:
    values = [Signal(8, init=v) for v in (11, 22, 33)]
    sel = [Signal() for _ in values]
    out = Signal(8)
    m = Module()
    m.d.comb += out.eq(pick(sel, values))

    async def bench(ctx) -> None:
        for k in range(3):
            for i, s in enumerate(sel):
                ctx.set(s, i == k)
            assert ctx.get(out) == (11, 22, 33)[k]
        for s in sel:
            ctx.set(s, 0)
        assert ctx.get(out) == 0

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()


def test_apart_copies_differ_in_kind_and_refuse_a_fifth() -> None:
    copies = apart(4, 3, "c_", first=1)
    assert [(c.init, c.reset_less) for c in copies] == [(0, True), (15, False), (15, True)]
    with pytest.raises(ValueError):
        apart(4, 2, "c_", first=3)
