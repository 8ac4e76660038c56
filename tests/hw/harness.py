"""Drive a pipelined gateware component with rows of inputs and collect its outputs.

Components of the core share one convention: an ``en`` input (global stall), an
``i_valid`` input, and registered outputs with ``o_valid`` a fixed number of enabled
cycles later. The mirror supplies both the inputs (derived from its records) and the
expected outputs, so each component is checked against the golden model in isolation.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
from amaranth.sim import Simulator

from hean.engine import Mirror
from hean.wire import Params

from ..hean.engine.reference import is_bad

EMPTY_ASK = 0xFFFFFFFF


def run_pipeline(
    dut: object,
    rows: Sequence[dict[str, int]],
    outputs: Sequence[str],
    *,
    stall: float = 0.0,
    seed: int = 0,
) -> list[dict[str, int]]:
    """Feed ``rows`` (port name -> value) back to back; return the outputs per row.

    With ``stall`` > 0 the pipeline enable drops at random, which must only delay results.
    """
    rng = random.Random(seed)
    got: list[dict[str, int]] = []
    sim = Simulator(dut)
    sim.add_clock(1e-8)

    async def bench(ctx):
        i = 0
        while len(got) < len(rows):
            en = rng.random() >= stall
            ctx.set(dut.en, en)
            if i < len(rows):
                ctx.set(dut.i_valid, 1)
                for name, value in rows[i].items():
                    ctx.set(getattr(dut, name), value)
            else:
                ctx.set(dut.i_valid, 0)
            await ctx.tick()
            if en and i < len(rows):
                i += 1
            if en and ctx.get(dut.o_valid):
                got.append({name: ctx.get(getattr(dut, name)) for name in outputs})

    sim.add_testbench(bench)
    sim.run()
    return got


def mirror_view(msgs: np.ndarray, params: Params) -> tuple[np.ndarray, list[dict[str, int]]]:
    """Mirror records plus, per message, the best levels before it (spec step 2).

    "Before" is the instrument's book as the previous record of that instrument left it
    (bad records echo the state, so they qualify), read with the empty-side convention.
    """
    recs = Mirror(params).process(msgs)
    last: dict[int, tuple[int, int, int, int]] = {}
    before = []
    for r in recs:
        inst = int(r["instrument"])
        before.append(last.get(inst, (0, 0, EMPTY_ASK, 0)))
        if inst < params.N:
            last[inst] = best_after(r)
    return recs, [dict(zip(("pb", "qb", "pa", "qa"), b, strict=True)) for b in before]


def best_after(r: np.void) -> tuple[int, int, int, int]:
    """A record's best levels with the spec's empty-side convention (ask reads 0xFFFFFFFF)."""
    pa = int(r["ask_px"]) if r["levels_ask"] else EMPTY_ASK
    return int(r["bid_px"]), int(r["bid_qty"]), pa, int(r["ask_qty"])


def is_good(m: np.void, N: int) -> bool:
    """The contract's validity rules, as the validator will apply them."""
    return not is_bad(m, N)
