"""hean.backtest.report: the PNGs, index.html and report.md of a backtest."""

from __future__ import annotations

import html
import time
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from hean.backtest.plots import Clock, risk_spans, session_clock
from hean.backtest.report import IMAGES, decimate, format_value, write_report
from hean.backtest.trace import PHASES, FeatureSeries, FillSeries, Trace

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
T0 = 1_767_225_600 * 10**9  # 2026-01-01 00:00:00 UTC, in ns
NAMES = [name for name, _caption in IMAGES]
REASON = "drawdown 2.1% > limit <2%> & rising"


def _features(symbol: str, n: int, step_ns: int, rng: np.random.Generator) -> FeatureSeries:
    ts = T0 + np.arange(n, dtype=np.int64) * step_ns
    return FeatureSeries(
        symbol=symbol,
        ts_ns=ts,
        mid=100.0 + np.cumsum(rng.normal(0, 0.05, n)),
        imbalance_top=np.clip(rng.normal(0, 0.4, n), -1, 1),
        imbalance_depth=np.clip(rng.normal(0, 0.2, n), -1, 1),
        ofi=rng.normal(0, 30, n),
        temperature=rng.uniform(0, 1, n),
        entropy=rng.uniform(0, 1, n),
        phase=(np.arange(n) // 500 % len(PHASES)).astype(np.int8),
    )


def _fills(n: int, span_ns: int, rng: np.random.Generator) -> FillSeries:
    slippage = rng.normal(1.0, 2.0, n)
    slippage[::7] = np.nan  # fills whose touch is unknown
    return FillSeries(
        ts_ns=np.sort(T0 + rng.integers(0, span_ns, n)).astype(np.int64),
        instrument=(np.arange(n) % 2).astype(np.int16),
        side=np.where(np.arange(n) % 3 == 0, 1, -1).astype(np.int8),
        price=100.0 + rng.normal(0, 0.5, n),
        qty=np.full(n, 0.01),
        maker=rng.random(n) < 0.7,
        slippage_bps=slippage,
    )


def _trace() -> Trace:
    rng = np.random.default_rng(7)
    n, step = 4_000, 100_000_000  # 4,000 samples at 100 ms: 400 s, drawn in minutes
    equity_ts = T0 + np.arange(n, dtype=np.int64) * step
    return Trace(
        equity_ts_ns=equity_ts,
        equity=10_000.0 + np.cumsum(rng.normal(0, 2.0, n)),
        features={0: _features("BTCUSDT", n, step, rng), 1: _features("ETHUSDT", n, step, rng)},
        fills=_fills(120, n * step, rng),
        risk=[(T0 + 100 * 10**9, "SOFT_BRAKE", REASON), (T0 + 250 * 10**9, "NORMAL", "recovered")],
        feed_latency_ns=rng.lognormal(np.log(300_000), 1.5, 5_000).astype(np.int64),
        order_latency_ns=rng.normal(40e6, 5e6, 300).astype(np.int64),
        engine_ns_per_msg=rng.normal(250.0, 20.0, 200),
    )


@pytest.fixture
def trace() -> Trace:
    return _trace()


def _empty_trace() -> Trace:
    empty_i, empty_f = np.zeros(0, np.int64), np.zeros(0, np.float64)
    features = FeatureSeries(
        "XRPUSDT", empty_i, empty_f, empty_f, empty_f, empty_f, empty_f, empty_f,
        np.zeros(0, np.int8),
    )  # fmt: skip
    fills = FillSeries(
        empty_i, np.zeros(0, np.int16), np.zeros(0, np.int8), empty_f, empty_f,
        np.zeros(0, bool), empty_f,
    )  # fmt: skip
    return Trace(equity_ts_ns=empty_i, equity=empty_f, features={3: features}, fills=fills)


METRICS = {
    "total_pnl": 123.456789,
    "sharpe": 1.5e-7,
    "fills": 120,
    "max_drawdown_pct": float("nan"),
    "per_instrument": {"BTCUSDT": {"pnl": np.float64(100.5), "fills": np.int64(60)}},
    "latencies_ms": np.array([1.5, 2.5]),
    "note": "a < b & c",
}


def _assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_MAGIC, path
    image = imread(path)
    height, width = image.shape[:2]
    assert image.ndim == 3 and image.shape[2] in (3, 4)
    assert 300 <= height <= 3000 and 500 <= width <= 3000, (path, image.shape)
    # not a blank canvas: something was drawn
    assert float(image[..., :3].std()) > 0.01, path


def test_report_writes_every_file(trace: Trace, tmp_path: Path) -> None:
    out = tmp_path / "nested" / "report"
    index = write_report(trace, METRICS, out, title="Run <7>")
    assert index == out / "index.html"
    for name in [*NAMES, "index.html", "report.md"]:
        assert (out / name).is_file(), name
    assert NAMES == ["equity.png", "price_fills.png", "slippage.png", "features.png", "latency.png"]
    for name in NAMES:
        _assert_png(out / name)


def test_index_html_content(trace: Trace, tmp_path: Path) -> None:
    page = write_report(trace, METRICS, tmp_path, title="Run <7>").read_text(encoding="utf-8")
    assert "<title>Run &lt;7&gt;</title>" in page and "Run <7>" not in page
    for key in METRICS:
        assert f"<th>{key}</th>" in page
    for name in NAMES:
        assert f'src="{name}"' in page
    # the reason is escaped, never raw
    assert html.escape(REASON) in page
    assert REASON not in page and "<2%>" not in page
    assert "recovered" in page and "SOFT_BRAKE" in page
    assert "+100.000 s (2026-01-01 00:01:40.000 UTC)" in page
    # numbers formatted, nested values as compact JSON in a code cell
    assert '<td class="num">123.457</td>' in page
    assert '<td class="num">1.5e-07</td>' in page
    assert "<code>{&quot;BTCUSDT&quot;:{&quot;pnl&quot;:100.5,&quot;fills&quot;:60}}</code>" in page
    assert "<code>[1.5,2.5]</code>" in page
    assert "<td>a &lt; b &amp; c</td>" in page
    # self-contained: nothing fetched from elsewhere
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page and "<link" not in page


def test_report_md_content(trace: Trace, tmp_path: Path) -> None:
    write_report(trace, METRICS, tmp_path)
    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert text.startswith("# HEAN backtest\n")
    for name in NAMES:
        assert f"]({name})" in text
    assert "![" in text
    for key in METRICS:
        assert key.replace("_", "\\_") in text
    assert '`{"BTCUSDT":{"pnl":100.5,"fills":60}}`' in text
    assert "\\<2%\\>" in text  # Markdown's markup characters are escaped
    # every table row keeps its two columns (no stray pipe)
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows and all(line.replace("\\|", "").count("|") in (3, 4) for line in rows)


def test_empty_trace_still_writes_everything(tmp_path: Path) -> None:
    index = write_report(_empty_trace(), {}, tmp_path)
    for name in [*NAMES, "index.html", "report.md"]:
        assert (tmp_path / name).is_file(), name
    for name in NAMES:
        _assert_png(tmp_path / name)
    page = index.read_text(encoding="utf-8")
    assert page.count("<p>none</p>") == 2  # no metrics, no transitions
    assert "no timestamps" in page


def test_no_instruments_at_all(tmp_path: Path) -> None:
    bare = _empty_trace()
    bare.features = {}
    write_report(bare, {"x": 1}, tmp_path)
    for name in NAMES:
        _assert_png(tmp_path / name)


def test_all_slippage_unknown_and_odd_values(trace: Trace, tmp_path: Path) -> None:
    trace.fills.slippage_bps[:] = np.nan
    trace.feed_latency_ns = np.full(10, 5_000, np.int64)  # one distinct value
    trace.order_latency_ns = np.zeros(0, np.int64)
    trace.equity[:10] = np.nan
    trace.features[0].phase[:5] = 99  # out of range: drawn as unknown
    trace.risk.append((int(trace.equity_ts_ns[-1]), "HARD_STOP", "kill switch"))
    write_report(trace, METRICS, tmp_path)
    for name in NAMES:
        _assert_png(tmp_path / name)


def test_decimate_keeps_extremes_and_bounds_points() -> None:
    rng = np.random.default_rng(3)
    n = 2_000_000
    x = np.arange(n, dtype=np.int64)
    y = np.cumsum(rng.normal(0, 1, n))
    y[1_234_567] = y.max() + 50.0  # one spike each way, which striding would miss
    y[765_431] = y.min() - 50.0
    y[10] = np.nan
    for max_points in (1, 7, 1_000, 10_000):
        xd, yd = decimate(x, y, max_points)
        assert len(xd) == len(yd) <= 2 * max_points
        assert np.nanmax(yd) == np.nanmax(y) and np.nanmin(yd) == np.nanmin(y)
        assert np.all(np.diff(xd) > 0)  # still in order
        assert np.array_equal(y[xd], yd)  # real points, carried with their x
    short_x, short_y = decimate(x[:100], y[:100], 1_000)
    assert len(short_x) == 100 and np.array_equal(short_y, y[:100], equal_nan=True)
    empty = np.zeros(0)
    assert len(decimate(empty, empty, 10)[0]) == 0
    with pytest.raises(ValueError):
        decimate(x[:10], y[:9], 10)
    with pytest.raises(ValueError):
        decimate(x, y, 0)


def test_long_series_report_is_fast(trace: Trace, tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    n, step = 2_000_000, 1_000_000  # 2 M samples at 1 ms
    trace.equity_ts_ns = T0 + np.arange(n, dtype=np.int64) * step
    trace.equity = 10_000.0 + np.cumsum(rng.normal(0, 0.1, n))
    trace.features = {0: _features("BTCUSDT", n, step, rng)}
    trace.fills = _fills(200_000, n * step, rng)
    trace.feed_latency_ns = rng.lognormal(np.log(300_000), 1.0, n).astype(np.int64)
    start = time.perf_counter()
    write_report(trace, METRICS, tmp_path)
    elapsed = time.perf_counter() - start
    for name in NAMES:
        _assert_png(tmp_path / name)
    assert elapsed < 60, elapsed  # generous for a shared CI box; a few seconds here


def test_format_value() -> None:
    assert format_value(3) == ("3", False)
    assert format_value(np.int64(3)) == ("3", False)
    assert format_value(True) == ("True", False)
    assert format_value(2.0 / 3.0) == ("0.666667", False)
    assert format_value(float("inf")) == ("inf", False)
    assert format_value({"a": [1, 2]}) == ('{"a":[1,2]}', True)
    assert format_value((1, np.float32(0.5))) == ("[1,0.5]", True)
    assert format_value("x") == ("x", False)


def test_clock_and_risk_spans(trace: Trace) -> None:
    clock = session_clock(trace)
    assert (clock.t0_ns, clock.unit) == (T0, "min")  # 400 s: minutes
    assert float(clock(T0 + 90 * 10**9)) == pytest.approx(1.5)
    short = Clock(T0, T0 + 10**9, 1e9, "s")
    assert short.label == "time from session start (s)"
    spans = risk_spans(trace.risk, clock.t1_ns)
    assert spans == [(T0 + 100 * 10**9, T0 + 250 * 10**9, "SOFT_BRAKE")]
    late = risk_spans([(5, "HARD_STOP", "x"), (2, "QUARANTINE", "y")], 10)
    assert late == [(2, 5, "QUARANTINE"), (5, 10, "HARD_STOP")]
    assert session_clock(_empty_trace()).t0_ns == 0
