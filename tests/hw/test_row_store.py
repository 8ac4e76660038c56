# amaranth: UnusedElaboratable=no
"""hean_hw.row_store: a row field reads like a register per instrument, in RAM or not."""

from __future__ import annotations

import random

import pytest
from amaranth.back import rtlil
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from hean_hw.row_store import RowField


@pytest.mark.parametrize("depth", [1, 2, 5, 16])
def test_reads_see_the_word_as_of_the_clock_and_writes_land_at_its_end(depth: int) -> None:
    m = Module()
    field = RowField(m, "f", 8, depth, init=7)
    bits = max(1, (depth - 1).bit_length())
    ra, rb, wa = Signal(bits), Signal(bits), Signal(bits)
    wd, we = Signal(8), Signal()
    a, b = field.read(ra), field.read(rb)
    field.write(wa, wd, we)
    sim = Simulator(m)
    sim.add_clock(1e-8)

    async def bench(ctx) -> None:
        model = [7] * depth
        rng = random.Random(depth)
        for _ in range(200):
            x, y, w = (rng.randrange(depth) for _ in range(3))
            value, en = rng.randrange(256), rng.random() < 0.6
            ctx.set(ra, x)
            ctx.set(rb, y)
            ctx.set(wa, w)
            ctx.set(wd, value)
            ctx.set(we, en)
            # one word: the index is ignored
            want = (model[x], model[y]) if depth > 1 else (model[0], model[0])
            assert (ctx.get(a), ctx.get(b)) == want
            await ctx.tick()
            if en:
                model[w if depth > 1 else 0] = value

    sim.add_testbench(bench)
    sim.run()


def test_one_write_port_and_a_positive_depth() -> None:
    m = Module()
    field = RowField(m, "f", 4, 3)
    field.write(Signal(2), Signal(4), Signal())
    with pytest.raises(RuntimeError, match="one write port"):
        field.write(Signal(2), Signal(4), Signal())
    assert "memory" in rtlil.convert(m, ports=[])
    with pytest.raises(ValueError, match="depth"):
        RowField(Module(), "g", 4, 0)


def test_several_words_are_a_distributed_memory() -> None:
    m = Module()
    field = RowField(m, "words", 4, 3)
    out = Signal(4)
    m.d.comb += out.eq(field.read(Signal(2)))
    field.write(Signal(2), Signal(4), Signal())
    text = rtlil.convert(m, ports=[out])
    assert "ram_style" in text and "distributed" in text
