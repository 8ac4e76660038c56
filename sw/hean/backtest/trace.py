"""What a backtest leaves behind for its report: time series as numpy arrays.

The backtest fills a :class:`Trace` as it runs (sampled, so that its size does not grow
with the message count beyond a few hundred thousand points); the report module draws
it. Times are ns on the strategy's clock (the records' ``recv_ts_ns``); prices are in
quote currency (ticks times the instrument's tick).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# phase names in the order of their codes in FeatureSeries.phase
PHASES = ("accumulation", "markup", "distribution", "markdown", "unknown")


@dataclass
class FeatureSeries:
    """One instrument's sampled mid and features (one sample per ``sample_ns``)."""

    symbol: str
    ts_ns: np.ndarray  # int64
    mid: np.ndarray  # float64, quote currency
    imbalance_top: np.ndarray  # float64, -1..1 (imb1 / 32768)
    imbalance_depth: np.ndarray  # float64, -1..1 (imbN / 32768)
    ofi: np.ndarray  # float64, lots (the record's ofi)
    temperature: np.ndarray  # float64, 0..1
    entropy: np.ndarray  # float64, 0..1
    phase: np.ndarray  # int8, index into PHASES


@dataclass
class FillSeries:
    """Every fill of the run, in time order."""

    ts_ns: np.ndarray  # int64
    instrument: np.ndarray  # int16
    side: np.ndarray  # int8, +1 buy, -1 sell
    price: np.ndarray  # float64, quote currency
    qty: np.ndarray  # float64, base currency
    maker: np.ndarray  # bool
    slippage_bps: np.ndarray  # float64, against the touch decided on; NaN when unknown
    fee: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))  # quote, paid > 0


@dataclass
class Trace:
    """Everything the report draws.

    Attributes
    ----------
    equity_ts_ns, equity : ndarray
        The account's equity (quote currency) over time, marked to mid.
    features : dict of int to FeatureSeries
        Per instrument id.
    fills : FillSeries
    risk : list of (ts_ns, state, reason)
        The risk governor's transitions; the state before the first is NORMAL.
    feed_latency_ns : ndarray
        ``recv_ts_ns - exch_ts_ns`` of the messages (a sample of them on long runs).
    order_latency_ns : ndarray
        From an order's send to its first report (ack, fill or refusal) on the
        strategy's clock.
    engine_ns_per_msg : ndarray
        Wall-clock time of the feature engine per message, one value per batch.
    """

    equity_ts_ns: np.ndarray
    equity: np.ndarray
    features: dict[int, FeatureSeries]
    fills: FillSeries
    risk: list[tuple[int, str, str]] = field(default_factory=list)
    feed_latency_ns: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    order_latency_ns: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    engine_ns_per_msg: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
