"""hean_hw.validate: every validity rule, on adversarial streams and on hand cases."""

from __future__ import annotations

import pytest
from amaranth.sim import Simulator

from hean.feeds.adversarial import adversarial_stream
from hean.wire import messages
from hean_hw.layouts import to_bits
from hean_hw.validate import OP_CLEAR, OP_NONE, OP_SET, Validate

from .harness import is_good


def classify(N: int, msgs) -> list[tuple[int, int, int, int]]:
    dut = Validate(N)
    out = []
    sim = Simulator(dut)

    async def bench(ctx):
        for value in to_bits(msgs):
            ctx.set(dut.i_msg.as_value(), value)
            out.append(
                (ctx.get(dut.o_good), ctx.get(dut.o_known), ctx.get(dut.o_op), ctx.get(dut.o_trade))
            )

    sim.add_testbench(bench)
    sim.run()
    return out


@pytest.mark.parametrize("N", [1, 3, 255, 256])
def test_agrees_with_the_rules_on_adversarial_streams(N: int) -> None:
    msgs = adversarial_stream(N, 3000, instruments=min(N, 4), N=N, bad_rate=0.2)
    got = classify(N, msgs)
    bad = 0
    for m, (good, known, op, trade) in zip(msgs, got, strict=True):
        want = is_good(m, N)
        assert good == want, m
        assert known == (int(m["instrument"]) < N)
        t = int(m["type"])
        assert op == (OP_SET if want and t == 1 else OP_CLEAR if want and t == 3 else OP_NONE)
        assert trade == (want and t == 2)
        bad += not want
    assert bad > 100


def test_boundaries() -> None:
    rows = [
        (1, 0, 0, 0, 1, 0x7FFFFFFF, 0),  # SET at the highest price, size 0: valid
        (1, 0, 0, 0, 1, 0x80000000, 5),  # price above 0x7FFFFFFF: bad
        (2, 1, 0, 0, 1, 1, 0),  # TRADE of size 0: bad
        (3, 2, 0, 0, 1, 0, 0),  # CLEAR both: valid
        (3, 3, 0, 0, 1, 0, 0),  # CLEAR side 3: bad
        (4, 9, 0xFC, 0, 1, 0, 0),  # HEARTBEAT: side and flag bits 2..7 ignored
        (4, 0, 0, 2, 1, 0, 0),  # instrument 2 with N = 2: bad
        (0, 0, 0, 0, 1, 1, 1),  # type 0: bad
    ]
    got = [g[0] for g in classify(2, messages(rows))]
    assert got == [1, 0, 0, 1, 0, 1, 0, 0]
