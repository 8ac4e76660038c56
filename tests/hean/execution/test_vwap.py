"""VWAP: slices weighted by the minute's volume, exact sums, profile from trades, TTL."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hean.domain import Side
from hean.execution.twap import Cancel, ParentOrder, Place
from hean.execution.vwap import VWAPConfig, VWAPExecutor, profile_from_trades

M = 60_000_000_000  # one minute in ns
PARENT = ParentOrder(2, Side.SELL, 1_000, "vwap-test")


def ids():
    counter = itertools.count()
    return lambda: f"vwap-{next(counter)}"


def places(actions):
    return [a.child for a in actions if isinstance(a, Place)]


def test_defaults_are_the_seeds_numbers():
    c = VWAPConfig()
    assert c.duration_ns == 60 * M and c.bucket_ns == M and c.slices == 60
    assert c.jitter == 0.0 and c.min_notional == 10_000.0 and c.ttl_ns == M


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bucket_ns": 0},
        {"duration_ns": M - 1},
        {"jitter": 0.6},
        {"min_notional": -5.0},
        {"child_ttl_ns": -1},
    ],
)
def test_config_rejects_bad_values(kwargs):
    with pytest.raises(ValueError):
        VWAPConfig(**kwargs)


def test_profile_from_trades_bins_by_minute_of_the_hour():
    ts = [0, 30 * 1_000_000_000, M, 61 * M, 59 * M + 1, 119 * M]
    qty = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]
    p = profile_from_trades(ts, qty)
    assert p.shape == (60,)
    assert p[0] == 3.0 and p[1] == 12.0 and p[59] == 48.0
    assert p.sum() == sum(qty)
    assert profile_from_trades([], [], buckets=5).tolist() == [0.0] * 5
    with pytest.raises(ValueError):
        profile_from_trades([0, 1], [1.0])
    with pytest.raises(ValueError):
        profile_from_trades([0], [-1.0])


def test_sizes_follow_the_profile_and_sum_exactly():
    profile = np.arange(1, 61, dtype=float)  # minute m trades m + 1
    ex = VWAPExecutor(PARENT, 0, profile, ids())
    sizes = [lots for _, lots in ex.schedule]
    assert sum(sizes) == 1_000
    exact = 1_000 * profile / profile.sum()
    assert np.all(np.abs(np.array(sizes) - exact) < 1.0)
    assert sizes[-1] > 3 * sizes[5]  # busy minutes get more


def test_exact_proportions_when_they_divide():
    profile = [1.0, 3.0, 0.0, 6.0]
    cfg = VWAPConfig(duration_ns=4 * M)
    ex = VWAPExecutor(ParentOrder(2, Side.BUY, 100, "s"), 0, profile, ids(), cfg)
    assert ex.schedule == [(0, 10), (M, 30), (2 * M, 0), (3 * M, 60)]


def test_start_minute_picks_the_profile_bucket_and_wraps():
    profile = np.zeros(60)
    profile[58], profile[59], profile[0] = 1.0, 2.0, 1.0
    cfg = VWAPConfig(duration_ns=3 * M)
    start = 58 * M + 10_000  # inside minute 58 of the hour
    ex = VWAPExecutor(ParentOrder(2, Side.BUY, 40, "s"), start, profile, ids(), cfg)
    assert ex.weights == [1.0, 2.0, 1.0]
    assert ex.schedule == [(start, 10), (start + M, 20), (start + 2 * M, 10)]


def test_quiet_minutes_send_nothing():
    cfg = VWAPConfig(duration_ns=3 * M)
    ex = VWAPExecutor(ParentOrder(2, Side.BUY, 9, "s"), 0, [1.0, 0.0, 2.0], ids(), cfg)
    got = [[k.qty_lots for k in places(ex.due(t))] for t in (0, M, 2 * M)]
    assert got == [[3], [], [6]]


def test_no_volume_or_bad_volumes_raise():
    with pytest.raises(ValueError, match="no volume"):
        VWAPExecutor(PARENT, 0, np.zeros(60), ids())
    profile = np.zeros(60)
    profile[30] = 5.0  # outside a 10-minute order starting at minute 0
    with pytest.raises(ValueError, match="no volume"):
        VWAPExecutor(PARENT, 0, profile, ids(), VWAPConfig(duration_ns=10 * M))
    for bad in ([], [1.0, -1.0], [1.0, np.nan], [[1.0]]):
        with pytest.raises(ValueError):
            VWAPExecutor(PARENT, 0, bad, ids())


def test_jitter_is_bounded_and_deterministic():
    cfg = VWAPConfig(jitter=0.2)
    a = VWAPExecutor(PARENT, 0, np.ones(60), ids(), cfg, rng=11).schedule
    b = VWAPExecutor(PARENT, 0, np.ones(60), ids(), cfg, rng=11).schedule
    assert a == b
    assert all(abs(due - i * M) <= 0.2 * M + 1 for i, (due, _) in enumerate(a))
    assert any(due != i * M for i, (due, _) in enumerate(a))
    assert VWAPExecutor(PARENT, 0, np.ones(60), ids(), cfg, rng=12).schedule != a


def test_a_cancelled_remainder_is_resliced_by_the_remaining_volume():
    cfg = VWAPConfig(duration_ns=3 * M, child_ttl_ns=M // 2)
    ex = VWAPExecutor(ParentOrder(2, Side.BUY, 100, "s"), 0, [2.0, 1.0, 3.0], ids(), cfg)
    first = places(ex.due(0))[0]
    assert first.qty_lots == 33
    ex.on_fill(first.link_id, 13)
    acts = ex.due(M // 2)
    assert [a.link_id for a in acts if isinstance(a, Cancel)] == [first.link_id]
    assert ex.on_done(first.link_id) == 20
    # 20 lots over the weights 1 and 3 still to come: 5 and 15 more.
    assert [lots for _, lots in ex.schedule[1:]] == [17 + 5, 50 + 15]
    total = 13
    for t in (M, 2 * M):
        for k in places(ex.due(t)):
            ex.on_fill(k.link_id, k.qty_lots)
            total += k.qty_lots
    assert total == 100 and ex.done
