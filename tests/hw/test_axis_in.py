"""hean_hw.axis_in: 64-bit AXI-Stream beats gathered into HL2 messages."""

from __future__ import annotations

import gc
import random
import warnings

import pytest
from amaranth.hdl import UnusedElaboratable
from amaranth.sim import Simulator

from hean.feeds.adversarial import adversarial_stream
from hean_hw.axis_in import MsgWiden

MSG_BYTES = 32


def frame(
    raw: list[bytes], rng: random.Random, *, width: int = 8, longest: int = 6, cut: float = 0.0
) -> tuple[list[tuple[int, int]], list[bytes], int]:
    """Split messages into DMA transfers of 1..``longest`` messages, as (tdata, tlast) beats.

    With probability ``cut`` a transfer loses 1..beats-1 beats at its end (its last
    message is truncated). Returns the beats, the messages that survive whole, and the
    number of truncated transfers.
    """
    beats: list[tuple[int, int]] = []
    kept: list[bytes] = []
    cuts = 0
    per_message = len(raw[0]) // width
    i = 0
    while i < len(raw):
        chunk = raw[i : i + rng.randint(1, longest)]
        i += len(chunk)
        data = b"".join(chunk)
        words = [data[k : k + width] for k in range(0, len(data), width)]
        if per_message > 1 and rng.random() < cut:
            words = words[: -rng.randint(1, per_message - 1)]
            chunk = chunk[:-1]
            cuts += 1
        kept += chunk
        beats += [(int.from_bytes(w, "little"), j == len(words) - 1) for j, w in enumerate(words)]
    return beats, kept, cuts


async def drive_axis(ctx, dut, beats: list[tuple[int, int]], rng: random.Random, idle: float):
    """AXI-Stream master: each beat held until taken; ``idle`` is the chance of a gap."""
    for data, last in beats:
        while rng.random() < idle:
            ctx.set(dut.s_axis_tvalid, 0)
            await ctx.tick()
        ctx.set(dut.s_axis_tdata, data)
        ctx.set(dut.s_axis_tlast, last)
        ctx.set(dut.s_axis_tvalid, 1)
        # a beat that is never taken must fail the test, not hang it
        for _ in range(10_000):
            _, _, ready = await ctx.tick().sample(dut.s_axis_tready)
            if ready:
                break
        else:
            raise AssertionError("a beat was not taken in 10,000 clocks")
    ctx.set(dut.s_axis_tvalid, 0)


