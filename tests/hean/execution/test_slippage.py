"""Slippage cache: book walk, blend with history, fallbacks, refresher, thread safety."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest

from hean.domain import Side
from hean.execution.slippage import (
    BookSnapshot,
    SlippageCache,
    SlippageConfig,
    SlippageRefresher,
)

BOOK = BookSnapshot(bids=[(999, 5), (998, 5)], asks=[(1001, 3), (1002, 4), (1003, 10)], ts_ns=0)


def naive(levels, side, qty):
    """Reference walk: lot by lot, the slowest obvious way."""
    prices = [p for p, q in levels for _ in range(q)]
    if qty > len(prices):
        return None
    avg = sum(prices[:qty]) / qty
    return side.sign * (avg - prices[0]) / prices[0] * 1e4


def wait_for(pred, timeout=2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.001)
    return False


def test_defaults_are_the_seeds_numbers():
    c = SlippageConfig()
    assert (c.book_weight, c.thin_book_bps, c.fallback_bps) == (0.7, 50.0, 50.0)
    assert (c.history_len, c.max_age_ns, c.refresh_interval_s) == (100, 100_000_000, 0.05)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("book_weight", 1.2),
        ("thin_book_bps", -1.0),
        ("fallback_bps", math.nan),
        ("history_len", 0),
        ("max_age_ns", 0),
        ("refresh_interval_s", 0.0),
    ],
)
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        SlippageConfig(**{field: value})


def test_walk_of_a_known_book():
    c = SlippageCache()
    c.refresh("BTC", BOOK)
    one = c.estimate("BTC", Side.BUY, 3)
    assert one.source == "book" and one.bps == 0.0 and one.avg_price_ticks == 1001.0
    five = c.estimate("BTC", Side.BUY, 5)  # 3 @ 1001 + 2 @ 1002
    assert five.avg_price_ticks == pytest.approx(1001.4)
    assert five.bps == pytest.approx(0.4 / 1001 * 1e4)
    assert five.vs_mid_bps == pytest.approx(1.4 / 1000 * 1e4)  # mid 1000
    sell = c.estimate("BTC", Side.SELL, 7)  # 5 @ 999 + 2 @ 998: adverse, positive
    assert sell.avg_price_ticks == pytest.approx((5 * 999 + 2 * 998) / 7)
    assert sell.bps == pytest.approx((999 - sell.avg_price_ticks) / 999 * 1e4)
    assert sell.bps > 0


def test_estimate_equals_a_naive_walk_for_every_size():
    rng = np.random.default_rng(7)
    c = SlippageCache()
    for trial in range(20):
        n = int(rng.integers(1, 12))
        asks_px = 10_000 + np.cumsum(rng.integers(1, 5, size=n))
        bids_px = 9_999 - np.cumsum(rng.integers(1, 5, size=n))
        qty = rng.integers(0, 8, size=(2, n))
        book = BookSnapshot(
            [(int(p), int(q)) for p, q in zip(bids_px, qty[0], strict=True)],
            [(int(p), int(q)) for p, q in zip(asks_px, qty[1], strict=True)],
        )
        c.refresh(f"S{trial}", book)
        for side, levels in ((Side.BUY, book.asks), (Side.SELL, book.bids)):
            depth = sum(q for _, q in levels)
            for size in range(1, depth + 3):
                est = c.estimate(f"S{trial}", side, size)
                ref = naive([lv for lv in levels if lv[1]], side, size)
                if ref is None:
                    assert est.source == "thin" and est.bps >= 50.0
                else:
                    assert est.source == "book"
                    assert est.bps == pytest.approx(ref, abs=1e-9)


def test_thin_and_empty_books_cost_fifty_bps():
    c = SlippageCache()
    c.refresh("BTC", BOOK)
    thin = c.estimate("BTC", Side.BUY, 18)  # 17 lots visible
    assert thin.source == "thin" and thin.bps == 50.0 and thin.book_bps is None
    c.refresh("ETH", BookSnapshot(bids=[], asks=[(100, 0)]))
    for side in Side:
        e = c.estimate("ETH", side, 1)
        assert (e.source, e.bps) == ("thin", 50.0)
        assert e.vs_mid_bps is None


def test_thin_never_below_taking_the_whole_side():
    c = SlippageCache()
    c.refresh("X", BookSnapshot(bids=[(99, 1)], asks=[(100, 1), (200, 1)]))
    whole = c.estimate("X", Side.BUY, 2).bps  # 5,000 bps: half the lots at twice the price
    assert whole == pytest.approx(5_000.0)
    assert c.estimate("X", Side.BUY, 3).bps == pytest.approx(whole)


def test_zero_size_levels_are_skipped():
    c = SlippageCache()
    c.refresh("X", BookSnapshot(bids=[(99, 1)], asks=[(100, 0), (101, 2), (102, 0), (103, 2)]))
    e = c.estimate("X", Side.BUY, 3)
    assert e.avg_price_ticks == pytest.approx((2 * 101 + 103) / 3)
    assert e.bps == pytest.approx(((2 * 101 + 103) / 3 - 101) / 101 * 1e4)


def test_no_book_and_stale_book_fall_back():
    c = SlippageCache()
    assert c.estimate("BTC", Side.BUY, 1) == (50.0, "no book", None, None, None, None)
    c.refresh("BTC", BookSnapshot(BOOK.bids, BOOK.asks, ts_ns=1_000))
    assert c.estimate("BTC", Side.BUY, 1, now_ns=1_000 + 100_000_000).source == "book"
    assert c.estimate("BTC", Side.BUY, 1, now_ns=1_000 + 100_000_001).source == "stale"
    assert c.estimate("BTC", Side.BUY, 1).source == "book"  # no clock given: no age check
    assert c.symbols() == ["BTC"]
    c.forget("BTC")
    assert c.estimate("BTC", Side.BUY, 1).source == "no book" and c.symbols() == []


def test_size_under_one_lot_raises():
    c = SlippageCache()
    c.refresh("BTC", BOOK)
    with pytest.raises(ValueError):
        c.estimate("BTC", Side.BUY, 0)


@pytest.mark.parametrize(
    "book",
    [
        BookSnapshot(bids=[(999, 1)], asks=[(1002, 1), (1001, 1)]),  # asks falling
        BookSnapshot(bids=[(998, 1), (999, 1)], asks=[(1001, 1)]),  # bids rising
        BookSnapshot(bids=[(999, 1)], asks=[(1001, 1), (1001, 1)]),  # repeated level
        BookSnapshot(bids=[(0, 1)], asks=[(1001, 1)]),
        BookSnapshot(bids=[(999, -1)], asks=[(1001, 1)]),
    ],
)
def test_corrupt_book_raises_and_keeps_the_previous(book):
    c = SlippageCache()
    c.refresh("BTC", BOOK)
    with pytest.raises(ValueError):
        c.refresh("BTC", book)
    assert c.estimate("BTC", Side.BUY, 5).avg_price_ticks == pytest.approx(1001.4)


def test_record_measures_adverse_slippage_signed():
    c = SlippageCache()
    assert c.record("BTC", Side.BUY, 1000.0, 1001.0) == pytest.approx(10.0)
    assert c.record("BTC", Side.SELL, 1000.0, 999.0) == pytest.approx(10.0)
    assert c.record("BTC", Side.SELL, 1000.0, 1000.5) == pytest.approx(-5.0)  # improvement
    assert c.history("BTC", Side.BUY) == pytest.approx(10.0)
    assert c.history("BTC", Side.SELL) == pytest.approx(2.5)
    assert c.history("ETH", Side.BUY) is None
    for bad in ((0.0, 1.0), (1.0, 0.0), (math.nan, 1.0), (1.0, math.inf)):
        with pytest.raises(ValueError):
            c.record("BTC", Side.BUY, *bad)


def test_blend_is_seventy_thirty_per_symbol_and_side():
    c = SlippageCache()
    c.refresh("BTC", BOOK)
    c.refresh("ETH", BOOK)
    book = c.estimate("BTC", Side.BUY, 5).bps
    c.record("BTC", Side.BUY, 1000.0, 1002.0)  # 20 bps
    e = c.estimate("BTC", Side.BUY, 5)
    assert e.source == "blend" and e.history_bps == pytest.approx(20.0)
    assert e.book_bps == pytest.approx(book)
    assert e.bps == pytest.approx(0.7 * book + 0.3 * 20.0)
    assert c.estimate("BTC", Side.SELL, 5).source == "book"
    assert c.estimate("ETH", Side.BUY, 5).source == "book"
    # A thin book is not blended: history says nothing about a size the book lacks.
    assert c.estimate("BTC", Side.BUY, 100).bps == 50.0


def test_history_is_the_mean_of_the_last_n():
    c = SlippageCache(SlippageConfig(history_len=3))
    for realized in (1100.0, 1001.0, 1002.0, 1003.0):  # 1000, 10, 20, 30 bps
        c.record("BTC", Side.BUY, 1000.0, realized)
    assert c.history("BTC", Side.BUY) == pytest.approx(20.0)  # the 1000 bps fill is gone


def test_refresher_applies_submitted_books():
    c = SlippageCache()
    with SlippageRefresher(c, interval_s=0.01) as r:
        assert r.running
        r.submit("BTC", BOOK)
        assert wait_for(lambda: c.estimate("BTC", Side.BUY, 5).source == "book")
    assert not r.running


def test_refresher_polls_its_source_and_survives_errors():
    c = SlippageCache()
    calls = []

    def source():
        calls.append(1)
        if len(calls) % 2:
            raise RuntimeError("feed down")
        return {"BTC": BOOK, "BAD": BookSnapshot(bids=[(5, 1), (6, 1)], asks=[])}

    r = SlippageRefresher(c, source, interval_s=0.002)
    r.start()
    try:
        with pytest.raises(RuntimeError, match="running"):
            r.start()
        assert wait_for(lambda: len(calls) >= 6 and c.estimate("BTC", Side.BUY, 1).bps == 0.0)
    finally:
        r.stop()
    assert r.errors >= 5  # the failing calls and the corrupt book, and it kept going
    assert c.estimate("BAD", Side.BUY, 1).source == "no book"
    n = len(calls)
    time.sleep(0.02)
    assert len(calls) == n  # stopped means stopped
    r.start()  # and it can start again
    r.stop()


def test_refresher_rejects_a_bad_interval():
    with pytest.raises(ValueError):
        SlippageRefresher(SlippageCache(), interval_s=0.0)


def test_estimates_are_never_torn_while_a_refresher_runs():
    """Two books alternate as fast as the thread can go; every read is one or the other."""
    a = BookSnapshot(bids=[(999, 5), (998, 5)], asks=[(1001, 3), (1002, 4)])
    b = BookSnapshot(bids=[(899, 2), (890, 9)], asks=[(1101, 1), (1200, 9)])
    ref = SlippageCache()
    ref.refresh("A", a)
    ref.refresh("B", b)
    want = {
        (ref.estimate(k, Side.BUY, 4).bps, ref.estimate(k, Side.BUY, 4).vs_mid_bps) for k in "AB"
    }
    c = SlippageCache()
    c.refresh("X", a)
    flip = [0]

    def source():
        flip[0] += 1
        return {"X": a if flip[0] % 2 else b}

    seen = set()
    with SlippageRefresher(c, source, interval_s=1e-5) as r:
        recorder = threading.Thread(
            target=lambda: [c.record("X", Side.SELL, 100.0, 101.0) for _ in range(3000)]
        )
        recorder.start()
        deadline = time.monotonic() + 0.3
        while time.monotonic() < deadline:
            e = c.estimate("X", Side.BUY, 4)
            pair = (e.bps, e.vs_mid_bps)
            assert pair in want  # touch, levels and mid all from the same book
            seen.add(pair)
        recorder.join()
    assert r.errors == 0 and r.refreshes > 10
    assert seen == want  # both books were really seen
    assert c.history("X", Side.SELL) == pytest.approx(-100.0)


class _BlockingLevels:
    """Levels whose iteration waits for a signal: a refresh stuck mid-computation."""

    def __init__(self, levels):
        self.levels = levels
        self.entered = threading.Event()
        self.release = threading.Event()

    def __iter__(self):
        self.entered.set()
        self.release.wait(5.0)
        return iter(self.levels)

    def __len__(self):
        return len(self.levels)

    def __getitem__(self, i):
        return self.levels[i]


def test_estimate_does_not_wait_for_a_refresh_in_progress():
    c = SlippageCache()
    c.refresh("BTC", BOOK)
    slow = _BlockingLevels([(1100, 10)])
    with SlippageRefresher(c, interval_s=0.01) as r:
        r.submit("BTC", BookSnapshot(bids=[(999, 1)], asks=slow))
        assert slow.entered.wait(2.0)  # the thread is inside the refresh now
        t0 = time.perf_counter()
        for _ in range(1000):
            e = c.estimate("BTC", Side.BUY, 5)
        elapsed = time.perf_counter() - t0
        assert e.avg_price_ticks == pytest.approx(1001.4)  # the old book, served at once
        assert elapsed < 0.5
        slow.release.set()
        assert wait_for(lambda: c.estimate("BTC", Side.BUY, 5).avg_price_ticks == 1100.0)


def test_estimate_takes_no_lock():
    """With the writers' lock held (a swap in progress), a read still returns."""
    c = SlippageCache()
    c.refresh("BTC", BOOK)
    out = []
    with c._lock:
        t = threading.Thread(target=lambda: out.append(c.estimate("BTC", Side.BUY, 5)))
        t.start()
        t.join(1.0)
        assert not t.is_alive(), "estimate blocked on the writers' lock"
    assert out[0].source == "book"
