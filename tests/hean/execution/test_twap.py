"""TWAP: exact splits, jittered deterministic schedule, TTL cancel/replace, fill races."""

from __future__ import annotations

import itertools
from decimal import Decimal

import numpy as np
import pytest

from hean.domain import InstrumentSpec, OrderRequest, Side, TimeInForce
from hean.execution.twap import (
    Cancel,
    ParentOrder,
    Place,
    SliceExecutor,
    TWAPConfig,
    TWAPExecutor,
    needs_slicing,
    split_lots,
)

S = 1_000_000_000  # one second in ns
BTC = InstrumentSpec(1, "BTCUSDT", Decimal("0.1"), Decimal("0.001"))


def ids():
    counter = itertools.count()
    return lambda: f"twap-{next(counter)}"


def twap(lots=100, seed=1, **cfg) -> TWAPExecutor:
    return TWAPExecutor(
        ParentOrder(1, Side.BUY, lots, "impulse"), 0, ids(), TWAPConfig(**cfg), seed
    )


def places(actions):
    return [a.child for a in actions if isinstance(a, Place)]


def cancels(actions):
    return [a.link_id for a in actions if isinstance(a, Cancel)]


def conserved(ex: SliceExecutor) -> bool:
    return ex.filled_lots + ex.open_lots + ex.unplaced_lots == ex.parent.qty_lots + ex.excess_lots


def test_defaults_are_the_seeds_numbers():
    c = TWAPConfig()
    assert c.duration_ns == 300 * S and c.slices == 10 and c.jitter == 0.2
    assert c.min_notional == 10_000.0
    assert c.ttl_ns == int(0.6 * 30 * S)  # the shortest gap between two jittered slices


@pytest.mark.parametrize(
    "kwargs",
    [
        {"duration_ns": 0},
        {"slices": 0},
        {"jitter": 0.5},
        {"jitter": -0.1},
        {"min_notional": -1.0},
        {"min_notional": float("nan")},
        {"child_ttl_ns": 0},
    ],
)
def test_config_rejects_bad_values(kwargs):
    with pytest.raises(ValueError):
        TWAPConfig(**kwargs)


def test_split_lots_sums_exactly_and_stays_within_a_lot():
    rng = np.random.default_rng(3)
    for _ in range(300):
        total = int(rng.integers(0, 10_000))
        weights = rng.random(int(rng.integers(1, 40))) * rng.integers(0, 2, size=1)
        sizes = split_lots(total, weights)
        assert sum(sizes) == total and min(sizes) >= 0
        if weights.sum() > 0:
            exact = total * weights / weights.sum()
            assert np.all(np.abs(np.array(sizes) - exact) < 1.0 + 1e-9)
            assert all(s == 0 for s, w in zip(sizes, weights, strict=True) if w == 0)
        else:
            assert max(sizes) - min(sizes) <= 1  # all-zero weights split evenly


def test_split_lots_examples_and_errors():
    assert split_lots(10, [1, 1, 1]) == [3, 4, 3]
    assert split_lots(3, [1] * 5) == [1, 0, 1, 0, 1]
    assert split_lots(7, [0, 1, 0]) == [0, 7, 0]
    with pytest.raises(ValueError):
        split_lots(-1, [1])
    with pytest.raises(ValueError):
        split_lots(5, [])
    with pytest.raises(ValueError):
        split_lots(5, [1, -1])
    with pytest.raises(ValueError):
        split_lots(5, [1, float("inf")])


def test_needs_slicing_at_the_notional_threshold():
    # 1 lot = 0.001 BTC, 1 tick = 0.1 USDT: 10,000 ticks on 1,000 lots is $1,000.
    assert not needs_slicing(BTC, 1_000, 99_999, 10_000)
    assert needs_slicing(BTC, 1_000, 100_000, 10_000)  # exactly $10,000
    assert needs_slicing(BTC, 1_000, 600_000, TWAPConfig().min_notional)  # 1 BTC at 60k


def test_schedule_sums_to_the_parent_and_jitter_is_bounded():
    for seed in range(30):
        ex = twap(lots=1_003, seed=seed)
        sched = ex.schedule
        assert sum(lots for _, lots in sched) == 1_003
        dt = 30 * S
        for i, (due, _) in enumerate(sched):
            assert abs(due - i * dt) <= 0.2 * dt + 1
        assert sched[0][0] >= 0  # never before the start
        assert all(b[0] > a[0] for a, b in itertools.pairwise(sched))


