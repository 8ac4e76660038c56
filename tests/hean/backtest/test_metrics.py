"""The metrics' arithmetic: round trips, drawdown, Sharpe, JSON-able config."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from hean.backtest.metrics import deterministic, max_drawdown, plain, round_trips, sharpe
from hean.config import HeanConfig


def trips(fills: list[tuple[int, int, float, float, float]]) -> list[float]:
    cols = list(zip(*fills, strict=True))
    return round_trips(*(np.array(c, np.float64) for c in cols))


def test_round_trips_net_of_fees() -> None:
    # buy 2 @ 100, sell 1 @ 110, sell 1 @ 90: one trip, +10 - 10 = 0, less 3 in fees
    assert trips([(0, 1, 100.0, 2.0, 1.0), (0, -1, 110.0, 1.0, 1.0),
                  (0, -1, 90.0, 1.0, 1.0)]) == pytest.approx([-3.0])  # fmt: skip
    # a short: sell 1 @ 100, buy 1 @ 95: +5 less fees 0.5
    assert trips([(1, -1, 100.0, 1.0, 0.25), (1, 1, 95.0, 1.0, 0.25)]) == pytest.approx([4.5])


def test_a_flip_closes_one_trip_and_opens_the_next() -> None:
    # long 1 @ 100; sell 3 @ 110 closes it (+10) and opens a short of 2; buy 2 @ 100 (+20)
    got = trips([(0, 1, 100.0, 1.0, 0.0), (0, -1, 110.0, 3.0, 3.0), (0, 1, 100.0, 2.0, 0.0)])
    assert got == pytest.approx([10.0 - 1.0, 20.0 - 2.0])  # the flip's fee shared by size


def test_instruments_are_kept_apart() -> None:
    got = trips([(0, 1, 100.0, 1.0, 0.0), (1, 1, 50.0, 1.0, 0.0), (0, -1, 101.0, 1.0, 0.0)])
    assert got == pytest.approx([1.0])  # instrument 1 is still open


def test_max_drawdown() -> None:
    assert max_drawdown(np.array([100.0, 120.0, 90.0, 130.0, 117.0])) == pytest.approx(0.25)
    assert max_drawdown(np.array([])) == 0.0


def test_sharpe() -> None:
    minute = 60 * 10**9
    ts = np.arange(0, 100 * minute, minute, dtype=np.int64)
    rng = np.random.default_rng(1)
    eq = 100.0 * np.cumprod(1 + 0.001 + 0.001 * rng.standard_normal(100))
    r = np.diff(eq) / eq[:-1]
    want = r.mean() / r.std() * math.sqrt(365 * 24 * 60)
    assert sharpe(ts, eq, minute) == pytest.approx(want)
    assert sharpe(ts, np.full(100, 5.0), minute) == 0.0  # no variation: 0, not inf
    assert sharpe(ts[:1], eq[:1], minute) == 0.0


def test_config_is_plain_json_and_timing_keys_go() -> None:
    doc = plain(HeanConfig())
    assert json.loads(json.dumps(doc)) == doc and doc["fees"]["maker"] == "0.0002"
    assert deterministic({"wall_s": 1, "msgs_per_s": 2, "pnl": 3}) == {"pnl": 3}
