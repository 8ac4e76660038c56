"""The flash-crash detector's batch window against its point-by-point update."""

from __future__ import annotations

import numpy as np
import pytest

from hean.micro.flash_crash import FlashCrashDetector


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_update_many_is_update_point_by_point(seed: int) -> None:
    """The numba window gives the halts, events and state that ``update`` gives."""
    rng = np.random.default_rng(seed)
    n = 4_000
    ts = np.cumsum(rng.integers(1, 400_000_000, n)).astype(np.int64)
    steps = rng.normal(0, 0.004, n)
    steps[rng.integers(0, n, 6)] = -0.08  # crashes, and spikes
    steps[rng.integers(0, n, 6)] = 0.07
    px = 100.0 * np.exp(np.cumsum(steps))
    px[rng.integers(0, n, 50)] = px[rng.integers(0, n, 50)]  # repeated prices too
    one, many = FlashCrashDetector(), FlashCrashDetector()
    want = []
    for t, p in zip(ts.tolist(), px.tolist(), strict=True):
        one.update(t, p)
        want.append(one.halted(t))
    parts = zip(np.array_split(ts, 9), np.array_split(px, 9), strict=True)
    got = np.concatenate([many.update_many(a, b) for a, b in parts])
    assert got.tolist() == want and any(want)
    assert many.events == one.events and many.halt_until == one.halt_until
    assert list(many._prices) == list(one._prices)
    assert list(many._lo) == list(one._lo) and list(many._hi) == list(one._hi)
    one.update(int(ts[-1]) + 1, 50.0)  # and they go on alike
    many.update(int(ts[-1]) + 1, 50.0)
    assert many.events == one.events and many.halt_until == one.halt_until
