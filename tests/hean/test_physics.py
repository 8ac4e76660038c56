"""Physics readings on constructed regimes whose expected reading is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hean.engine import Mirror
from hean.physics import Physics, PhysicsConfig
from hean.wire import Flag, MsgType, Params, Side, messages

S = 10**9


def run(returns: np.ndarray, flow: tuple[int, int] = (0, 0), per_bucket: int = 3) -> Physics:
    """Feed a mid path with these per-second log returns (several records per second)."""
    ph = Physics()
    mid, t = 100.0, 0
    for r in returns:
        for k in range(per_bucket):  # the last mid of each second counts
            ph.update(t + k * (S // per_bucket), mid, *flow)
        mid *= math.exp(r)
        t += S
    ph.update(t, mid, *flow)
    return ph


def draws(seed: int = 7) -> np.random.Generator:
    """A generator of the test's own, so no test's draws depend on which ran before it
    (under pytest-xdist each worker runs a different subset, in a different order)."""
    return np.random.default_rng(seed)


def test_quiet_market_is_cold_and_ordered() -> None:
    st = run(draws().normal(0, 2e-5, 80)).state()
    assert st.temperature < 0.01 and st.entropy < 0.2


def test_steady_trend_is_markup_with_low_entropy() -> None:
    st = run(np.full(80, 3e-4), flow=(900, 100)).state()
    assert st.phase == "markup" and st.phase_confidence == 1.0
    assert st.entropy == 0.0  # every return in one bin
    assert 0.2 < st.temperature < 0.5  # 3e-4 against the 5e-4 reference: 0.36 / 1.36


def test_choppy_market_is_hot_and_disordered_without_a_trend() -> None:
    st = run(draws().choice([-1.2e-3, -6e-4, 6e-4, 1.2e-3], size=80), flow=(400, 600)).state()
    assert st.entropy > 0.5 and st.temperature > 0.6
    assert st.phase in ("accumulation", "distribution") and abs(st.trend_z) < 2
    assert st.phase == "distribution"  # more selling than buying into the range


def test_crash_is_markdown_and_hot() -> None:
    st = run(np.concatenate([draws().normal(0, 1e-4, 40), np.full(30, -4e-3)])).state()
    assert st.phase == "markdown" and st.phase_confidence > 0.5 and st.temperature > 0.9


def test_range_with_buying_is_accumulation() -> None:
    st = run(draws(1).normal(0, 1e-4, 80), flow=(800, 200)).state()
    assert st.phase == "accumulation" and st.phase_confidence > 0.3


def test_unknown_until_the_window_fills() -> None:
    ph = run(np.zeros(10))
    st = ph.state()
    assert st.phase == "unknown" and st.phase_confidence == 0 and st.samples == 10


def test_config_errors() -> None:
    with pytest.raises(ValueError):
        PhysicsConfig(window=2)
    with pytest.raises(ValueError):
        PhysicsConfig(ref_return=0)


def test_fed_from_feature_records() -> None:
    """END records of a two-sided book drive it; others are skipped."""
    rows, seq = [], 0
    for sec in range(70):
        px = 1000 + sec  # one tick up per second: a steady markup
        for side, p in ((Side.BID, px), (Side.ASK, px + 2)):
            seq += 1
            rows.append((MsgType.SET, side, Flag.END if side == Side.ASK else 0, 0, seq, p, 5,
                         0, sec * S + seq))  # fmt: skip
    recs = Mirror(Params(N=1)).process(messages(rows))
    ph = Physics(PhysicsConfig(ref_return=1e-3))
    for r in recs:
        ph.update_record(r)
    st = ph.state()
    assert st.samples == PhysicsConfig().window and st.phase == "markup"


def test_running_sums_match_a_direct_computation() -> None:
    """After thousands of returns in and out of the window, the O(1) sums still agree."""
    ph = run(draws().normal(0, 7e-4, 5_000), flow=(10, 30))
    st = ph.state()
    c = ph.config
    r = np.array(ph._returns)
    k = np.clip(np.rint(r / c.ref_return) + c.bins // 2, 0, c.bins - 1).astype(int)
    p = np.bincount(k, minlength=c.bins) / len(r)
    p = p[p > 0]
    assert st.entropy == pytest.approx(float(-(p * np.log(p)).sum() / math.log(c.bins)))
    ke = float(np.mean(r * r))
    assert st.temperature == pytest.approx(ke / (ke + c.ref_return**2))
    sd = max(float(r.std()), c.ref_return / 10)
    assert st.trend_z == pytest.approx(float(r.sum() / (sd * math.sqrt(len(r)))), abs=1e-9)
