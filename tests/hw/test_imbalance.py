"""hean_hw.imbalance: the pipelined divider against the contract's formula."""

from __future__ import annotations

import random

import pytest
from amaranth.back import verilog
from amaranth.sim import Simulator

from hean_hw.imbalance import Imbalance

from .harness import run_pipeline


def imb(b: int, a: int) -> int:
    """The contract: trunc((b - a) * 32768 / (b + a)) clipped to +-32767, 0 when empty."""
    if b + a == 0:
        return 0
    num = (b - a) * 32768
    q = abs(num) // (b + a)
    return max(-32767, min(32767, -q if num < 0 else q))


def operands(width: int, n: int, seed: int) -> list[tuple[int, int]]:
    rng = random.Random(seed)
    top = (1 << width) - 1
    fixed = [
        (0, 0),
        (1, 0),
        (0, 1),
        (top, 0),
        (0, top),
        (top, top),
        (1, 2),
        (2, 1),
        (5, 12),
        (top, top - 1),
        (1, top),
        (top, 1),
        (3, 3),
    ]
    pairs = list(fixed)
    while len(pairs) < n:
        scale = rng.choice([4, 16, width])
        pairs.append((rng.getrandbits(scale), rng.getrandbits(scale)))
    return pairs


def run(dut: Imbalance, pairs: list[tuple[int, int]], stall: float, seed: int) -> list[int]:
    """Feed pairs back to back, holding the pipeline at random (en = 0); collect results."""
    rows = [{"i_b": b, "i_a": a} for b, a in pairs]
    return [r["o_imb"] for r in run_pipeline(dut, rows, ["o_imb"], stall=stall, seed=seed)]


@pytest.mark.parametrize(("width", "steps"), [(32, 1), (32, 2), (64, 2), (64, 3), (38, 16)])
def test_matches_the_formula_back_to_back(width: int, steps: int) -> None:
    pairs = operands(width, 300, seed=width * steps)
    dut = Imbalance(width, steps_per_stage=steps)
    assert run(dut, pairs, stall=0.0, seed=1) == [imb(b, a) for b, a in pairs]


def test_holds_while_stalled() -> None:
    pairs = operands(64, 200, seed=9)
    assert run(Imbalance(64), pairs, stall=0.4, seed=2) == [imb(b, a) for b, a in pairs]


def test_latency_is_one_result_per_clock_after_the_fill() -> None:
    dut = Imbalance(32, steps_per_stage=2)
    assert dut.latency == 10
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    seen = []

    async def bench(ctx):
        ctx.set(dut.i_valid, 1)
        ctx.set(dut.i_b, 3)
        ctx.set(dut.i_a, 1)
        await ctx.tick()
        ctx.set(dut.i_valid, 0)
        for cycle in range(1, 14):
            seen.append((cycle, ctx.get(dut.o_valid), ctx.get(dut.o_imb)))
            await ctx.tick()

    sim.add_testbench(bench)
    sim.run()
    valid = [(c, v) for c, v, _ in seen if v]
    assert [c for c, _ in valid] == [dut.latency]
    assert [x for c, v, x in seen if v] == [imb(3, 1)]


def test_exports_to_verilog() -> None:
    text = verilog.convert(Imbalance(64), name="imbalance")
    assert "module imbalance" in text


@pytest.mark.filterwarnings("ignore:.*created but never used")
def test_steps_per_stage_is_checked() -> None:
    with pytest.raises(ValueError, match=r"1\.\.16"):
        Imbalance(32, steps_per_stage=0)
