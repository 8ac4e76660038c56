"""Latency models on their own: constant, empirical draws, feed latency summaries."""

from __future__ import annotations

import numpy as np
import pytest

from hean.exchange.paper import Constant, Empirical, FeedLatency, LatencyModel
from hean.feeds.synth import SynthConfig, generate
from hean.wire import messages


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(seed))


def test_constant_does_not_touch_the_generator():
    g = rng(1)
    assert Constant(750).draw(g) == 750
    assert g.integers(1 << 30) == rng(1).integers(1 << 30)


@pytest.mark.parametrize("bad", [-1, 1.5, "5", True])
def test_constant_refuses_bad_values(bad):
    with pytest.raises(ValueError, match="latency"):
        Constant(bad)


def test_empirical_draws_only_recorded_samples_uniformly():
    samples = np.array([100, 2_000, 30_000])
    dist = Empirical(samples)
    g = rng(3)
    draws = np.array([dist.draw(g) for _ in range(3000)])
    assert set(draws.tolist()) == {100, 2_000, 30_000}
    for s in samples:
        assert 0.28 < np.mean(draws == s) < 0.39


def test_empirical_is_deterministic_given_the_seed():
    dist = Empirical(np.arange(1000))
    a = [dist.draw(g) for g in [rng(9)] for _ in range(50)]
    b = [dist.draw(g) for g in [rng(9)] for _ in range(50)]
    c = [dist.draw(g) for g in [rng(10)] for _ in range(50)]
    assert a == b
    assert a != c


@pytest.mark.parametrize(
    ("samples", "match"),
    [([], "at least one"), ([[1, 2]], "1-d"), ([1.5, 2.0], "integers"), ([5, -1], ">= 0")],
)
def test_empirical_refuses_bad_samples(samples, match):
    with pytest.raises(ValueError, match=match):
        Empirical(np.array(samples))


def test_latency_model_takes_ints_or_distributions():
    model = LatencyModel(entry=1_000, response=Empirical([7, 7]))
    assert isinstance(model.entry, Constant)
    g = rng()
    assert model.entry_ns(g) == 1_000
    assert model.response_ns(g) == 7
    assert LatencyModel().entry_ns(g) == 0
    with pytest.raises(ValueError, match="entry"):
        LatencyModel(entry=1.0)
    with pytest.raises(ValueError, match="response"):
        LatencyModel(response="fast")


def test_feed_latency_summary():
    feed = FeedLatency()
    assert feed.summary().count == 0
    for lat in [100, 300, 200, 400, 10_000]:
        feed.observe(1_000_000, 1_000_000 + lat)
    feed.observe(0, 5)  # no exchange time: not a latency
    s = feed.summary()
    assert (s.count, s.min_ns, s.max_ns, s.p50_ns) == (5, 100, 10_000, 300)
    assert s.mean_ns == pytest.approx(2_200)
    assert s.p99_ns == 10_000
    assert feed.samples().tolist() == [100, 300, 200, 400, 10_000]


def test_feed_latency_of_an_array_matches_row_by_row():
    msgs, _ = generate(SynthConfig(instruments=2, messages=3000, levels=5, seed=2))
    msgs = np.concatenate([msgs, messages(exch_ts_ns=[0, 0], recv_ts_ns=[9, 9])])
    whole, rows = FeedLatency(), FeedLatency()
    whole.observe_messages(msgs)
    for m in msgs:
        rows.observe(int(m["exch_ts_ns"]), int(m["recv_ts_ns"]))
    expect = msgs["recv_ts_ns"][:-2].astype(np.int64) - msgs["exch_ts_ns"][:-2].astype(np.int64)
    assert np.array_equal(whole.samples(), expect)
    assert whole.summary() == rows.summary()
    s = whole.summary()
    assert s.count == 3000 and 0 < s.min_ns <= s.p50_ns <= s.p99_ns <= s.max_ns
    # the samples feed an empirical order-latency model directly
    assert Empirical(whole.samples()).draw(rng()) in set(expect.tolist())
