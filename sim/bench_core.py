"""cocotb bench of the Verilog ``hl2_core`` (FeatureCore exported by ``sim/run.py``).

The driver (``run.py``) prepares one folder per job and names them in the JSON file
that ``HEAN_SIM_JOBS`` points to; every job becomes one cocotb test. A job folder holds

``job.json``
    ``name``, ``latency`` (the core's, from the build), ``idle`` (probability of an idle
    cycle before each message), ``stall`` (probability that the sink is not ready in a
    cycle), ``seed``, ``ii1`` (check one message per clock), ``compare`` (check each
    record against the mirror's here), ``save`` (keep every record) and ``counters``
    (the mirror's counters, or null).
``msgs.npy``
    The HL2 messages.
``want.npy``
    The mirror's records (when ``compare``).

and gets ``result.json`` (cycles, wall time, stamps, the core's counters) and, with
``save``, ``got.npy`` (every record the core gave, cycle stamps included).

One coroutine drives and samples the core at each falling clock edge: the core's
``i_stream.ready`` and ``o_stream.valid``/``payload`` are registered or depend only on
its state (never on this cycle's ``valid``/``ready`` inputs), so what is read there is
what the next rising edge sees, and one trigger per clock is all the bench awaits.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge
from scoreboard import (
    CONTRACT_MASK,
    COUNTERS,
    STAMP_MASK,
    T_IN_SHIFT,
    T_OUT_SHIFT,
    describe_mismatch,
)

from hean.wire import REC_DTYPE
from hean_hw.layouts import to_bits


def _jobs() -> list[str]:
    listing = os.environ.get("HEAN_SIM_JOBS")
    if not listing:
        return []
    return json.loads(Path(listing).read_text())


async def _reset(dut) -> None:
    dut.i_stream__valid.value = 0
    dut.o_stream__ready.value = 0
    dut.rst.value = 1
    for _ in range(3):
        await FallingEdge(dut.clk)
    dut.rst.value = 0


async def run(dut, folder: Path) -> None:
    spec = json.loads((folder / "job.json").read_text())
    msgs = np.load(folder / "msgs.npy")
    beats = to_bits(msgs)
    n = len(beats)
    compare = spec["compare"]
    want = [v & CONTRACT_MASK for v in to_bits(np.load(folder / "want.npy"))] if compare else []
    latency = spec["latency"]
    idle, stall, ii1 = spec["idle"], spec["stall"], spec["ii1"]
    rng = random.Random(spec["seed"])
    saved = bytearray() if spec["save"] else None
    log = dut._log

    i_valid, i_ready, i_payload = dut.i_stream__valid, dut.i_stream__ready, dut.i_stream__payload
    o_valid, o_ready, o_payload = dut.o_stream__valid, dut.o_stream__ready, dut.o_stream__payload

    Clock(dut.clk, 10, unit="ns").start()
    await _reset(dut)
    edge = FallingEdge(dut.clk)

    sent = taken = cycle = last_progress = 0
    presenting = False  # i_stream.valid is up with beats[sent]
    iv = orv = 0  # what i_stream.valid and o_stream.ready are driven to
    first_t_in = prev_t_in = -1
    limit = 4 * latency + 1000  # cycles without any handshake before giving up
    error = None
    started = time.perf_counter()

    def fail(text: str) -> None:
        nonlocal error
        error = error or text

    while taken < n:
        await edge
        cycle += 1
        # ---- source: hold a presented beat until taken; idle only between beats
        if sent < n:
            if not presenting:
                if idle and rng.random() < idle:
                    if iv:
                        i_valid.value = iv = 0
                else:
                    i_payload.value = beats[sent]
                    presenting = True
                    if not iv:
                        i_valid.value = iv = 1
            if presenting and i_ready.value:
                sent += 1
                presenting = False
                last_progress = cycle
        elif iv:
            i_valid.value = iv = 0
        # ---- sink: random back-pressure
        ready = 1 if not stall or rng.random() >= stall else 0
        if ready != orv:
            o_ready.value = orv = ready
        if ready and o_valid.value:
            beat = int(o_payload.value)
            last_progress = cycle
            t_in = (beat >> T_IN_SHIFT) & STAMP_MASK
            t_out = (beat >> T_OUT_SHIFT) & STAMP_MASK
            if saved is not None:
                saved += beat.to_bytes(REC_DTYPE.itemsize, "little")
            if compare and (beat & CONTRACT_MASK) != want[taken]:
                fail(describe_mismatch(taken, msgs[taken], beat, want[taken]))
            if t_out - t_in != latency:
                fail(
                    f"record {taken}: engine_t_out - engine_t_in = {t_out - t_in}, "
                    f"the core's latency is {latency}"
                )
            if prev_t_in >= 0 and t_in <= prev_t_in:
                fail(f"record {taken}: engine_t_in {t_in} after {prev_t_in} (order lost?)")
            if ii1 and prev_t_in >= 0 and t_in != prev_t_in + 1:
                fail(
                    f"record {taken}: engine_t_in {t_in} after {prev_t_in}: "
                    "the core did not take one message per clock"
                )
            if first_t_in < 0:
                first_t_in = t_in
            prev_t_in = t_in
            taken += 1
            if error and compare:
                break
        if cycle - last_progress > limit:
            fail(
                f"no handshake for {limit} cycles: {sent} of {n} messages accepted, "
                f"{taken} records received"
            )
            break
    wall = time.perf_counter() - started

    # ---- drain: nothing more may come out; counters settle
    i_valid.value = 0
    o_ready.value = 1
    extra = 0
    for _ in range(latency + 16):
        await edge
        if o_valid.value:
            extra += 1
    if extra and not error:
        fail(f"{extra} records beyond the {n} expected")
    counters = {name: int(getattr(dut, name).value) for name in COUNTERS}
    expected = spec.get("counters")
    if expected and not error:
        diff = [
            f"{name}: expected {expected[key]}, got {counters[name]}"
            for name, key in COUNTERS.items()
            if counters[name] != expected[key]
        ]
        if diff:
            fail("counters differ from the mirror's: " + "; ".join(diff))

    result = {
        "name": spec["name"],
        "messages": n,
        "records": taken,
        "cycles": cycle,
        "wall_s": wall,
        "first_t_in": first_t_in,
        "last_t_in": prev_t_in,
        "counters": counters,
        "error": error,
    }
    (folder / "result.json").write_text(json.dumps(result, indent=1))
    if saved is not None:
        np.save(folder / "got.npy", np.frombuffer(bytes(saved), dtype=REC_DTYPE))
    log.info(
        "%s: %d messages, %d cycles, %.1f s, %.0f messages/s",
        spec["name"],
        n,
        cycle,
        wall,
        n / wall if wall else 0.0,
    )
    if error is not None:
        raise AssertionError(f"{spec['name']}: {error}")


JOBS = _jobs()
if JOBS:

    @cocotb.test()
    @cocotb.parametrize(job=[cocotb.Param(value=j, name=Path(j).name) for j in JOBS])
    async def core_job(dut, job: str) -> None:
        """One job: stream its messages through the core and check every record."""
        await run(dut, Path(job))
