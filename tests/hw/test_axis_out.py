"""hean_hw.axis_out: feature records sent as 16 beats of 64 bits, TLAST on every 16th."""

from __future__ import annotations

import gc
import random
import warnings

import pytest
from amaranth.hdl import UnusedElaboratable
from amaranth.sim import Simulator

from hean_hw.axis_out import RecNarrow

REC_BYTES = 128


async def collect_axis(ctx, dut, n_beats: int, rng: random.Random, stall: float, beats: list):
    """AXI-Stream slave: take ``n_beats`` beats as (tdata, tlast), refusing at random.

    Also checks the master's side of the protocol: a beat offered and not taken stays
    offered, unchanged, until it is taken.
    """
    held = None
    while len(beats) < n_beats:
        ready = rng.random() >= stall
        ctx.set(dut.m_axis_tready, ready)
        _, _, valid, data, last = await ctx.tick().sample(
            dut.m_axis_tvalid, dut.m_axis_tdata, dut.m_axis_tlast
        )
        if held is not None:
            assert valid and (data, last) == held, "an offered beat changed before it was taken"
        held = (data, last) if valid and not ready else None
        if valid and ready:
            beats.append((data, last))
    ctx.set(dut.m_axis_tready, 0)


def unframe(beats: list[tuple[int, int]], width: int = 8) -> list[bytes]:
    """Records from beats, split at TLAST."""
    records, current = [], b""
    for data, last in beats:
        current += data.to_bytes(width, "little")
        if last:
            records.append(current)
            current = b""
    assert current == b"", "beats after the last TLAST"
    return records


def run(
    dut: RecNarrow, records: list[bytes], *, idle: float, stall: float, seed: int
) -> list[tuple[int, int]]:
    rng = random.Random(seed)
    beats: list[tuple[int, int]] = []
    sim = Simulator(dut)
    sim.add_clock(1e-8)

    async def source(ctx):
        for rec in records:
            while rng.random() < idle:
                ctx.set(dut.i_stream.valid, 0)
                await ctx.tick()
            ctx.set(dut.i_stream.payload.as_value(), int.from_bytes(rec, "little"))
            ctx.set(dut.i_stream.valid, 1)
            while True:
                _, _, ready = await ctx.tick().sample(dut.i_stream.ready)
                if ready:
                    break
        ctx.set(dut.i_stream.valid, 0)

    async def sink(ctx):
        await collect_axis(ctx, dut, len(records) * dut.beats, rng, stall, beats)

    sim.add_testbench(source)
    sim.add_testbench(sink)
    sim.run()
    return beats


def random_records(n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(REC_BYTES) for _ in range(n)]


@pytest.mark.parametrize(("idle", "stall", "seed"), [(0.0, 0.0, 1), (0.5, 0.0, 2), (0.2, 0.5, 3)])
def test_records_leave_as_beats_in_order(idle: float, stall: float, seed: int) -> None:
    records = random_records(100, seed)
    beats = run(RecNarrow(), records, idle=idle, stall=stall, seed=seed)
    assert len(beats) == 16 * len(records)
    assert [last for _, last in beats] == ([0] * 15 + [1]) * len(records)
    # beat k of record r is bytes 8k..8k+7, little-endian
    want = [int.from_bytes(rec[8 * k : 8 * k + 8], "little") for rec in records for k in range(16)]
    assert [data for data, _ in beats] == want
    assert unframe(beats) == records


def test_one_beat_per_clock_across_records() -> None:
    """Records waiting at the input leave with no idle clock between them."""
    records = random_records(10, 4)
    dut = RecNarrow()
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    valid_clocks = []

    async def bench(ctx):
        ctx.set(dut.m_axis_tready, 1)
        pending = list(records)
        while len(valid_clocks) < 16 * len(records) + 3:
            if pending:
                ctx.set(dut.i_stream.payload.as_value(), int.from_bytes(pending[0], "little"))
            ctx.set(dut.i_stream.valid, bool(pending))
            _, _, taken, valid = await ctx.tick().sample(dut.i_stream.ready, dut.m_axis_tvalid)
            if taken and pending:
                pending.pop(0)
            valid_clocks.append(valid)

    sim.add_testbench(bench)
    sim.run()
    # one clock to load the first record, then 160 beats back to back, then nothing
    assert valid_clocks == [0] + [1] * 16 * len(records) + [0, 0]


@pytest.mark.parametrize("n", [1, 2])
def test_other_bus_widths(n: int) -> None:
    records = random_records(40, 5)
    dut = RecNarrow(beats=n)
    assert len(dut.m_axis_tdata) == 1024 // n
    beats = run(dut, records, idle=0.3, stall=0.3, seed=5)
    assert [last for _, last in beats] == ([0] * (n - 1) + [1]) * len(records)
    assert unframe(beats, width=128 // n) == records


def test_beats_must_split_the_record_into_bytes() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)  # the refused object is dropped
        with pytest.raises(ValueError, match="whole-byte beats"):
            RecNarrow(beats=3)
        gc.collect()
