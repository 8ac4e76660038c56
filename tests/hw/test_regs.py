"""hean_hw.regs: the read-only AXI4-Lite register block, driven by a bus master model."""

from __future__ import annotations

import random

import pytest
from amaranth.sim import Simulator

from hean.wire import Params
from hean_hw.regs import REGISTERS, RegisterBlock

OKAY, SLVERR = 0, 2

# the map as documented, typed out independently of the module's tables
WANT_MAP = {
    "magic": 0x00,
    "version": 0x04,
    "build_id": 0x08,
    "K": 0x0C,
    "N": 0x10,
    "ofi_shift": 0x14,
    "flow_shift": 0x18,
    "ice_min_refills": 0x1C,
    "ice_absorb_ratio": 0x20,
    "latency": 0x24,
    "cycles_lo": 0x40,
    "cycles_hi": 0x44,
    "msgs_in_lo": 0x48,
    "msgs_in_hi": 0x4C,
    "recs_out_lo": 0x50,
    "recs_out_hi": 0x54,
    "bad_lo": 0x58,
    "bad_hi": 0x5C,
    "gaps_lo": 0x60,
    "gaps_hi": 0x64,
    "dropped_lo": 0x68,
    "dropped_hi": 0x6C,
    "framing_errors_lo": 0x70,
    "framing_errors_hi": 0x74,
}
COUNTER_NAMES = ("cycles", "msgs_in", "recs_out", "bad", "gaps", "dropped", "framing_errors")


async def handshake(ctx, valid, ready, delay: int = 0) -> None:
    """Hold ``valid`` (after ``delay`` idle clocks) until ``ready`` is seen at an edge."""
    await ctx.tick().repeat(delay) if delay else None
    ctx.set(valid, 1)
    while True:
        _, _, taken = await ctx.tick().sample(ready)
        if taken:
            break
    ctx.set(valid, 0)


async def response(ctx, dut, channel: str, rng: random.Random | None, stall: float):
    """Wait for the ``r`` or ``b`` response, refusing it at random; return the sampled values."""
    valid, ready = getattr(dut, f"s_axil_{channel}valid"), getattr(dut, f"s_axil_{channel}ready")
    values = [dut.s_axil_rdata, dut.s_axil_rresp] if channel == "r" else [dut.s_axil_bresp]
    while True:
        take = rng is None or rng.random() >= stall
        ctx.set(ready, take)
        _, _, seen, *got = await ctx.tick().sample(valid, *values)
        if seen and take:
            ctx.set(ready, 0)
            return got


async def axil_read(
    ctx, dut, addr: int, rng: random.Random | None = None, stall: float = 0.0
) -> tuple[int, int]:
    """One AXI4-Lite read: (rdata, rresp)."""
    ctx.set(dut.s_axil_araddr, addr)
    await handshake(ctx, dut.s_axil_arvalid, dut.s_axil_arready, rng.randint(0, 2) if rng else 0)
    data, resp = await response(ctx, dut, "r", rng, stall)
    return data, resp


async def axil_write(ctx, dut, addr: int, data: int, aw_delay: int, w_delay: int) -> int:
    """One AXI4-Lite write with address and data offered after their own delays: bresp."""
    ctx.set(dut.s_axil_awaddr, addr)
    ctx.set(dut.s_axil_wdata, data)
    ctx.set(dut.s_axil_wstrb, 0xF)
    aw_left, w_left = True, True
    clock = 0
    while aw_left or w_left:
        ctx.set(dut.s_axil_awvalid, aw_left and clock >= aw_delay)
        ctx.set(dut.s_axil_wvalid, w_left and clock >= w_delay)
        _, _, aw_ready, w_ready, b_valid = await ctx.tick().sample(
            dut.s_axil_awready, dut.s_axil_wready, dut.s_axil_bvalid
        )
        assert not b_valid, "a write response before both address and data were taken"
        aw_left &= not (aw_ready and clock >= aw_delay)
        w_left &= not (w_ready and clock >= w_delay)
        clock += 1
    ctx.set(dut.s_axil_awvalid, 0)
    ctx.set(dut.s_axil_wvalid, 0)
    (resp,) = await response(ctx, dut, "b", None, 0.0)
    return resp


def simulate(dut: RegisterBlock, bench, *processes) -> None:
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    for process in processes:
        sim.add_process(process)
    sim.run()


PARAMS = Params(K=8, N=2, ofi_shift=5, flow_shift=3, ice_min_refills=4, ice_absorb_ratio=7)


def test_the_register_map_constant() -> None:
    assert REGISTERS == WANT_MAP


