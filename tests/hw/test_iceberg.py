"""hean_hw.iceberg against the mirror: tracking, refills, resets and the ICEBERG bits."""

from __future__ import annotations

import pytest

from hean.feeds.adversarial import adversarial_stream
from hean.wire import Params, Status
from hean_hw.iceberg import Iceberg

from .harness import is_good, mirror_view, run_pipeline

N = 2
OUTPUTS = [
    f"o_{field}_{side}"
    for side in ("bid", "ask")
    for field in ("px", "refills", "absorbed", "iceberg")
]


@pytest.mark.parametrize(
    ("seed", "stall", "refills", "ratio"),
    [(1, 0.0, 3, 2), (2, 0.3, 1, 1), (3, 0.0, 2, 16), (4, 0.1, 4, 3)],
)
def test_iceberg_matches_the_mirror(seed: int, stall: float, refills: int, ratio: int) -> None:
    msgs = adversarial_stream(seed, 2000, instruments=N, N=N, band=10, bad_rate=0.05)
    p = Params(K=8, N=N, ice_min_refills=refills, ice_absorb_ratio=ratio)
    recs, _ = mirror_view(msgs, p)
    message = [
        {
            "i_good": is_good(m, N),
            "i_type": int(m["type"]),
            "i_side": int(m["side"]) & 3,
            "i_sel": 1 << int(m["instrument"]) if m["instrument"] < N else 0,
            "i_price": int(m["price"]),
            "i_qty": int(m["qty"]),
        }
        for m in msgs
    ]
    best = [
        {
            "i_bid_px": int(r["bid_px"]),
            "i_bid_qty": int(r["bid_qty"]),
            "i_ask_px": int(r["ask_px"]),
            "i_ask_qty": int(r["ask_qty"]),
            "i_bid_any": int(r["levels_bid"]) > 0,
            "i_ask_any": int(r["levels_ask"]) > 0,
        }
        for r in recs
    ]
    # the message ports lead the best levels: row j carries message j and the best
    # levels after message j - lead; bad messages at the end carry the last levels
    lead = Iceberg.lead
    rows = [message[j] | (best[j - lead] if j >= lead else {}) for j in range(len(msgs))]
    rows += [{"i_good": 0} | best[len(msgs) - lead + j] for j in range(lead)]
    got = run_pipeline(Iceberg(N, refills, ratio), rows, OUTPUTS, stall=stall, seed=seed)
    assert len(got) == len(rows)
    got = got[: len(msgs)]
    flagged = 0
    for i, (r, g) in enumerate(zip(recs, got, strict=True)):
        if r["instrument"] >= N:
            continue
        want = {
            "o_px_bid": r["ice_px_bid"],
            "o_refills_bid": r["ice_refills_bid"],
            "o_absorbed_bid": r["ice_absorbed_bid"],
            "o_iceberg_bid": bool(r["status"] & Status.ICEBERG_BID),
            "o_px_ask": r["ice_px_ask"],
            "o_refills_ask": r["ice_refills_ask"],
            "o_absorbed_ask": r["ice_absorbed_ask"],
            "o_iceberg_ask": bool(r["status"] & Status.ICEBERG_ASK),
        }
        assert g == want, f"message {i}: {msgs[i]}"
        flagged += g["o_iceberg_bid"] + g["o_iceberg_ask"]
    assert flagged > 0
