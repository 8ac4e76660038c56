"""TlastBatch: TLAST once per DMA transfer of records, not once per record."""

from __future__ import annotations

import random

from amaranth.sim import Simulator

from hean_hw.tlast_batch import TlastBatch


def test_tlast_batch_ends_each_transfer_on_its_last_record():
    # input transfers in beats: 3 messages; 1; 2 whole + a cut one; 1 whole + a cut one;
    # 5; none whole (a cut message resets the framing, as in MsgWiden)
    transfers = [12, 4, 10, 6, 20, 2]
    counts = [3, 1, 2, 1, 5]  # records per transfer (the last has none)
    dut = TlastBatch(beats=4, depth=8)
    rng = random.Random(5)
    lasts: list[int] = []

    async def bench(ctx):
        for n in transfers:
            for beat in range(n):
                ctx.set(dut.in_valid, 1)
                ctx.set(dut.in_last, beat == n - 1)
                while True:
                    ctx.set(dut.core_in_ready, rng.random() < 0.7)
                    taken = ctx.get(dut.in_valid) and ctx.get(dut.in_ready)
                    assert ctx.get(dut.core_in_valid) == ctx.get(dut.in_valid)
                    await ctx.tick()
                    if taken:
                        break
            ctx.set(dut.in_valid, 0)
            await ctx.tick().repeat(rng.randint(1, 3))
        for _ in range(sum(counts)):  # the records, after the messages as in the core
            for beat in range(16):
                ctx.set(dut.out_valid, 1)
                ctx.set(dut.core_out_last, beat == 15)
                while True:
                    ctx.set(dut.out_ready, rng.random() < 0.7)
                    done = ctx.get(dut.out_ready)
                    last = ctx.get(dut.out_last)
                    if beat != 15:
                        assert not last
                    await ctx.tick()
                    if done:
                        break
                if beat == 15:
                    lasts.append(last)
            ctx.set(dut.out_valid, 0)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    ends = [i for i, last in enumerate(lasts) if last]
    assert ends == [sum(counts[: k + 1]) - 1 for k in range(len(counts))]
