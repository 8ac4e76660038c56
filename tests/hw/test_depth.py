"""hean_hw.depth: the pipelined side sum against Python's sum and popcount."""

from __future__ import annotations

import random

import pytest

from hean_hw.depth import SideSum

from .harness import run_pipeline


def rows(K: int, n: int, seed: int) -> list[dict[str, int]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        count = (0, K)[i] if i < 2 else rng.randrange(K + 1)  # empty and full sides first
        sizes = [rng.choice([1, 0xFFFFFFFF, rng.getrandbits(32) or 1]) for _ in range(count)]
        sizes += [0] * (K - count)
        out.append(
            {
                "i_qty": sum(q << (32 * j) for j, q in enumerate(sizes)),
                "i_live": (1 << count) - 1,
            }
        )
    return out


@pytest.mark.parametrize(("K", "stall"), [(4, 0.0), (5, 0.3), (32, 0.0), (64, 0.2)])
def test_sums_and_counts_every_row(K: int, stall: float) -> None:
    inputs = rows(K, 120, seed=K)
    dut = SideSum(K)
    assert dut.latency == (K - 1).bit_length()
    got = run_pipeline(dut, inputs, ["o_sum", "o_count"], stall=stall, seed=K)
    want = [
        {
            "o_sum": sum((r["i_qty"] >> (32 * j)) & 0xFFFFFFFF for j in range(K)),
            "o_count": bin(r["i_live"]).count("1"),
        }
        for r in inputs
    ]
    assert got == want
    assert max(g["o_sum"] for g in got) >= K * 0xFFFFFFFF // 2  # wide sums were exercised


def test_refuses_k_out_of_range() -> None:
    with pytest.raises(ValueError, match="K must be"):
        SideSum(65)
