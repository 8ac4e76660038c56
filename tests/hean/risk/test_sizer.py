"""The physics-aware sizer and the correlation-aware position count."""

from __future__ import annotations

import numpy as np
import pytest

from hean.risk.correlation import correlation_of_returns, effective_positions
from hean.risk.sizer import SizerConfig, entropy_mult, phase_mult, size, temperature_mult


def test_factors_are_the_seeds() -> None:
    phases = ("accumulation", "markup", "distribution", "markdown", "?")
    assert [phase_mult(True, p) for p in phases] == [1.5, 1.3, 0.6, 0.4, 1.0]
    assert [phase_mult(False, p) for p in phases] == [0.4, 0.6, 1.5, 1.3, 1.0]
    assert [temperature_mult(t) for t in (0.0, 0.29, 0.3, 0.49, 0.5, 0.69, 0.7, 1.0)] == [
        1.3, 1.3, 1.0, 1.0, 0.8, 0.8, 0.5, 0.5]  # fmt: skip
    assert (entropy_mult(0.0), entropy_mult(0.5), entropy_mult(1.0)) == (1.0, 0.75, 0.5)


def test_size_is_one_percent_risk_times_the_clamped_product() -> None:
    s = size(buy=True, equity=100_000, price=50_000, phase="unknown", temperature=0.4,
             entropy=0.0, volatility=0.01)  # fmt: skip
    assert s.mult == 1.0 and s.quantity == pytest.approx(100_000 * 0.01 / 50_000)
    s = size(buy=True, equity=100_000, price=100, phase="accumulation", temperature=0.1,
             entropy=0.0, volatility=0.01)  # fmt: skip
    assert s.mult == pytest.approx(1.95) and s.quantity == pytest.approx(1000 * 1.95 / 100)
    # the product can fall far below 0.25: clamped
    s = size(buy=True, equity=100_000, price=100, phase="markdown", temperature=0.9,
             entropy=1.0, volatility=0.08)  # fmt: skip
    assert s.phase * s.temperature * s.entropy * s.volatility == pytest.approx(
        0.4 * 0.5 * 0.5 * 0.25
    )
    assert s.mult == 0.25
    # and above 2.0, with a custom ceiling
    s = size(buy=True, equity=1, price=1, phase="accumulation", temperature=0.0, entropy=0.0,
             volatility=0.0, config=SizerConfig(max_mult=1.8))  # fmt: skip
    assert s.mult == 1.8


def test_bad_sizing_inputs() -> None:
    with pytest.raises(ValueError):
        size(buy=True, equity=1, price=0, phase="x", temperature=0, entropy=0, volatility=0)
    with pytest.raises(ValueError):
        SizerConfig(min_mult=3.0)


def test_effective_positions() -> None:
    assert effective_positions(np.eye(3)) == pytest.approx(3.0)
    assert effective_positions(np.ones((4, 4))) == pytest.approx(2.0)  # sqrt(4)
    c = np.array([[1.0, 0.85], [0.85, 1.0]])
    assert 1.0 < effective_positions(c) < 2.0  # BTC and ETH: less than two positions
    assert effective_positions(np.zeros((0, 0))) == 0.0
    with pytest.raises(ValueError):
        effective_positions(np.array([[1.0, 0.2], [0.3, 1.0]]))
    rng = np.random.default_rng(1)
    base = rng.normal(size=500)
    r = np.column_stack([base, base + 0.01 * rng.normal(size=500), rng.normal(size=500)])
    corr = correlation_of_returns(r)
    assert corr[0, 1] > 0.99 and abs(corr[0, 2]) < 0.15
    assert effective_positions(corr) == pytest.approx(np.sqrt(2) + 1, abs=0.1)


@pytest.mark.parametrize("buy", [True, False])
def test_quantity_is_size_without_the_record(buy: bool) -> None:
    from hean.risk.sizer import quantity

    for phase in ("accumulation", "markup", "distribution", "markdown", "unknown"):
        for temperature in (0.1, 0.4, 0.6, 0.9):
            for entropy in (-0.5, 0.0, 0.3, 1.0, 2.0):
                for vol in (0.0, 0.01, 0.02, 0.05, 0.5):
                    args = (buy, 50_000.0, 25_000.0, phase, temperature, entropy, vol)
                    kw = dict(zip(("buy", "equity", "price", "phase"), args[:4], strict=True))
                    want = size(**kw, temperature=temperature, entropy=entropy, volatility=vol)
                    assert quantity(*args) == pytest.approx(want.quantity, rel=1e-12)
    with pytest.raises(ValueError):
        quantity(buy, 1.0, 0.0, "markup", 0.1, 0.1, 0.01)
