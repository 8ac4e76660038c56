"""hean_hw.rec_lanes: records written whole leave as 16 beats of 64 bits, TLAST on every 16th."""

from __future__ import annotations

import gc
import random
import warnings

import pytest
from amaranth.hdl import UnusedElaboratable
from amaranth.sim import Simulator

from hean_hw.rec_lanes import LaneFifo

from .test_rec_fifo import run as simulate

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


def random_records(n: int, seed: int, size: int = REC_BYTES) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(size) for _ in range(n)]


def run(
    dut: LaneFifo, records: list[bytes], *, idle: float, stall: float, seed: int
) -> tuple[list[tuple[int, int]], int, int]:
    """Write ``records`` (at random, while ``w_rdy``), collect their beats; return the beats,
    the clocks ``taken`` was high and the most records the FIFO held at once."""
    rng = random.Random(seed)
    beats: list[tuple[int, int]] = []
    stats = {"taken": 0, "held": 0}
    sim = Simulator(dut)
    sim.add_clock(1e-8)

    async def source(ctx):
        held = 0
        for rec in records:
            while rng.random() < idle:
                ctx.set(dut.w_en, 0)
                _, _, taken = await ctx.tick().sample(dut.taken)
                held -= taken
                stats["taken"] += taken
            ctx.set(dut.w_data, int.from_bytes(rec, "little"))
            ctx.set(dut.w_en, 1)
            while True:
                _, _, ready, taken = await ctx.tick().sample(dut.w_rdy, dut.taken)
                held += ready - taken
                stats["taken"] += taken
                stats["held"] = max(stats["held"], held)
                if ready:
                    break
        ctx.set(dut.w_en, 0)
        while stats["taken"] < len(records):
            _, _, taken = await ctx.tick().sample(dut.taken)
            stats["taken"] += taken

    async def sink(ctx):
        await collect_axis(ctx, dut, len(records) * dut.beats, rng, stall, beats)

    sim.add_testbench(source)
    sim.add_testbench(sink)
    sim.run()
    return beats, stats["taken"], stats["held"]


@pytest.mark.parametrize(
    ("idle", "stall", "depth", "seed"),
    [(0.0, 0.0, 4, 1), (0.5, 0.0, 8, 2), (0.2, 0.5, 4, 3), (0.0, 0.9, 2, 4), (0.9, 0.1, 64, 5)],
)
def test_records_leave_as_beats_in_order(idle: float, stall: float, depth: int, seed: int) -> None:
    records = random_records(120, seed)
    dut = LaneFifo(1024, depth)
    beats, taken, held = run(dut, records, idle=idle, stall=stall, seed=seed)
    assert len(beats) == 16 * len(records)
    assert [last for _, last in beats] == ([0] * 15 + [1]) * len(records)
    # beat k of record r is bytes 8k..8k+7, little-endian
    want = [int.from_bytes(rec[8 * k : 8 * k + 8], "little") for rec in records for k in range(16)]
    assert [data for data, _ in beats] == want
    assert unframe(beats) == records
    assert taken == len(records)  # one ``taken`` per record, on its last beat
    assert held <= dut.depth


def test_full_refuses_writes_until_a_record_is_taken() -> None:
    dut = LaneFifo(128, 3, beats=2)  # holds 4
    assert dut.depth == 4
    seen = []

    async def bench(ctx):
        ctx.set(dut.m_axis_tready, 0)
        for k in range(6):
            ctx.set(dut.w_data, k)
            ctx.set(dut.w_en, 1)
            _, _, ready = await ctx.tick().sample(dut.w_rdy)
            seen.append(ready)
        ctx.set(dut.w_en, 0)
        ctx.set(dut.m_axis_tready, 1)
        # beat 0 of the first record is on the bus already: on the first clock with
        # ``tready`` it goes and its last beat moves into the output register; ``taken``
        # is high the clock after, and the record's slot is free from the edge after it
        for _ in range(3):
            _, _, ready = await ctx.tick().sample(dut.w_rdy)
            seen.append(ready)

    simulate(dut, bench)
    assert seen == [1, 1, 1, 1, 0, 0, 0, 0, 1]


def test_beats_leave_back_to_back_after_the_stated_latency() -> None:
    """Records written one per clock leave as one beat per clock with no gap between
    records; the first beat is on the bus ``latency`` edges after its write."""
    records = random_records(10, 6)
    dut = LaneFifo(1024, 16)
    valid_clocks = []

    async def bench(ctx):
        ctx.set(dut.m_axis_tready, 1)
        for rec in records:
            ctx.set(dut.w_data, int.from_bytes(rec, "little"))
            ctx.set(dut.w_en, 1)
            _, _, valid = await ctx.tick().sample(dut.m_axis_tvalid)
            valid_clocks.append(valid)
        ctx.set(dut.w_en, 0)
        while len(valid_clocks) < 16 * len(records) + LaneFifo.latency + 2:
            _, _, valid = await ctx.tick().sample(dut.m_axis_tvalid)
            valid_clocks.append(valid)

    simulate(dut, bench)
    # a sample shows the values before its edge: the first record is written on edge 0
    # and its first beat is sent on edge ``latency``
    lead = LaneFifo.latency
    tail = len(valid_clocks) - lead - 16 * len(records)
    assert valid_clocks == [0] * lead + [1] * 16 * len(records) + [0] * tail
    assert tail > 0


@pytest.mark.parametrize("n", [1, 2, 4])
def test_other_bus_widths(n: int) -> None:
    records = random_records(40, 7)
    dut = LaneFifo(1024, 8, beats=n)
    assert len(dut.m_axis_tdata) == 1024 // n
    beats, _, _ = run(dut, records, idle=0.3, stall=0.3, seed=7)
    assert [last for _, last in beats] == ([0] * (n - 1) + [1]) * len(records)
    assert unframe(beats, width=128 // n) == records


def test_bad_sizes_are_refused() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)  # the refused objects are dropped
        with pytest.raises(ValueError, match="whole-byte beats"):
            LaneFifo(1024, 8, beats=3)
        with pytest.raises(ValueError, match="depth"):
            LaneFifo(1024, 1)
        gc.collect()
