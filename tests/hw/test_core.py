"""hean_hw.core against the mirror in the Amaranth simulator: whole records, bytes 0..111."""

from __future__ import annotations

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from hean.engine import Mirror
from hean.feeds.adversarial import adversarial_stream
from hean.wire import CONTRACT_BYTES, REC_DTYPE, Params
from hean_hw.core import FeatureCore
from hean_hw.layouts import from_bits, to_bits


def simulate(
    core: FeatureCore, msgs: np.ndarray, *, idle: float, stall: float, seed: int
) -> np.ndarray:
    """Stream ``msgs`` in (random idle cycles) and records out (random back-pressure)."""
    rng = random.Random(seed)
    beats = to_bits(msgs)
    got: list[int] = []
    sim = Simulator(core)
    sim.add_clock(1e-8)

    async def source(ctx):
        for beat in beats:
            while rng.random() < idle:
                ctx.set(core.i_stream.valid, 0)
                await ctx.tick()
            ctx.set(core.i_stream.payload.as_value(), beat)
            ctx.set(core.i_stream.valid, 1)
            await ctx.tick().until(core.i_stream.ready)
        ctx.set(core.i_stream.valid, 0)

    async def sink(ctx):
        while len(got) < len(beats):
            ready = rng.random() >= stall
            ctx.set(core.o_stream.ready, ready)
            # the handshake happens at the edge: sample valid and payload there
            _, _, valid, payload = await ctx.tick().sample(
                core.o_stream.valid, core.o_stream.payload.as_value()
            )
            if ready and valid:
                got.append(payload)

    sim.add_testbench(source)
    sim.add_testbench(sink)
    sim.run()
    return from_bits(got, REC_DTYPE)


def compare(got: np.ndarray, want: np.ndarray, msgs: np.ndarray) -> None:
    assert len(got) == len(want)
    a = got.view(np.uint8).reshape(-1, 128)[:, :CONTRACT_BYTES]
    b = want.view(np.uint8).reshape(-1, 128)[:, :CONTRACT_BYTES]
    for i in np.flatnonzero((a != b).any(axis=1))[:1]:
        diff = {f: (got[i][f], want[i][f]) for f in REC_DTYPE.names[:-2] if got[i][f] != want[i][f]}
        raise AssertionError(f"record {i} for {msgs[i]}: (rtl, mirror) {diff}")


@pytest.mark.parametrize(
    ("K", "N", "seed", "idle", "stall"),
    [(4, 2, 1, 0.0, 0.0), (4, 2, 2, 0.3, 0.3), (8, 3, 3, 0.1, 0.5)],
)
def test_core_matches_the_mirror(K: int, N: int, seed: int, idle: float, stall: float) -> None:
    p = Params(K=K, N=N)
    msgs = adversarial_stream(seed, 500, instruments=N, N=N, band=3 * K, bad_rate=0.05)
    core = FeatureCore(p, fifo_depth=40)
    got = simulate(core, msgs, idle=idle, stall=stall, seed=seed)
    compare(got, Mirror(p).process(msgs), msgs)
    if idle == 0.0 and stall == 0.0:
        t_in = got["engine_t_in"].astype(np.int64)
        assert (np.diff(t_in) == 1).all(), "II = 1: one message accepted per clock"
        assert set((got["engine_t_out"] - got["engine_t_in"]).tolist()) == {core.latency}


@pytest.mark.filterwarnings("ignore:.*created but never used")
def test_fifo_too_small_for_ii_1_is_refused() -> None:
    with pytest.raises(ValueError, match="one message per clock"):
        FeatureCore(Params(K=4, N=1), fifo_depth=16)


def test_core_exports_to_verilog_at_the_default_parameters() -> None:
    from amaranth.back import verilog

    core = FeatureCore(Params())
    # S0, SV, book 6, then the dividers (18) start 4 clocks later, when the depth sums
    # are there (the trees take 5 and start a clock before the book's other outputs)
    assert core.latency == 30
    text = verilog.convert(core, name="hean_core")
    assert "module hean_core" in text