def test_jitter_is_really_applied_and_zero_jitter_is_exact():
    offsets = [abs(due - i * 30 * S) for i, (due, _) in enumerate(twap(seed=5).schedule)]
    assert max(offsets) > 0.05 * 30 * S
    assert [d for d, _ in twap(jitter=0.0).schedule] == [i * 30 * S for i in range(10)]


def test_same_seed_same_schedule_other_seed_other_schedule():
    assert twap(seed=42).schedule == twap(seed=42).schedule
    assert twap(seed=42).schedule != twap(seed=43).schedule
    g1, g2 = np.random.default_rng(9), np.random.default_rng(9)
    parent = ParentOrder(1, Side.SELL, 50, "s")
    a = TWAPExecutor(parent, 10 * S, ids(), rng=g1)
    b = TWAPExecutor(parent, 10 * S, ids(), rng=g2)
    assert a.schedule == b.schedule


def test_children_come_due_one_by_one_and_fill_the_parent():
    ex = twap(lots=100, jitter=0.0)
    assert ex.due(-1) == []
    placed = []
    for i in range(10):
        acts = ex.due(i * 30 * S)
        kids = places(acts)
        assert len(kids) == 1 and not cancels(acts)
        child = kids[0]
        assert child.link_id == f"twap-{i}"  # from the caller's factory, in order
        assert child.slice == i and child.due_ns == i * 30 * S
        assert child.expires_ns == child.due_ns + ex.ttl_ns
        assert (child.side, child.instrument, child.strategy) == (Side.BUY, 1, "impulse")
        placed.append(child.qty_lots)
        ex.on_fill(child.link_id, child.qty_lots)
        assert ex.due(i * 30 * S) == []  # nothing twice
        assert conserved(ex)
    assert placed == [10] * 10
    assert ex.done and ex.filled_lots == 100 and ex.remaining_lots == 0


def test_overdue_slices_are_merged_into_one_child():
    ex = twap(lots=100, jitter=0.0)
    kids = places(ex.due(95 * S))  # slices 0..3 are due
    assert [k.qty_lots for k in kids] == [40] and kids[0].slice == 3


def test_ttl_cancels_once_and_the_remainder_is_resliced():
    ex = twap(lots=100, jitter=0.0, child_ttl_ns=10 * S)
    child = places(ex.due(0))[0]
    ex.on_fill(child.link_id, 4)
    assert cancels(ex.due(10 * S - 1)) == []
    assert cancels(ex.due(10 * S)) == [child.link_id]
    assert cancels(ex.due(11 * S)) == []  # one cancel per child
    assert ex.unplaced_lots == 90  # still reserved until the cancel is confirmed
    assert ex.on_done(child.link_id) == 6
    assert ex.on_done(child.link_id) == 0  # a repeated report frees nothing
    sched = ex.schedule
    assert sum(lots for _, lots in sched[1:]) == 96
    # The 6 lots spread evenly (cumulative rounding) over the 9 slices still to come.
    assert [lots for _, lots in sched[1:]] == [11, 10, 11, 11, 10, 11, 11, 10, 11]
    assert conserved(ex)


def test_last_slice_expiring_is_replaced_at_once():
    ex = twap(lots=20, slices=2, jitter=0.0, child_ttl_ns=5 * S, duration_ns=20 * S)
    first = places(ex.due(0))[0]
    ex.on_fill(first.link_id, first.qty_lots)
    last = places(ex.due(10 * S))[0]
    ex.on_fill(last.link_id, 3)
    assert cancels(ex.due(15 * S)) == [last.link_id]
    assert places(ex.due(15 * S)) == []  # not before the cancel is confirmed
    ex.on_done(last.link_id)
    kids = places(ex.due(16 * S))
    assert len(kids) == 1
    again = kids[0]
    assert again.qty_lots == 7 and again.replaces == last.link_id
    assert again.expires_ns == 21 * S
    ex.on_fill(again.link_id, 7)
    assert ex.done and ex.filled_lots == 20