def test_every_register_reads_back() -> None:
    dut = RegisterBlock(PARAMS, build_id=0xDEADBEEF, latency=27)
    counters = {
        name: (0x1234_0000 + i) << 32 | (0xA000_0000 + i) for i, name in enumerate(COUNTER_NAMES)
    }
    want = {
        0x00: 0x484C3243,
        0x04: 1,
        0x08: 0xDEADBEEF,
        0x0C: 8,
        0x10: 2,
        0x14: 5,
        0x18: 3,
        0x1C: 4,
        0x20: 7,
        0x24: 27,
    }
    for i, name in enumerate(COUNTER_NAMES):
        want[0x40 + 8 * i] = counters[name] & 0xFFFFFFFF
        want[0x44 + 8 * i] = counters[name] >> 32
    got = {}
    rng = random.Random(1)

    async def bench(ctx):
        for name, value in counters.items():
            ctx.set(getattr(dut, f"i_{name}"), value)
        for addr in want:  # in order: each low word is read before its high word
            got[addr] = await axil_read(ctx, dut, addr, rng, stall=0.5)

    simulate(dut, bench)
    assert got == {addr: (value, OKAY) for addr, value in want.items()}


def test_unmapped_reads_answer_slverr_and_zero() -> None:
    dut = RegisterBlock(PARAMS, build_id=0x12345678)
    addrs = [0x28, 0x2C, 0x30, 0x3C, 0x78, 0x7C, 0x80, 0xFC, 0x03, 0x0A, 0x00]
    got = []

    async def bench(ctx):
        for addr in addrs:
            got.append(await axil_read(ctx, dut, addr))

    simulate(dut, bench)
    # the low two address bits are ignored: 0x03 reads magic, 0x0A the build id
    assert got == [(0, SLVERR)] * 8 + [(0x484C3243, OKAY), (0x12345678, OKAY), (0x484C3243, OKAY)]


@pytest.mark.parametrize(("aw_delay", "w_delay"), [(0, 0), (0, 3), (4, 0), (2, 2)])
def test_writes_answer_slverr_and_change_nothing(aw_delay: int, w_delay: int) -> None:
    dut = RegisterBlock(PARAMS, build_id=0x0BADF00D)
    got = []

    async def bench(ctx):
        for addr in (0x08, 0x00, 0x40, 0x99):
            got.append(await axil_write(ctx, dut, addr, 0xFFFFFFFF, aw_delay, w_delay))
        got.append(await axil_read(ctx, dut, 0x08))
        got.append(await axil_read(ctx, dut, 0x00))

    simulate(dut, bench)
    assert got == [SLVERR] * 4 + [(0x0BADF00D, OKAY), (0x484C3243, OKAY)]


def test_reading_a_low_word_latches_its_high_word() -> None:
    dut = RegisterBlock(PARAMS)
    got = []

    async def bench(ctx):
        r = lambda addr: axil_read(ctx, dut, addr)  # noqa: E731
        got.append(await r(0x44))  # no low word read yet: the latch's reset value
        ctx.set(dut.i_cycles, 0x1_FFFF_FFFF)
        got.append(await r(0x40))
        ctx.set(dut.i_cycles, 0x2_0000_0005)  # the low word wrapped after it was read
        got.append(await r(0x44))
        got.append(await r(0x44))  # re-reading the high word gives the same latch
        got.append(await r(0x40))
        got.append(await r(0x44))
        # each counter has its own latch: interleaved pairs stay consistent
        ctx.set(dut.i_msgs_in, 0x7_0000_0001)
        ctx.set(dut.i_bad, 0x9_0000_0002)
        got.append(await r(0x48))
        got.append(await r(0x58))
        ctx.set(dut.i_msgs_in, 0x8_0000_0000)
        ctx.set(dut.i_bad, 0xA_0000_0000)
        got.append(await r(0x4C))
        got.append(await r(0x5C))

    simulate(dut, bench)
    values = [data for data, resp in got]
    assert all(resp == OKAY for _, resp in got)
    assert values == [0, 0xFFFF_FFFF, 1, 1, 5, 2, 1, 2, 7, 9]


def test_pairs_read_from_a_running_counter_are_consistent() -> None:
    """The counter crosses 2**32 while pairs are read; every pair is a value it held."""
    dut = RegisterBlock(PARAMS)
    start, step = (1 << 32) - 40, 3
    now = [start]
    pairs = []

    async def counter(ctx):
        ctx.set(dut.i_cycles, start)
        async for _ in ctx.tick():
            now[0] += step
            ctx.set(dut.i_cycles, now[0])

    async def bench(ctx):
        rng = random.Random(2)
        for _ in range(20):
            lo, _ = await axil_read(ctx, dut, 0x40, rng, stall=0.3)
            hi, _ = await axil_read(ctx, dut, 0x44, rng, stall=0.3)
            pairs.append((hi << 32 | lo, now[0]))

    simulate(dut, bench, counter)
    values = [value for value, _ in pairs]
    assert values[0] < 1 << 32 < values[-1], "the reads must straddle the carry"
    assert values == sorted(values)
    for value, seen_after in pairs:
        assert (value - start) % step == 0 and start <= value <= seen_after
