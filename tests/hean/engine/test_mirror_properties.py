"""Property tests of the mirror: invariants, batching, compiled vs Python, vs a reference."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hean.engine import Mirror
from hean.feeds.adversarial import adversarial_stream
from hean.wire import CONTRACT_BYTES, PARAM_RANGES, Params

from .reference import reference

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def contract(records: np.ndarray) -> np.ndarray:
    """Bytes 0..111 of each record, as an (n, 112) array."""
    return records.view(np.uint8).reshape(len(records), -1)[:, :CONTRACT_BYTES]


@st.composite
def params(draw: st.DrawFn, small_k: bool = False) -> Params:
    """Any parameters in the spec's ranges (K kept small when asked, to force drops)."""
    values = {}
    for name, (_, low, high) in PARAM_RANGES.items():
        if name == "K" and small_k:
            high = 8
        if name == "N":
            high = 6
        values[name] = draw(st.integers(low, high))
    return Params(**values)


@st.composite
def streams(draw: st.DrawFn, p: Params, max_n: int = 400) -> np.ndarray:
    return adversarial_stream(
        draw(st.integers(0, 2**32 - 1)),
        draw(st.integers(0, max_n)),
        instruments=p.N,
        N=p.N,
        band=draw(st.integers(2, 3 * p.K)),
        bad_rate=draw(st.sampled_from([0.0, 0.02, 0.2])),
        gap_rate=draw(st.sampled_from([0.0, 0.01, 0.1])),
    )


@SETTINGS
@given(st.data())
def test_matches_the_reference_model(data: st.DataObject) -> None:
    p = data.draw(params(small_k=data.draw(st.booleans())))
    msgs = data.draw(streams(p))
    got = Mirror(p).process(msgs)
    want = reference(msgs, p)
    for i in range(len(msgs)):
        if got[i].tobytes()[:CONTRACT_BYTES] != want[i].tobytes()[:CONTRACT_BYTES]:
            diff = [f for f in want.dtype.names if got[i][f] != want[i][f]]
            raise AssertionError(f"record {i} ({msgs[i]}) differs in {diff}")
    assert not got["engine_t_in"].any() and not got["engine_t_out"].any()


@SETTINGS
@given(st.data())
def test_sides_stay_sorted_unique_and_within_k(data: st.DataObject) -> None:
    p = data.draw(params(small_k=True))
    msgs = data.draw(streams(p))
    engine = Mirror(p)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(msgs)), max_size=6)))
    for a, b in zip([0, *cuts], [*cuts, len(msgs)], strict=True):
        recs = engine.process(msgs[a:b])
        assert (recs["levels_bid"] <= p.K).all() and (recs["levels_ask"] <= p.K).all()
        for inst in range(p.N):
            bids, asks = engine.book(inst)
            for side, descending in ((bids, True), (asks, False)):
                prices = [px for px, _ in side]
                assert len(side) <= p.K
                assert prices == sorted(set(prices), reverse=descending)
                assert all(q > 0 for _, q in side)
                assert all(0 < px <= 0x7FFFFFFF for px in prices)


@SETTINGS
@given(st.data())
def test_one_batch_equals_random_pieces(data: st.DataObject) -> None:
    p = data.draw(params(small_k=data.draw(st.booleans())))
    msgs = data.draw(streams(p, max_n=600))
    whole = Mirror(p).process(msgs)
    engine = Mirror(p)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(msgs)), max_size=10)))
    pieces = [
        engine.process(msgs[a:b]) for a, b in zip([0, *cuts], [*cuts, len(msgs)], strict=True)
    ]
    assert np.concatenate(pieces).tobytes() == whole.tobytes()
    assert engine.counters().messages == len(msgs)


@settings(max_examples=15, deadline=None)
@given(st.data())
def test_compiled_and_python_runs_agree(data: st.DataObject) -> None:
    p = data.draw(params(small_k=data.draw(st.booleans())))
    msgs = data.draw(streams(p, max_n=300))
    compiled, python = Mirror(p), Mirror(p, compiled=False)
    assert compiled.process(msgs).tobytes() == python.process(msgs).tobytes()
    assert compiled.counters() == python.counters()


def test_counters_match_the_records() -> None:
    p = Params(K=4, N=2)
    msgs = adversarial_stream(5, 5000, instruments=2, N=2, band=12, bad_rate=0.05, gap_rate=0.02)
    engine = Mirror(p)
    recs = engine.process(msgs)
    c = engine.counters()
    assert c.messages == c.records == len(msgs) == 5000
    assert c.bad == np.count_nonzero(recs["status"] & 0x40) > 0
    assert c.dropped == np.count_nonzero(recs["status"] & 0x200) > 0
    assert c.gaps > 0
    engine.reset()
    assert engine.counters().messages == 0 and engine.book(0) == ([], [])