def run(
    dut: MsgWiden, beats: list[tuple[int, int]], n_out: int, *, idle: float, stall: float, seed: int
) -> tuple[list[bytes], int]:
    """Drive ``beats`` in, collect ``n_out`` messages; return them and the framing errors."""
    rng = random.Random(seed)
    got: list[bytes] = []
    errors = []
    sim = Simulator(dut)
    sim.add_clock(1e-8)

    async def source(ctx):
        await drive_axis(ctx, dut, beats, rng, idle)
        await ctx.tick().repeat(2)
        errors.append(ctx.get(dut.o_framing_errors))

    # a lost message must fail the test, not hang it: far more clocks than any run needs
    limit = 50 * (len(beats) + n_out) + 1000

    async def sink(ctx):
        held = None  # payload offered but not taken on the previous edge
        for _ in range(limit):
            if len(got) == n_out:
                break
            ready = rng.random() >= stall
            ctx.set(dut.o_stream.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(
                dut.o_stream.valid, dut.o_stream.payload.as_value()
            )
            if held is not None:
                assert valid and payload == held, "an offered message changed before it was taken"
            held = payload if valid and not ready else None
            if ready and valid:
                got.append(payload.to_bytes(MSG_BYTES, "little"))
        assert len(got) == n_out, f"{len(got)} of {n_out} messages came out in {limit} clocks"

    sim.add_testbench(source)
    sim.add_testbench(sink)
    sim.run()
    return got, errors[0]


def messages(seed: int, n: int) -> list[bytes]:
    msgs = adversarial_stream(seed, n, instruments=2, N=2)
    raw = msgs.tobytes()
    return [raw[i : i + MSG_BYTES] for i in range(0, len(raw), MSG_BYTES)]


@pytest.mark.parametrize(("idle", "stall", "seed"), [(0.0, 0.0, 1), (0.4, 0.0, 2), (0.3, 0.6, 3)])
def test_messages_pass_whole_and_in_order(idle: float, stall: float, seed: int) -> None:
    raw = messages(seed, 300)
    beats, kept, cuts = frame(raw, random.Random(seed))
    assert cuts == 0 and kept == raw
    got, errors = run(MsgWiden(), beats, len(raw), idle=idle, stall=stall, seed=seed)
    assert got == raw
    assert errors == 0


@pytest.mark.parametrize("seed", [4, 5])
def test_truncated_transfers_are_dropped_counted_and_recovered(seed: int) -> None:
    raw = messages(seed, 300)
    beats, kept, cuts = frame(raw, random.Random(seed), cut=0.3)
    assert cuts > 10 and len(kept) == len(raw) - cuts
    got, errors = run(MsgWiden(), beats, len(kept), idle=0.2, stall=0.3, seed=seed)
    assert got == kept
    assert errors == cuts


def test_tlast_on_the_first_beat_of_a_message() -> None:
    raw = messages(6, 3)
    words = lambda m: [int.from_bytes(m[k : k + 8], "little") for k in range(0, 32, 8)]  # noqa: E731
    # message 0 whole, then a lone beat with TLAST, then message 1 that ends the transfer
    # on its own last beat, then message 2 cut after 3 beats, then message 2 whole
    beats = [(w, 0) for w in words(raw[0])] + [(words(raw[1])[0], 1)]
    beats += [(w, k == 3) for k, w in enumerate(words(raw[1]))]
    beats += [(w, k == 2) for k, w in enumerate(words(raw[2])[:3])]
    beats += [(w, 0) for w in words(raw[2])]
    got, errors = run(MsgWiden(), beats, 3, idle=0.0, stall=0.0, seed=0)
    assert got == [raw[0], raw[1], raw[2]]
    assert errors == 2


def test_one_beat_per_clock_and_seven_beats_of_slack() -> None:
    """With the output stopped the widener takes a whole message and three beats of the
    next before it stalls; once the output runs, every beat is taken on its clock."""
    raw = messages(7, 20)
    beats, _, _ = frame(raw, random.Random(7), longest=20)
    dut = MsgWiden()
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    taken_while_stopped = []
    got = []

    async def bench(ctx):
        ctx.set(dut.o_stream.ready, 0)
        taken = 0
        for data, last in beats[:9]:
            ctx.set(dut.s_axis_tdata, data)
            ctx.set(dut.s_axis_tlast, last)
            ctx.set(dut.s_axis_tvalid, 1)
            _, _, ready = await ctx.tick().sample(dut.s_axis_tready)
            taken += ready
            if not ready:
                break
        taken_while_stopped.append(taken)
        ctx.set(dut.o_stream.ready, 1)
        # tready follows registers only: it rises the clock after the output drains
        _, _, ready, valid, payload = await ctx.tick().sample(
            dut.s_axis_tready, dut.o_stream.valid, dut.o_stream.payload.as_value()
        )
        assert not ready and valid
        got.append(payload.to_bytes(MSG_BYTES, "little"))
        # from here on: the beat left waiting, then the rest, one per clock
        for data, last in beats[taken:]:
            ctx.set(dut.s_axis_tdata, data)
            ctx.set(dut.s_axis_tlast, last)
            ctx.set(dut.s_axis_tvalid, 1)
            _, _, ready, valid, payload = await ctx.tick().sample(
                dut.s_axis_tready, dut.o_stream.valid, dut.o_stream.payload.as_value()
            )
            assert ready, "a bubble: a beat was refused while the output was ready"
            if valid:
                got.append(payload.to_bytes(MSG_BYTES, "little"))
        ctx.set(dut.s_axis_tvalid, 0)
        _, _, valid, payload = await ctx.tick().sample(
            dut.o_stream.valid, dut.o_stream.payload.as_value()
        )
        assert valid
        got.append(payload.to_bytes(MSG_BYTES, "little"))

    sim.add_testbench(bench)
    sim.run()
    assert taken_while_stopped == [7]
    assert got == raw


@pytest.mark.parametrize("n", [1, 2])
def test_other_bus_widths(n: int) -> None:
    raw = messages(8, 100)
    beats, kept, cuts = frame(raw, random.Random(8), width=32 // n, cut=0.2)
    dut = MsgWiden(beats=n)
    assert len(dut.s_axis_tdata) == 256 // n
    got, errors = run(dut, beats, len(kept), idle=0.2, stall=0.2, seed=8)
    assert got == kept
    assert errors == cuts


def test_beats_must_split_the_message_into_bytes() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)  # the refused object is dropped
        with pytest.raises(ValueError, match="whole-byte beats"):
            MsgWiden(beats=3)
        gc.collect()
