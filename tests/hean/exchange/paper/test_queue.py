"""Queue-position models on their own: trades, cancels, adds, the clip and the split."""

from __future__ import annotations

import numpy as np
import pytest

from hean.exchange.paper import ProbQueueModel, QueuePosition, RiskAverseQueueModel

MODELS = [RiskAverseQueueModel(), ProbQueueModel(2), ProbQueueModel(3)]


@pytest.mark.parametrize("model", MODELS, ids=repr)
def test_a_trade_consumes_the_volume_ahead_first(model):
    pos = model.new(100)
    assert pos == QueuePosition(ahead=100)
    assert model.on_trade(pos, 60) == 0
    assert pos.ahead == 40
    assert model.on_trade(pos, 39) == 0
    assert pos.ahead == 1
    assert model.on_trade(pos, 5) == 4  # only what exceeds the volume ahead can fill
    assert pos.ahead == 0
    assert model.on_trade(pos, 3) == 3  # at the front, every lot traded reaches us


@pytest.mark.parametrize("model", MODELS, ids=repr)
def test_added_size_goes_behind(model):
    pos = model.new(50)
    model.on_depth(pos, 50, 80)
    assert pos.ahead == 50
    assert model.on_trade(pos, 50) == 0


@pytest.mark.parametrize("model", MODELS, ids=repr)
def test_the_update_after_a_trade_is_not_counted_twice(model):
    pos = model.new(100)  # nothing behind us: any cancel would come from ahead
    model.on_trade(pos, 30)
    model.on_depth(pos, 100, 70)  # the feed takes the traded lots off
    assert pos.ahead == 70
    assert pos.traded == 0


@pytest.mark.parametrize("model", MODELS, ids=repr)
def test_ahead_is_clipped_to_the_level(model):
    pos = model.new(100)
    model.on_depth(pos, 100, 20)
    assert pos.ahead == 20
    model.on_depth(pos, 20, 0)
    assert pos.ahead == 0


def test_risk_averse_puts_every_cancel_behind():
    model = RiskAverseQueueModel()
    pos = model.new(100)
    model.on_depth(pos, 100, 200)  # 100 join behind
    model.on_depth(pos, 200, 110)  # 90 cancelled: all assumed behind us
    assert pos.ahead == 100
    model.on_depth(pos, 110, 60)  # the level is now smaller than what was ahead
    assert pos.ahead == 60


def test_prob_splits_cancels_by_relative_position():
    model = ProbQueueModel(2)
    assert model.prob_ahead(100, 100) == 0.5
    assert model.prob_ahead(300, 100) == pytest.approx(0.9)  # 9 / (9 + 1)
    assert model.prob_ahead(0, 100) == 0.0
    assert model.prob_ahead(100, 0) == 1.0
    pos = model.new(100)
    model.on_depth(pos, 100, 200)
    model.on_depth(pos, 200, 120)  # 80 cancelled, front == back: 40 of them ahead
    assert pos.ahead == 60
    pos = model.new(300)
    model.on_depth(pos, 300, 400)
    model.on_depth(pos, 400, 300)  # 100 cancelled, 90 % of them from the front
    assert pos.ahead == 210


def test_prob_higher_power_favours_the_larger_side():
    low, high = ProbQueueModel(1), ProbQueueModel(3)
    assert low.cancelled_ahead(300, 100, 40) == 30  # 3/4
    assert high.cancelled_ahead(300, 100, 40) == 39  # 27/28, rounded
    assert high.cancelled_ahead(100, 300, 40) == 1


def test_prob_takes_from_the_front_what_the_back_cannot_supply():
    model = ProbQueueModel(2)
    # 10 ahead, 40 behind, 45 cancelled: the share behind (16/17, 42 lots) is more
    # than the 40 there, so 5 came from ahead, not the 3 of the plain split
    assert model.cancelled_ahead(10, 40, 45) == 5
    assert model.cancelled_ahead(5, 0, 20) == 5  # never more than the front holds


def test_prob_non_integer_power_uses_the_expected_split():
    model = ProbQueueModel(1.5)
    share = 1 / (1 + (100 / 400) ** 1.5)
    assert model.cancelled_ahead(400, 100, 10) == round(10 * share)


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "2", True])
def test_prob_refuses_a_bad_power(bad):
    with pytest.raises(ValueError, match="power"):
        ProbQueueModel(bad)


@pytest.mark.parametrize("model", MODELS, ids=repr)
def test_bad_sizes_are_refused(model):
    with pytest.raises(ValueError):
        model.new(-1)
    with pytest.raises(ValueError):
        model.on_trade(model.new(1), 0)
    with pytest.raises(ValueError):
        model.on_depth(model.new(1), -1, 0)


def test_prob_is_never_behind_risk_averse_and_both_stay_in_the_level():
    """Random trades, adds and cancels: 0 <= prob ahead <= risk-averse ahead <= level."""
    rng = np.random.default_rng(7)
    for _ in range(200):
        level = int(rng.integers(0, 500))
        ra, pr = RiskAverseQueueModel(), ProbQueueModel(2)
        a, b = ra.new(level), pr.new(level)
        filled_a = filled_b = 0
        for _ in range(30):
            if rng.random() < 0.4 and level:
                qty = int(rng.integers(1, level + 1))
                filled_a += ra.on_trade(a, qty)
                filled_b += pr.on_trade(b, qty)
                new = level - qty
            else:
                new = max(level + int(rng.integers(-200, 200)), 0)
            ra.on_depth(a, level, new)
            pr.on_depth(b, level, new)
            level = new
            assert 0 <= b.ahead <= a.ahead <= level
            assert filled_b >= filled_a
