"""hean_hw.rec_fifo: the output FIFO that reads straight off its RAM."""

from __future__ import annotations

import random

import pytest
from amaranth.sim import Simulator

from hean_hw.rec_fifo import RecordFifo


def run(dut: RecordFifo, bench) -> None:
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("depth", [2, 5, 16])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_words_leave_in_order_whatever_the_timing(depth: int, seed: int) -> None:
    """Random writes and reads: every word written is read once, in order, and a word on
    offer holds still until it is taken."""
    rng = random.Random(seed)
    dut = RecordFifo(40, depth)
    words = [rng.getrandbits(40) for _ in range(400)]
    got: list[int] = []

    async def bench(ctx):
        pending = list(words)
        offered = None
        for _ in range(3000):
            write = bool(pending) and rng.random() < 0.6
            read = rng.random() < 0.5
            ctx.set(dut.w_en, write)
            if write:
                ctx.set(dut.w_data, pending[0])
            ctx.set(dut.r_en, read)
            _, _, w_rdy, r_rdy, r_data = await ctx.tick().sample(dut.w_rdy, dut.r_rdy, dut.r_data)
            if write and w_rdy:
                pending.pop(0)
            if r_rdy:
                if offered is not None:
                    assert r_data == offered, "the word on offer changed before it was read"
                if read:
                    got.append(r_data)
                    offered = None
                else:
                    offered = r_data
            if len(got) == len(words):
                break

    run(dut, bench)
    assert got == words


def test_full_refuses_writes_and_latency_is_two_clocks() -> None:
    dut = RecordFifo(8, 4)

    async def bench(ctx):
        ctx.set(dut.w_en, 1)
        for k in range(6):
            ctx.set(dut.w_data, 10 + k)
            _, _, w_rdy, r_rdy = await ctx.tick().sample(dut.w_rdy, dut.r_rdy)
            assert w_rdy == (k < 4)
            # written by the edge that ends clock 0, on offer from clock 2
            assert r_rdy == (k >= RecordFifo.latency)
        ctx.set(dut.w_en, 0)
        ctx.set(dut.r_en, 1)
        seen = []
        for _ in range(6):
            _, _, r_rdy, r_data = await ctx.tick().sample(dut.r_rdy, dut.r_data)
            if r_rdy:
                seen.append(r_data)
        assert seen == [10, 11, 12, 13]

    run(dut, bench)


def test_reads_back_to_back_at_one_word_per_clock() -> None:
    dut = RecordFifo(16, 8)

    async def bench(ctx):
        ctx.set(dut.w_en, 1)
        for k in range(8):
            ctx.set(dut.w_data, 100 + k)
            await ctx.tick()
        ctx.set(dut.w_en, 0)
        await ctx.tick()
        ctx.set(dut.r_en, 1)
        seen = []
        for _ in range(8):
            _, _, r_rdy, r_data = await ctx.tick().sample(dut.r_rdy, dut.r_data)
            assert r_rdy, "a bubble between reads"
            seen.append(r_data)
        assert seen == list(range(100, 108))

    run(dut, bench)


def test_refuses_bad_parameters() -> None:
    with pytest.raises(ValueError, match="depth"):
        RecordFifo(8, 1)
    with pytest.raises(ValueError, match="width"):
        RecordFifo(0, 4)
    assert RecordFifo(8, 40).depth == 64
