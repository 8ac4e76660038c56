"""hean_hw.top: the whole engine over its buses, against the mirror, byte for byte."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.sim import Simulator

from hean.engine import Mirror
from hean.feeds.adversarial import adversarial_stream
from hean.wire import CONTRACT_BYTES, MSG_DTYPE, REC_DTYPE, Params
from hean_hw.rec_lanes import LaneFifo
from hean_hw.top import HL2Top

from .test_axis_in import drive_axis, frame
from .test_rec_lanes import collect_axis, unframe
from .test_regs import OKAY, WANT_MAP, axil_read

PARAMS = Params(K=4, N=2)
#: a port declaration in Amaranth's Verilog: ``input [63:0] s_axis_tdata;``
PORT = re.compile(r"^\s*(?:input|output)\s+(?:wire\s+)?(?:\[(\d+):0\]\s+)?(\w+);", re.M)


def run(
    top: HL2Top,
    beats: list[tuple[int, int]],
    n_records: int,
    *,
    idle: float,
    stall: float,
    seed: int,
) -> tuple[np.ndarray, dict[str, int]]:
    """Drive ``beats`` into ``s_axis``, collect ``n_records`` from ``m_axis``, then read
    every register over ``s_axil``; return the records and the registers by name."""
    rng = random.Random(seed)
    out: list[tuple[int, int]] = []
    regs: dict[str, int] = {}
    sim = Simulator(top)
    sim.add_clock(1e-8)

    async def source(ctx):
        await drive_axis(ctx, top, beats, rng, idle)

    async def sink(ctx):
        await collect_axis(ctx, top, 16 * n_records, rng, stall, out)
        for name, addr in WANT_MAP.items():
            data, resp = await axil_read(ctx, top, addr)
            assert resp == OKAY, name
            regs[name] = data

    sim.add_testbench(source)
    sim.add_testbench(sink)
    sim.run()
    records = np.frombuffer(b"".join(unframe(out)), dtype=REC_DTYPE)
    counters = {
        name: regs[f"{name}_hi"] << 32 | regs[f"{name}_lo"]
        for name in ("cycles", "msgs_in", "recs_out", "bad", "gaps", "dropped", "framing_errors")
    }
    return records, regs | counters


def compare(got: np.ndarray, want: np.ndarray) -> None:
    assert len(got) == len(want)
    a = got.view(np.uint8).reshape(-1, REC_DTYPE.itemsize)[:, :CONTRACT_BYTES]
    b = want.view(np.uint8).reshape(-1, REC_DTYPE.itemsize)[:, :CONTRACT_BYTES]
    for i in np.flatnonzero((a != b).any(axis=1))[:1]:
        diff = {f: (got[i][f], want[i][f]) for f in REC_DTYPE.names if got[i][f] != want[i][f]}
        raise AssertionError(f"record {i}: (rtl, mirror) {diff}")


@pytest.mark.parametrize(
    ("seed", "idle", "stall", "cut"), [(1, 0.0, 0.0, 0.0), (2, 0.25, 0.25, 0.1)]
)
def test_top_matches_the_mirror_over_axi(seed: int, idle: float, stall: float, cut: float) -> None:
    msgs = adversarial_stream(seed, 200, instruments=2, N=2)
    raw = msgs.tobytes()
    beats, kept, cuts = frame(
        [raw[i : i + 32] for i in range(0, len(raw), 32)], random.Random(seed), cut=cut
    )
    assert (cuts > 0) == (cut > 0)
    kept_msgs = np.frombuffer(b"".join(kept), dtype=MSG_DTYPE)
    top = HL2Top(PARAMS, build_id=0xC0FFEE00 + seed, fifo_depth=40)
    got, regs = run(top, beats, len(kept), idle=idle, stall=stall, seed=seed)

    mirror = Mirror(PARAMS)
    compare(got, mirror.process(kept_msgs))
    c = mirror.counters()
    assert regs["msgs_in"] == regs["recs_out"] == c.messages == len(kept)
    assert (regs["bad"], regs["gaps"], regs["dropped"]) == (c.bad, c.gaps, c.dropped)
    assert regs["framing_errors"] == cuts
    assert regs["magic"] == 0x484C3243 and regs["version"] == 1
    assert regs["build_id"] == 0xC0FFEE00 + seed
    assert {k: regs[k] for k in PARAMS.as_dict()} == PARAMS.as_dict()
    assert regs["latency"] == top.latency
    # the cycle counter stamps the records and is read after the last of them left
    assert int(got["engine_t_out"].max()) < regs["cycles"]
    if idle == 0.0 and stall == 0.0:
        # back to back the 64-bit output is the bottleneck: one record per 16 clocks
        assert (np.diff(got["engine_t_out"].astype(np.int64)[len(got) // 2 :]) == 16).all()


def test_latency_from_last_input_beat_to_first_output_beat() -> None:
    top = HL2Top(PARAMS, fifo_depth=40)
    msgs = adversarial_stream(4, 3, instruments=2, N=2)
    raw = msgs.tobytes()
    measured = []

    async def bench(ctx):
        ctx.set(top.m_axis_tready, 1)
        clock = 0
        for m in range(len(msgs)):
            words = [raw[32 * m + k : 32 * m + k + 8] for k in range(0, 32, 8)]
            for k, word in enumerate(words):
                ctx.set(top.s_axis_tdata, int.from_bytes(word, "little"))
                ctx.set(top.s_axis_tlast, k == 3)
                ctx.set(top.s_axis_tvalid, 1)
                _, _, ready = await ctx.tick().sample(top.s_axis_tready)
                assert ready
                clock += 1
            ctx.set(top.s_axis_tvalid, 0)
            done = clock  # the edge that took the last beat
            while True:
                _, _, valid = await ctx.tick().sample(top.m_axis_tvalid)
                clock += 1
                if valid:
                    break
            measured.append(clock - done)
            await ctx.tick().repeat(20)  # let the other 15 beats leave
            clock += 20

    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert measured == [top.latency] * len(msgs)
    assert top.latency == 1 + top.core.latency + LaneFifo.latency


def test_ports_are_the_three_buses_and_fit_a_package() -> None:
    top = HL2Top(Params(K=4, N=1))
    names = set(top.signature.members)
    axis = {"tdata", "tvalid", "tready", "tlast"}
    axil = {"awaddr", "awvalid", "awready", "wdata", "wstrb", "wvalid", "wready", "bresp"}
    axil |= {"bvalid", "bready", "araddr", "arvalid", "arready", "rdata", "rresp", "rvalid"}
    axil |= {"rready"}
    want = {f"s_axis_{n}" for n in axis} | {f"m_axis_{n}" for n in axis}
    want |= {f"s_axil_{n}" for n in axil}
    assert names == want
    text = verilog.convert(top, name="hl2_top")
    header = text[text.index("module hl2_top(") :]
    header = header[: header.index("endmodule")]
    bits = 0
    for msb, name in PORT.findall(header):
        bits += int(msb) + 1 if msb else 1
        assert name in want | {"clk", "rst"}, name
    assert bits == 232 + 2  # the buses, clock and reset
    assert bits < 300
