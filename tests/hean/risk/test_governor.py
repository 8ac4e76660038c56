"""The risk governor: each limit, the ladder of states, latching, and per-order checks."""

from __future__ import annotations

import pytest

from hean.risk.config import RiskConfig, RiskConfigError
from hean.risk.governor import HOUR_NS, RiskGovernor, RiskState

S = 10**9


def test_defaults_are_the_seeds_numbers() -> None:
    c = RiskConfig()
    assert (c.strategy_drawdown, c.hourly_loss, c.kill_switch) == (0.07, 0.15, 0.20)


@pytest.mark.parametrize(
    ("values", "text"),
    [
        ({"kill_switch": 1.5}, "risk.kill_switch"),
        ({"hourly_loss": -0.1}, "risk.hourly_loss"),
        ({"strategy_drawdown": "7%"}, "risk.strategy_drawdown must be a number"),
        ({"order_rate_per_s": 12}, "10 orders/s"),
        ({"strategy_drawdown": 0.3}, "below risk.kill_switch"),
        ({"kill_swich": 0.2}, "unknown risk setting(s): kill_swich"),
        ({"position_ttl_s": float("nan")}, "risk.position_ttl_s"),
    ],
)
def test_bad_config_names_the_key(values: dict, text: str) -> None:
    with pytest.raises(RiskConfigError, match=text.replace("(", r"\(").replace(")", r"\)")):
        RiskConfig.from_dict(values)


def test_crash_walks_down_the_ladder_and_the_kill_switch_latches() -> None:
    seen = []
    g = RiskGovernor(on_transition=seen.append)
    t = 0
    g.on_equity(t, 100_000.0, {"impulse": 50_000.0, "other": 50_000.0})
    assert g.state == RiskState.NORMAL and g.transitions == []
    # the impulse strategy loses 8 % of its own equity: SOFT_BRAKE
    t += 60 * S
    g.on_equity(t, 96_000.0, {"impulse": 46_000.0, "other": 50_000.0})
    assert g.state == RiskState.SOFT_BRAKE and "impulse" in g.quarantined
    assert "strategy impulse drawdown 8.00% >= 7%" in seen[-1].reason
    # 16 % down within the hour: QUARANTINE
    t += 600 * S
    g.on_equity(t, 84_000.0)
    assert g.state == RiskState.QUARANTINE and "hourly loss 16.00%" in seen[-1].reason
    # 21 % from the peak: HARD_STOP
    t += 600 * S
    g.on_equity(t, 79_000.0)
    assert g.state == RiskState.HARD_STOP and "kill switch: drawdown 21.00%" in seen[-1].reason
    assert [x.new for x in seen] == [RiskState.SOFT_BRAKE, RiskState.QUARANTINE,
                                     RiskState.HARD_STOP]  # fmt: skip
    # no new exposure after it, whatever the equity does, until a person resets it
    for k in range(20):
        t += HOUR_NS
        g.on_equity(t, 100_000.0 + k)
        assert g.state == RiskState.HARD_STOP
        assert not g.check(t, "other", 10.0, reduces=False).allowed
        assert g.check(t + 1, "other", 0.0, reduces=True).allowed  # closing stays possible
    g.reset(t, "checked by the desk")
    assert g.state == RiskState.NORMAL and seen[-1].reason == "reset: checked by the desk"
    assert g.check(t + S, "impulse", 10.0, reduces=False).allowed


def test_quarantine_lifts_when_the_loss_leaves_the_trailing_hour() -> None:
    g = RiskGovernor()
    g.on_equity(0, 100_000.0)
    g.on_equity(10 * S, 84_500.0)  # 15.5 % in ten seconds
    assert g.state == RiskState.QUARANTINE
    assert not g.check(11 * S, "s", 1_000.0, reduces=False).allowed
    g.on_equity(HOUR_NS + 11 * S, 84_600.0)  # the 100k high is more than an hour old
    assert g.state == RiskState.NORMAL
    assert g.drawdown() == pytest.approx(0.154)  # the peak drawdown stays, below 20 %


def test_exactly_at_the_limits() -> None:
    g = RiskGovernor()
    g.on_equity(0, 1000.0)
    g.on_equity(S, 850.0)
    assert g.state == RiskState.QUARANTINE  # >= 15 %
    g2 = RiskGovernor()
    g2.on_equity(0, 1000.0)
    g2.on_equity(2 * HOUR_NS, 851.0)
    assert g2.state == RiskState.NORMAL  # 14.9 %, and the hour has passed anyway
    g2.on_equity(3 * HOUR_NS, 800.0)
    assert g2.state == RiskState.HARD_STOP  # exactly 20 % from the peak


def test_soft_brake_halves_the_others_and_blocks_the_quarantined() -> None:
    g = RiskGovernor()
    g.on_equity(0, 10_000.0, {"a": 5_000.0, "b": 5_000.0})
    g.on_equity(S, 9_600.0, {"a": 4_600.0, "b": 5_000.0})
    assert g.state == RiskState.SOFT_BRAKE
    d = g.check(2 * S, "b", 100.0, reduces=False)
    assert d.allowed and d.size_mult == 0.5
    d = g.check(3 * S, "a", 100.0, reduces=False)
    assert not d.allowed and "quarantined" in d.reason
    assert g.check(4 * S, "a", 0.0, reduces=True).allowed


def test_notional_limit_and_order_rate_budget() -> None:
    g = RiskGovernor(RiskConfig(order_rate_per_s=5, order_burst=5))
    g.on_equity(0, 10_000.0)
    d = g.check(0, "s", 5_001.0, reduces=False)
    assert not d.allowed and "above 5,000.00" in d.reason
    # refused orders cost nothing; the budget is 5 now, then 5 per second
    allowed = [g.check(0, "s", 100.0, reduces=False).allowed for _ in range(7)]
    assert allowed == [True] * 5 + [False] * 2
    assert g.check(S // 5, "s", 100.0, reduces=False).allowed  # one token back after 0.2 s
    assert not g.check(S // 5, "s", 100.0, reduces=False).allowed


def test_position_ttl() -> None:
    g = RiskGovernor(RiskConfig(position_ttl_s=60))
    opened = {"BTCUSDT": 0, "ETHUSDT": 30 * S}
    assert g.expired(59 * S, opened) == []
    assert g.expired(60 * S, opened) == ["BTCUSDT"]
    assert sorted(g.expired(90 * S, opened)) == ["BTCUSDT", "ETHUSDT"]


def test_position_room_keeps_each_instrument_within_its_lots() -> None:
    g = RiskGovernor(max_position_lots={0: 10})
    assert g.position_room(0, 0, 4) == 4
    assert g.position_room(0, 8, 4) == 2  # only up to the limit
    assert g.position_room(0, 10, 1) == 0
    assert g.position_room(0, 10, -15) == -15  # through flat to -5: within
    assert g.position_room(0, -9, -3) == -1
    assert g.position_room(0, 12, -1) == -1  # over the limit already: reducing is fine
    assert g.position_room(1, 1_000, 7) == 7  # no limit for instrument 1
    with pytest.raises(ValueError, match="max position"):
        RiskGovernor(max_position_lots={0: 0})
