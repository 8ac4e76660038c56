"""The scores of a backtest: what METRICS.json holds.

Every figure is computed from what the run recorded (fills, the equity curve, the risk
governor's transitions, the journal); only ``wall_s`` and ``msgs_per_s`` depend on the
machine. Everything else is the same for the same data, config and seed.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from hean.backtest.engine import BacktestResult

#: the keys that depend on the machine, not on the data, config and seed
TIMING_KEYS = ("wall_s", "msgs_per_s")
_YEAR_S = 365 * 86400  # crypto trades every day of the year
#: Sharpe from one-minute returns, annualized: a session is hours, not the years of
#: daily returns the ratio is usually taken over, so read it as a relative figure
SHARPE_PERIOD_NS = 60 * 10**9


def round_trips(
    instrument: np.ndarray, side: np.ndarray, price: np.ndarray, qty: np.ndarray,
    fee: np.ndarray,
) -> list[float]:  # fmt: skip
    """Net PnL (quote currency, after fees) of each closed round trip, in closing order.

    A round trip runs from a flat position to flat again; a fill that flips the position
    closes one trip and opens the next, its fee shared by size.
    """
    pos: dict[int, float] = {}
    cost: dict[int, float] = {}  # signed quote value of the open size
    acc: dict[int, float] = {}  # the open trip's PnL so far (realized part and fees)
    out: list[float] = []
    for i, s, p, q, f in zip(instrument.tolist(), side.tolist(), price.tolist(), qty.tolist(),
                             fee.tolist(), strict=True):  # fmt: skip
        held, signed = pos.get(i, 0.0), s * q
        if held == 0.0 or (held > 0) == (signed > 0):  # opens or grows
            pos[i], cost[i] = held + signed, cost.get(i, 0.0) + signed * p
            acc[i] = acc.get(i, 0.0) - f
            continue
        closing = min(q, abs(held))
        avg = cost[i] / held
        acc[i] = acc.get(i, 0.0) + (closing * (p - avg) if held > 0 else closing * (avg - p))
        acc[i] -= f * closing / q
        held += math.copysign(closing, signed)
        cost[i] = avg * held
        if abs(held) < 1e-12:
            out.append(acc[i])
            rest = q - closing
            pos[i], cost[i], acc[i] = s * rest, s * rest * p, -f * rest / q
        else:
            pos[i] = held
    return out


def max_drawdown(equity: np.ndarray) -> float:
    """Largest fall from a running peak, as a fraction of that peak (0..1)."""
    if equity.size == 0:
        return 0.0
    peak = np.maximum.accumulate(equity)
    return float(np.max((peak - equity) / peak))


def sharpe(ts_ns: np.ndarray, equity: np.ndarray, period_ns: int) -> float:
    """Annualized Sharpe ratio of the equity's returns over periods of ``period_ns``.

    The curve is a step function (the equity changes at its points), read at the end
    of each period; no risk-free rate (it is negligible over a session).
    """
    if equity.size < 2:
        return 0.0
    grid = np.arange(ts_ns[0], ts_ns[-1] + 1, period_ns, dtype=np.int64)
    if grid.size < 3:
        return 0.0
    at = np.searchsorted(ts_ns, grid, "right") - 1
    values = equity[at]
    returns = np.diff(values) / values[:-1]
    sd = float(returns.std())
    if sd == 0.0 or not math.isfinite(sd):
        return 0.0
    return float(returns.mean() / sd * math.sqrt(_YEAR_S * 1e9 / period_ns))


def _percentiles(x: np.ndarray) -> dict[str, float] | None:
    if x.size == 0:
        return None
    p50, p99 = np.percentile(x, [50, 99])
    return {"p50": float(p50), "p99": float(p99), "max": float(x.max()), "count": int(x.size)}


def plain(value: Any) -> Any:
    """A config value as JSON can hold it (dataclasses as tables, Decimals as strings)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def compute(result: BacktestResult) -> dict[str, Any]:
    """The metrics of a finished run (the dict METRICS.json is written from)."""
    bt, trace = result.backtest, result.trace
    start = float(bt.config.account.starting_equity)
    end = float(bt.ledger.equity())
    f = trace.fills
    fee = f.fee
    trips = round_trips(f.instrument, f.side, f.price, f.qty, fee)
    slip = f.slippage_bps[np.isfinite(f.slippage_bps)]
    orders = bt.journal.orders()
    engine = bt.engine
    counters = engine.counters().as_dict() if hasattr(engine, "counters") else {}
    return {
        "messages": result.messages,
        "records": int(counters.get("records", result.messages)),
        "messages_without_recv_ts": bt.no_recv_ts,
        "wall_s": round(result.wall_s, 3),
        "msgs_per_s": round(result.messages / result.wall_s) if result.wall_s > 0 else None,
        "orders": len(orders),
        "fills": int(f.ts_ns.size),
        "maker_ratio": float(f.maker.mean()) if f.maker.size else 0.0,
        "fees": round(float(fee.sum()), 6),
        "pnl": round(end - start, 6),
        "return_pct": round((end - start) / start * 100, 6),
        "sharpe": round(sharpe(trace.equity_ts_ns, trace.equity, SHARPE_PERIOD_NS), 6),
        "max_drawdown_pct": round(max_drawdown(trace.equity) * 100, 6),
        "round_trips": len(trips),
        "win_rate": round(sum(1 for t in trips if t > 0) / len(trips), 6) if trips else 0.0,
        "avg_slippage_bps": round(float(slip.mean()), 6) if slip.size else 0.0,
        "risk_transitions": [
            {"ts_ns": t.ts_ns, "from": t.old.name, "to": t.new.name, "reason": t.reason}
            for t in bt.transitions
        ],
        "final_equity": round(end, 6),
        "open_positions": {
            bt.specs[i].symbol: p.qty for i, p in sorted(bt.ledger.positions.items()) if p.qty
        },
        "exits": dict(sorted(bt.exit_reasons.items())),
        "execution": dict(sorted(bt.execution.outcomes.items())),
        "order_status": _statuses(orders),
        "signals_refused": dict(sorted(bt.impulse.rejected.items())),
        "feed_latency_ns": _percentiles(trace.feed_latency_ns),
        "order_latency_ns": _percentiles(trace.order_latency_ns),
        "engine": {
            "name": getattr(engine, "name", type(engine).__name__),
            "params": bt.params.as_dict(),
            "counters": counters,
        },
        "config": plain(bt.config),
    }


def _statuses(orders: list) -> dict[str, int]:
    out: dict[str, int] = {}
    for o in orders:
        out[o.status.value] = out.get(o.status.value, 0) + 1
    return dict(sorted(out.items()))


def deterministic(metrics: dict[str, Any]) -> dict[str, Any]:
    """``metrics`` without the machine-dependent keys (:data:`TIMING_KEYS`)."""
    return {k: v for k, v in metrics.items() if k not in TIMING_KEYS}