def test_a_fill_racing_the_cancel_is_counted_before_release():
    ex = twap(lots=100, jitter=0.0, child_ttl_ns=S)
    child = places(ex.due(0))[0]
    assert cancels(ex.due(S)) == [child.link_id]
    ex.on_fill(child.link_id, 6)  # arrives between the cancel and its confirmation
    assert ex.on_done(child.link_id) == 4
    assert ex.unplaced_lots == 94 and conserved(ex)


def test_a_fill_after_the_release_is_taken_off_later_slices():
    ex = twap(lots=100, jitter=0.0, child_ttl_ns=S)
    child = places(ex.due(0))[0]
    ex.due(S)
    ex.on_done(child.link_id)  # 10 lots released to slices 1..9
    assert ex.unplaced_lots == 100
    ex.on_fill(child.link_id, 5)  # a late execution report
    assert ex.filled_lots == 5 and ex.unplaced_lots == 95
    assert ex.excess_lots == 0 and conserved(ex)


def test_a_late_fill_nothing_can_absorb_is_excess():
    ex = twap(lots=10, slices=1, jitter=0.0, child_ttl_ns=S, duration_ns=10 * S)
    child = places(ex.due(0))[0]
    ex.on_fill(child.link_id, 10)
    ex.on_fill(child.link_id, 2)  # the exchange says more filled than was ordered
    assert ex.excess_lots == 2 and ex.filled_lots == 12 and conserved(ex)


def test_bad_reports_raise():
    ex = twap(lots=100, jitter=0.0)
    child = places(ex.due(0))[0]
    with pytest.raises(ValueError, match="overfills"):
        ex.on_fill(child.link_id, 11)
    with pytest.raises(ValueError):
        ex.on_fill(child.link_id, 0)
    with pytest.raises(KeyError):
        ex.on_fill("someone-else", 1)
    with pytest.raises(KeyError):
        ex.on_done("someone-else")


def test_a_factory_repeating_ids_is_refused():
    parent = ParentOrder(1, Side.BUY, 10, "s")
    ex = TWAPExecutor(parent, 0, lambda: "same", TWAPConfig(jitter=0.0))
    ex.due(0)
    with pytest.raises(ValueError, match="twice"):
        ex.due(30 * S)


def test_abort_cancels_open_children_and_places_nothing_more():
    ex = twap(lots=100, jitter=0.0)
    child = places(ex.due(0))[0]
    out = ex.abort()
    assert [c.link_id for c in out] == [child.link_id] and out[0].reason == "abort"
    assert not ex.done  # the cancel is not confirmed yet
    assert places(ex.due(300 * S)) == []
    ex.on_done(child.link_id)
    assert ex.done and ex.unplaced_lots == 0


def test_parent_smaller_than_the_slice_count():
    ex = twap(lots=3, jitter=0.0)
    sizes = []
    for i in range(10):
        for k in places(ex.due(i * 30 * S)):
            sizes.append(k.qty_lots)
            ex.on_fill(k.link_id, k.qty_lots)
    assert sizes == [1, 1, 1] and ex.done


def test_child_request_is_a_valid_order_request():
    parent = ParentOrder(7, Side.SELL, 10, "s", reduce_only=True)
    ex = TWAPExecutor(parent, 0, ids(), TWAPConfig(jitter=0.0))
    child = places(ex.due(0))[0]
    r = child.request(123, 50_000, TimeInForce.POST_ONLY)
    assert isinstance(r, OrderRequest)
    assert (r.ts_ns, r.instrument, r.side, r.qty_lots, r.price_ticks) == (
        123,
        7,
        Side.SELL,
        1,
        50_000,
    )
    assert (r.link_id, r.reduce_only, r.tif) == (child.link_id, True, TimeInForce.POST_ONLY)
    assert child.request(1).price_ticks is None  # market


def test_engine_rejects_bad_plans():
    p = ParentOrder(1, Side.BUY, 10, "s")
    with pytest.raises(ValueError):
        SliceExecutor(p, [0, 1], [1.0], 10, ids())
    with pytest.raises(ValueError):
        SliceExecutor(p, [5, 1], [1.0, 1.0], 10, ids())
    with pytest.raises(ValueError):
        SliceExecutor(p, [0], [1.0], 0, ids())
    with pytest.raises(ValueError):
        ParentOrder(1, Side.BUY, 0, "s")
