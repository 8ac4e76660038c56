"""hean_hw.sequence, .flow and .ofi against the mirror, back to back and under stalls.

Each unit gets the inputs the core will give it (derived from the message and, for OFI,
the mirror's best levels before and after) and must reproduce the mirror's fields.
"""

from __future__ import annotations

import pytest

from hean.engine import Mirror
from hean.feeds.adversarial import adversarial_stream
from hean.wire import Params, Status
from hean_hw.flow import Flow
from hean_hw.ofi import Ofi
from hean_hw.sequence import Sequence

from .harness import best_after, is_good, mirror_view, run_pipeline

N = 3
CASES = [
    # (seed, messages, stall, ofi_shift, flow_shift)
    (1, 1500, 0.0, 6, 4),
    (2, 1500, 0.3, 1, 16),
    (3, 1500, 0.0, 16, 1),
]


def stream(seed: int, n: int):
    return adversarial_stream(seed, n, instruments=N, N=N, band=16, bad_rate=0.05, gap_rate=0.02)


@pytest.mark.parametrize(("seed", "n", "stall", "ofi_shift", "flow_shift"), CASES)
def test_sequence_matches_the_mirror(seed, n, stall, ofi_shift, flow_shift) -> None:
    msgs = stream(seed, n)
    p = Params(K=8, N=N)
    engine = Mirror(p)
    recs = engine.process(msgs)
    rows = [
        {
            "i_good": is_good(m, N),
            "i_instrument": int(m["instrument"]),
            "i_seq": int(m["seq"]),
            "i_clear_both": int(m["type"]) == 3 and int(m["side"]) == 2,
        }
        for m in msgs
    ]
    got = run_pipeline(Sequence(N), rows, ["o_gap", "o_jump"], stall=stall, seed=seed)
    for i, (r, g) in enumerate(zip(recs, got, strict=True)):
        if r["instrument"] < N:
            assert g["o_gap"] == bool(r["status"] & Status.GAP), f"message {i}"
    assert sum(g["o_jump"] for g in got) == engine.counters().gaps > 0


@pytest.mark.parametrize(("seed", "n", "stall", "ofi_shift", "flow_shift"), CASES)
def test_flow_matches_the_mirror(seed, n, stall, ofi_shift, flow_shift) -> None:
    msgs = stream(seed, n)
    recs = Mirror(Params(K=8, N=N, flow_shift=flow_shift)).process(msgs)
    rows = [
        {
            "i_good": is_good(m, N),
            "i_trade": int(m["type"]) == 2,
            "i_side": int(m["side"]) & 1,
            "i_instrument": int(m["instrument"]),
            "i_qty": int(m["qty"]),
        }
        for m in msgs
    ]
    got = run_pipeline(Flow(N, flow_shift), rows, ["o_buy", "o_sell"], stall=stall, seed=seed)
    checked = 0
    for i, (r, g) in enumerate(zip(recs, got, strict=True)):
        if r["instrument"] < N:
            assert (g["o_buy"], g["o_sell"]) == (r["buy_flow"], r["sell_flow"]), f"message {i}"
            checked += bool(r["buy_flow"] or r["sell_flow"])
    assert checked > n // 2


@pytest.mark.parametrize(("seed", "n", "stall", "ofi_shift", "flow_shift"), CASES)
def test_ofi_matches_the_mirror(seed, n, stall, ofi_shift, flow_shift) -> None:
    msgs = stream(seed, n)
    p = Params(K=8, N=N, ofi_shift=ofi_shift)
    recs, before = mirror_view(msgs, p)
    rows = []
    for m, r, b in zip(msgs, recs, before, strict=True):
        pb2, qb2, pa2, qa2 = best_after(r)
        rows.append(
            {
                "i_good": is_good(m, N),
                "i_instrument": int(m["instrument"]),
                "i_pb": b["pb"],
                "i_qb": b["qb"],
                "i_pa": b["pa"],
                "i_qa": b["qa"],
                "i_pb2": pb2,
                "i_qb2": qb2,
                "i_pa2": pa2,
                "i_qa2": qa2,
            }
        )
    got = run_pipeline(Ofi(N, ofi_shift), rows, ["o_ofi", "o_event"], stall=stall, seed=seed)
    nonzero = 0
    for i, (r, g) in enumerate(zip(recs, got, strict=True)):
        if r["instrument"] < N:
            assert (g["o_ofi"], g["o_event"]) == (r["ofi"], r["ofi_event"]), f"message {i}"
            nonzero += r["ofi_event"] != 0
    assert nonzero > n // 10
