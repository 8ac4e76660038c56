"""The backtest report's figures: one function per PNG, drawn on matplotlib's Agg canvas.

Figures are built with :class:`matplotlib.figure.Figure` and an explicit
:class:`~matplotlib.backends.backend_agg.FigureCanvasAgg`, never through ``pyplot``: that way
no window can open, the process-wide backend of whoever imports this module is left alone,
and no figure lingers in pyplot's registry after it is saved.

Every series is decimated before it is drawn (:func:`decimate`), so a trace with millions
of points renders in about the time of one with twenty thousand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from hean.backtest.trace import PHASES, FeatureSeries, Trace

# buckets per drawn line (decimate keeps at most two points a bucket): a few per pixel column
# of a 12-inch, 100-dpi figure, so the thinning does not show; Agg's time grows with points
MAX_POINTS = 4_000
MAX_MARKERS = 5_000  # fill markers per (instrument, side, maker) group
DPI = 100

# NORMAL is drawn as no shading; a state the governor may add later falls back to grey
RISK_COLOURS = {"SOFT_BRAKE": "#ffe066", "QUARANTINE": "#ffa94d", "HARD_STOP": "#ff6b6b"}
OTHER_RISK_COLOUR = "#adb5bd"
PHASE_COLOURS = {
    "accumulation": "#4dabf7",
    "markup": "#51cf66",
    "distribution": "#fcc419",
    "markdown": "#ff6b6b",
    "unknown": "#ced4da",
}
NO_DATA_COLOUR = "0.45"


def decimate(
    x: np.ndarray, y: np.ndarray, max_points: int = MAX_POINTS
) -> tuple[np.ndarray, np.ndarray]:
    """Thin a series for drawing, keeping each bucket's minimum and maximum.

    The series is cut into at most ``max_points`` consecutive buckets and only the points
    holding each bucket's lowest and highest ``y`` are kept, in their original order. A line
    through them looks like the full line at screen resolution (spikes and the global
    extremes survive, which plain striding would drop).

    Parameters
    ----------
    x, y : ndarray
        Same length; ``x`` is typically time and is carried along with ``y``.
    max_points : int
        Number of buckets; the result has at most ``2 * max_points`` points.

    Returns
    -------
    x, y : ndarray
        The kept points (the inputs themselves when already short enough).
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if x.shape != y.shape or y.ndim != 1:
        raise ValueError(f"x and y must be 1-d and of one length, got {x.shape} and {y.shape}")
    if max_points < 1:
        raise ValueError(f"max_points must be >= 1, got {max_points}")
    n = len(y)
    if n <= 2 * max_points:
        return x, y
    width = -(-n // max_points)  # ceil, so that there are at most max_points buckets
    full = n // width
    yf = y.astype(np.float64, copy=False)
    # NaN would win argmin/argmax; make it lose both so a bucket's real extremes are kept
    nan = np.isnan(yf)
    low = np.where(nan, np.inf, yf)
    high = np.where(nan, -np.inf, yf)
    base = np.arange(full) * width
    picks = [
        base + low[: full * width].reshape(full, width).argmin(axis=1),
        base + high[: full * width].reshape(full, width).argmax(axis=1),
    ]
    if full * width < n:  # the short last bucket
        start = full * width
        picks.append(np.array([start + low[start:].argmin(), start + high[start:].argmax()]))
    keep = np.unique(np.concatenate(picks))  # sorted: the line is still drawn in time order
    return x[keep], y[keep]


@dataclass(frozen=True)
class Clock:
    """Maps ns timestamps to the report's time axis (seconds or minutes from the start)."""

    t0_ns: int
    t1_ns: int
    scale_ns: float
    unit: str

    def __call__(self, ts_ns: np.ndarray | int) -> np.ndarray:
        # subtract in int64 first: epoch ns do not fit a float64's 53 bits exactly
        return (np.asarray(ts_ns, dtype=np.int64) - self.t0_ns) / self.scale_ns

    @property
    def label(self) -> str:
        return f"time from session start ({self.unit})"


def session_clock(trace: Trace) -> Clock:
    """The clock of a trace: its earliest timestamp is 0; minutes when it spans > 2 min."""
    stamps = [trace.equity_ts_ns, trace.fills.ts_ns]
    stamps += [f.ts_ns for f in trace.features.values()]
    stamps.append(np.array([r[0] for r in trace.risk], dtype=np.int64))
    stamps = [np.asarray(s) for s in stamps if len(s)]
    if not stamps:
        return Clock(0, 0, 1e9, "s")
    t0 = int(min(s.min() for s in stamps))
    t1 = int(max(s.max() for s in stamps))
    if t1 - t0 > 120 * 10**9:
        return Clock(t0, t1, 60e9, "min")
    return Clock(t0, t1, 1e9, "s")


def risk_spans(risk: Sequence[tuple[int, str, str]], end_ns: int) -> list[tuple[int, int, str]]:
    """The non-NORMAL stretches of the risk state as (start_ns, end_ns, state)."""
    ordered = sorted(risk, key=lambda r: r[0])
    spans = []
    for i, (ts, state, _reason) in enumerate(ordered):
        end = ordered[i + 1][0] if i + 1 < len(ordered) else max(end_ns, ts)
        if state != "NORMAL":
            spans.append((int(ts), int(end), str(state)))
    return spans


def _figure(width: float, height: float, nrows: int, ncols: int, **kw) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def _no_data(ax: Axes, text: str) -> None:
    ax.text(
        0.5,
        0.5,
        text,
        transform=ax.transAxes,
        ha="center",
        va="center",
        color=NO_DATA_COLOUR,
        fontsize=12,
    )


def _finite(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).ravel()
    return v[np.isfinite(v)]


def _line(ax: Axes, clock: Clock, ts: np.ndarray, y: np.ndarray, **kw) -> bool:
    n = min(len(ts), len(y))
    if n == 0:
        return False
    # thin first and map the kept stamps only: the clock's conversion is a full pass
    x, yy = decimate(ts[:n], np.asarray(y[:n], dtype=np.float64), MAX_POINTS)
    ax.plot(clock(x), yy, **kw)
    return True


def plot_equity(trace: Trace, clock: Clock, path: Path) -> None:
    """Equity curve on top, drawdown in % from the running peak below (shared time axis)."""
    fig, axes = _figure(11, 6.5, 2, 1, sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    top, bottom = axes[:, 0]
    n = min(len(trace.equity_ts_ns), len(trace.equity))
    equity = np.asarray(trace.equity[:n], dtype=np.float64)
    if n == 0:
        top.set_title("Equity")
        _no_data(top, "no equity samples")
        _no_data(bottom, "no equity samples")
    else:
        t = clock(trace.equity_ts_ns[:n])
        peak = np.fmax.accumulate(equity)  # fmax: a NaN sample does not poison the peak
        with np.errstate(invalid="ignore", divide="ignore"):
            drawdown = np.where(peak > 0, (equity / peak - 1.0) * 100.0, np.nan)
        x, y = decimate(t, equity)
        top.plot(x, y, color="C0", lw=1.0)
        x, y = decimate(t, drawdown)
        bottom.fill_between(x, y, 0.0, color="red", alpha=0.35, lw=0)
        bottom.plot(x, y, color="darkred", lw=0.6)
        fin, dd = _finite(equity), _finite(drawdown)
        worst = f"{dd.min():.2f} %" if len(dd) else "n/a"
        first = f"{fin[0]:.6g}" if len(fin) else "n/a"
        last = f"{fin[-1]:.6g}" if len(fin) else "n/a"
        top.set_title(f"Equity: start {first}, end {last}, max drawdown {worst}")
    top.set_ylabel("equity (quote currency)")
    top.grid(alpha=0.3)
    bottom.set_ylabel("drawdown from peak (%)")
    bottom.set_xlabel(clock.label)
    bottom.grid(alpha=0.3)
    fig.savefig(path)


def _shade_risk(ax: Axes, clock: Clock, spans: list[tuple[int, int, str]]) -> None:
    for start, end, state in spans:
        colour = RISK_COLOURS.get(state, OTHER_RISK_COLOUR)
        ax.axvspan(float(clock(start)), float(clock(end)), color=colour, alpha=0.4, lw=0, zorder=0)


def _stride(index: np.ndarray, limit: int) -> np.ndarray:
    if len(index) <= limit:
        return index
    return index[:: -(-len(index) // limit)]


def plot_price_fills(trace: Trace, clock: Clock, path: Path) -> None:
    """One panel per instrument: mid, fills as triangles, risk state as background."""
    fills = trace.fills
    inst = np.asarray(fills.instrument)
    ids = sorted(set(trace.features) | {int(i) for i in np.unique(inst)})
    rows = max(1, len(ids))
    fig, axes = _figure(11, 1.6 + 2.6 * rows, rows, 1, sharex=True)
    spans = risk_spans(trace.risk, clock.t1_ns)
    side, maker = np.asarray(fills.side), np.asarray(fills.maker, dtype=bool)
    groups = (  # side, maker, marker, colour, label
        (1, True, "^", "green", "buy, maker"),
        (1, False, "^", "green", "buy, taker"),
        (-1, True, "v", "red", "sell, maker"),
        (-1, False, "v", "red", "sell, taker"),
    )
    for ax in axes[:, 0]:
        _shade_risk(ax, clock, spans)
        ax.set_ylabel("price (quote currency)")
        ax.grid(alpha=0.3)
    if not ids:
        axes[0, 0].set_title("Mid price and fills")
        _no_data(axes[0, 0], "no instruments")
    for ax, iid in zip(axes[:, 0], ids, strict=False):
        series = trace.features.get(iid)
        ax.set_title(series.symbol if series is not None else f"instrument {iid}")
        drawn = series is not None and _line(
            ax, clock, series.ts_ns, series.mid, color="0.3", lw=0.8
        )
        for s, m, marker, colour, _label in groups:
            sel = _stride(np.flatnonzero((inst == iid) & (side == s) & (maker == m)), MAX_MARKERS)
            if len(sel):
                ax.scatter(
                    clock(fills.ts_ns[sel]),
                    fills.price[sel],
                    s=30,
                    marker=marker,
                    facecolors="none" if m else colour,
                    edgecolors=colour,
                    linewidths=1.0,
                    zorder=3,
                )
                drawn = True
        if not drawn:
            _no_data(ax, "no samples")
    axes[-1, 0].set_xlabel(clock.label)
    handles = [Line2D([], [], color="0.3", lw=0.8, label="mid")]
    for _s, m, marker, colour, label in groups:
        handles.append(
            Line2D(
                [],
                [],
                ls="",
                marker=marker,
                markersize=7,
                label=label,
                markerfacecolor="none" if m else colour,
                markeredgecolor=colour,
            )
        )
    states = list(RISK_COLOURS) + sorted({s for _a, _b, s in spans} - set(RISK_COLOURS))
    for state in states:
        colour = RISK_COLOURS.get(state, OTHER_RISK_COLOUR)
        handles.append(Patch(color=colour, alpha=0.4, label=f"risk: {state}"))
    fig.legend(
        handles=handles,
        loc="outside lower center",
        ncol=min(len(handles), 5),
        fontsize=9,
        frameon=False,
    )
    fig.suptitle("Mid price and fills (background: risk state; NORMAL unshaded)")
    fig.savefig(path)


def plot_slippage(trace: Trace, path: Path) -> None:
    """Histogram of the fills' slippage in bps, maker and taker apart, mean and p95 marked."""
    fig, axes = _figure(9, 5, 1, 1)
    ax = axes[0, 0]
    slip = np.asarray(trace.fills.slippage_bps, dtype=np.float64)
    maker = np.asarray(trace.fills.maker, dtype=bool)[: len(slip)]
    known = np.isfinite(slip)
    ax.set_xlabel("slippage against the touch (bps)")
    ax.set_ylabel("fills")
    if not known.any():
        ax.set_title(f"Slippage (0 of {len(slip)} fills with a known touch)")
        _no_data(ax, "no fills with a known touch")
        fig.savefig(path)
        return
    values = slip[known]
    lo, hi = float(values.min()), float(values.max())
    if lo == hi:  # one distinct value: give the single bar some width
        lo, hi = lo - 0.5, hi + 0.5
    bins = np.linspace(lo, hi, 61)
    for sel, colour, name in ((known & maker, "C0", "maker"), (known & ~maker, "C1", "taker")):
        if sel.any():
            ax.hist(
                slip[sel],
                bins=bins,
                color=colour,
                alpha=0.55,
                histtype="stepfilled",
                label=f"{name} (n={int(sel.sum()):,}, mean {slip[sel].mean():.2f})",
            )
    mean, p95 = float(values.mean()), float(np.percentile(values, 95))
    ax.axvline(mean, color="k", ls="--", lw=1.2, label=f"mean {mean:.2f} bps")
    ax.axvline(p95, color="k", ls=":", lw=1.5, label=f"p95 {p95:.2f} bps")
    ax.set_title(f"Slippage ({len(values):,} of {len(slip):,} fills with a known touch)")
    ax.legend(fontsize=9)
    ax.grid(alpha=0.3)
    fig.savefig(path)


def _phase_runs(clock: Clock, series: FeatureSeries) -> dict[int, list[tuple[float, float]]]:
    n = min(len(series.ts_ns), len(series.phase))
    if n == 0:
        return {}
    step = max(1, -(-n // (2 * MAX_POINTS)))  # a category has no min/max: stride it
    t = clock(series.ts_ns[:n:step])
    code = np.asarray(series.phase[:n:step], dtype=np.int64)
    code = np.where((code < 0) | (code >= len(PHASES)), len(PHASES) - 1, code)
    change = np.flatnonzero(np.diff(code)) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((t[change], [t[-1]]))
    runs: dict[int, list[tuple[float, float]]] = {}
    for s, e in zip(starts, ends, strict=True):
        runs.setdefault(int(code[s]), []).append((float(t[s]), float(e - t[s])))
    return runs


def plot_features(trace: Trace, clock: Clock, path: Path) -> None:
    """Imbalances, OFI, temperature/entropy and the phase band, one colour per instrument."""
    ids = sorted(trace.features)
    band = max(1.0, 0.5 * len(ids))
    fig, axes = _figure(
        12, 9 + 0.4 * len(ids), 4, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2.5, 3, band]}
    )
    imb, ofi, heat, phase = axes[:, 0]
    handles, any_drawn = [], False
    for k, iid in enumerate(ids):
        s, colour = trace.features[iid], f"C{k % 10}"
        handles.append(Line2D([], [], color=colour, lw=1.5, label=s.symbol))
        drawn = _line(imb, clock, s.ts_ns, s.imbalance_top, color=colour, lw=0.8)
        _line(imb, clock, s.ts_ns, s.imbalance_depth, color=colour, lw=0.8, ls="--", alpha=0.8)
        _line(ofi, clock, s.ts_ns, s.ofi, color=colour, lw=0.8)
        _line(heat, clock, s.ts_ns, s.temperature, color=colour, lw=0.8)
        _line(heat, clock, s.ts_ns, s.entropy, color=colour, lw=0.8, ls="--", alpha=0.8)
        for code, runs in _phase_runs(clock, s).items():
            phase.broken_barh(runs, (k - 0.4, 0.8), facecolors=PHASE_COLOURS[PHASES[code]])
        any_drawn |= drawn
    imb.set_title("Order-book imbalance (solid: top of book, dashed: depth)")
    imb.set_ylabel("imbalance (-1..1)")
    imb.set_ylim(-1.05, 1.05)
    ofi.set_title("Order-flow imbalance")
    ofi.set_ylabel("OFI (lots)")
    heat.set_title("Temperature (solid) and entropy (dashed)")
    heat.set_ylabel("value (0..1)")
    heat.set_ylim(-0.05, 1.05)
    phase.set_title("Phase")
    phase.set_yticks(range(len(ids)), [trace.features[i].symbol for i in ids])
    phase.set_ylim(-0.6, max(len(ids), 1) - 0.4)
    phase.set_xlabel(clock.label)
    for ax in (imb, ofi, heat):
        ax.grid(alpha=0.3)
        if not any_drawn:
            _no_data(ax, "no feature samples")
    if not any_drawn:
        _no_data(phase, "no feature samples")
    if handles:
        imb.legend(handles=handles, fontsize=9, loc="upper right", ncol=min(len(handles), 4))
    phase_handles = [Patch(color=PHASE_COLOURS[p], label=p) for p in PHASES]
    fig.legend(
        handles=phase_handles,
        loc="outside lower center",
        ncol=len(PHASES),
        fontsize=9,
        frameon=False,
    )
    fig.savefig(path)


def _num(value: float) -> str:
    # three significant digits, but no exponent for the thousands a latency often reaches
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _latency_panel(
    ax: Axes, values: np.ndarray, what: str, xlabel: str, units: Sequence[tuple[float, str]]
) -> None:
    v = _finite(values)
    if len(v):
        # the first unit in which the median is below 1000 (or the last one)
        scale, unit = next(((s, u) for s, u in units if np.median(np.abs(v)) / s < 1000), units[-1])
    else:
        scale, unit = units[0]
    v = v / scale
    ax.set_xlabel(f"{xlabel} ({unit})")
    ax.set_ylabel("samples")
    ax.grid(alpha=0.3)
    if not len(v):
        ax.set_title(f"{what}\nno samples", fontsize=10)
        _no_data(ax, "no samples")
        return
    p50, p99 = (float(p) for p in np.percentile(v, [50, 99]))
    lo, hi = float(v.min()), float(v.max())
    if lo > 0 and hi / lo >= 100:  # spans decades: equal-ratio bins on a log axis
        # binned as uniform bins of log10 (np.histogram's fast path), drawn at 10**edge
        counts, edges = np.histogram(np.log10(v), bins=60)
        edges = 10.0**edges
        ax.set_xscale("log")
    else:
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        counts, edges = np.histogram(v, bins=60, range=(lo, hi))
    ax.stairs(counts, edges, fill=True, color="C0", alpha=0.7)
    ax.axvline(p50, color="k", ls="--", lw=1.2, label="p50")
    ax.axvline(p99, color="C3", ls=":", lw=1.5, label="p99")
    ax.legend(fontsize=8)
    ax.set_title(
        f"{what} (n={len(v):,})\np50 {_num(p50)} {unit}, p99 {_num(p99)} {unit}", fontsize=10
    )


def plot_latency(trace: Trace, path: Path) -> None:
    """Histograms of feed latency, order latency and feature-engine time per message."""
    fig, axes = _figure(15, 4.5, 1, 3)
    feed, order, engine = axes[0]
    # feed latency in µs, or ms when its median is a millisecond or more
    _latency_panel(
        feed,
        trace.feed_latency_ns,
        "Feed latency (recv - exch)",
        "latency",
        ((1e3, "µs"), (1e6, "ms")),
    )
    _latency_panel(
        order,
        trace.order_latency_ns,
        "Order latency (send to first report)",
        "latency",
        ((1e6, "ms"),),
    )
    _latency_panel(
        engine, trace.engine_ns_per_msg, "Feature engine time per message", "time", ((1.0, "ns"),)
    )
    fig.savefig(path)
