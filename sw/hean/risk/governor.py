"""The risk governor: four states, every transition an event with its reason.

=========== ============================================= =================================
state       entered when                                   what may trade
=========== ============================================= =================================
NORMAL      no limit is reached                            everything, within the per-order
                                                           checks below
SOFT_BRAKE  a strategy's drawdown from its own peak        that strategy only reduces; the
            reaches ``strategy_drawdown`` (7 %)            others trade at
                                                           ``soft_brake_size`` (half size)
QUARANTINE  the loss from the trailing hour's highest      no new exposure anywhere; orders
            equity reaches ``hourly_loss`` (15 %)          that reduce a position pass
HARD_STOP   the drawdown from the account's equity peak    the kill switch: reduce-only,
            reaches ``kill_switch`` (20 %)                 latched until :meth:`reset`
=========== ============================================= =================================

The state is the worst condition that holds, so the governor steps down again by itself
when, say, the trailing hour no longer holds the loss, except out of HARD_STOP; a
quarantined strategy stays quarantined. Both wait for :meth:`RiskGovernor.reset`. Every
order also passes the per-order checks: a quarantined strategy, the largest notional per
instrument (``max_notional_fraction`` of equity) and the order-rate budget (a token
bucket under Bybit's 10 orders/s).

Time is the caller's, in ns (exchange time in a backtest, the wall clock live), so a
replay decides exactly as the live run did.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from hean.risk.config import RiskConfig

HOUR_NS = 3600 * 10**9


class RiskState(enum.IntEnum):
    """The governor's states, in order of severity."""

    NORMAL = 0
    SOFT_BRAKE = 1
    QUARANTINE = 2
    HARD_STOP = 3


@dataclass(frozen=True)
class Transition:
    """A change of state: when, from, to, and why."""

    ts_ns: int
    old: RiskState
    new: RiskState
    reason: str


class Decision(NamedTuple):
    """The governor's answer to one order: allowed or not, at what size, and why."""

    allowed: bool
    size_mult: float
    reason: str


# the two common answers, built once: the fast path asks for one on every order
_WITHIN = Decision(True, 1.0, "within limits")
_REDUCES = Decision(True, 1.0, "reduces a position")


class RiskGovernor:
    """Account- and strategy-level risk limits over equity updates, and per-order checks.

    Parameters
    ----------
    config : RiskConfig
    on_transition : callable, optional
        Called with each :class:`Transition` as it happens (the event bus hooks in here).
    """

    def __init__(
        self,
        config: RiskConfig | None = None,
        on_transition: Callable[[Transition], None] | None = None,
        max_position_lots: dict[int, int] | None = None,
    ) -> None:
        self.config = config or RiskConfig()
        limits = dict(max_position_lots or {})
        for inst, lots in limits.items():
            if isinstance(lots, bool) or not isinstance(lots, int) or lots < 1:
                raise ValueError(f"risk: max position of instrument {inst} must be >= 1 lot")
        self.max_position_lots = limits
        self.on_transition = on_transition
        self.state = RiskState.NORMAL
        self.transitions: list[Transition] = []
        self.equity = 0.0
        self._peak = 0.0
        self._hour: deque[tuple[int, float]] = deque()  # (ts, equity), highest first kept
        self._strategy_peak: dict[str, float] = {}
        self._strategy_equity: dict[str, float] = {}
        self.quarantined: set[str] = set()
        self._latched = False
        self._tokens = float(self.config.order_burst)
        self._tokens_at: int | None = None

    # --- equity --------------------------------------------------------------------

    def on_equity(self, ts_ns: int, equity: float, strategies: dict[str, float] | None = None):
        """Take the account's equity (and optionally each strategy's) at ``ts_ns``.

        Returns
        -------
        Transition or None
            The transition this update caused, if any.
        """
        self.equity = equity
        self._peak = max(self._peak, equity)
        # trailing-hour maximum: a deque of decreasing equities (monotonic queue)
        while self._hour and self._hour[-1][1] <= equity:
            self._hour.pop()
        self._hour.append((ts_ns, equity))
        while self._hour[0][0] < ts_ns - HOUR_NS:
            self._hour.popleft()
        for name, value in (strategies or {}).items():
            self._strategy_equity[name] = value
            self._strategy_peak[name] = max(self._strategy_peak.get(name, value), value)
        return self._update(ts_ns)

    def drawdown(self) -> float:
        """Drawdown of the account from its equity peak (0..1)."""
        return 0.0 if self._peak <= 0 else max(0.0, (self._peak - self.equity) / self._peak)

    def hourly_loss(self) -> float:
        """Loss from the trailing hour's highest equity (0..1)."""
        top = self._hour[0][1] if self._hour else 0.0
        return 0.0 if top <= 0 else max(0.0, (top - self.equity) / top)

    def strategy_drawdown(self, name: str) -> float:
        """Drawdown of strategy ``name`` from its own equity peak (0..1)."""
        peak = self._strategy_peak.get(name, 0.0)
        return 0.0 if peak <= 0 else max(0.0, (peak - self._strategy_equity[name]) / peak)

    def _update(self, ts_ns: int) -> Transition | None:
        c = self.config
        for name in self._strategy_equity:
            if name not in self.quarantined and self.strategy_drawdown(name) >= c.strategy_drawdown:
                self.quarantined.add(name)
        if self._latched or self.drawdown() >= c.kill_switch:
            self._latched = True
            new = RiskState.HARD_STOP
            reason = f"kill switch: drawdown {self.drawdown():.2%} >= {c.kill_switch * 100:.4g}%"
        elif self.hourly_loss() >= c.hourly_loss:
            new = RiskState.QUARANTINE
            reason = f"hourly loss {self.hourly_loss():.2%} >= {c.hourly_loss * 100:.4g}%"
        elif self.quarantined:
            new = RiskState.SOFT_BRAKE
            worst = max(self.quarantined, key=self.strategy_drawdown)
            reason = (
                f"strategy {worst} drawdown {self.strategy_drawdown(worst):.2%} >= "
                f"{c.strategy_drawdown * 100:.4g}%"
            )
        else:
            new, reason = RiskState.NORMAL, "within every limit"
        return self._move(ts_ns, new, reason)

    def _move(self, ts_ns: int, new: RiskState, reason: str) -> Transition | None:
        if new == self.state:
            return None
        t = Transition(ts_ns, self.state, new, reason)
        self.state = new
        self.transitions.append(t)
        if self.on_transition is not None:
            self.on_transition(t)
        return t

    def reset(self, ts_ns: int, reason: str) -> Transition | None:
        """A person releases the kill switch and every quarantine (peaks restart now)."""
        self._latched = False
        self.quarantined.clear()
        self._peak = self.equity
        self._hour.clear()
        self._hour.append((ts_ns, self.equity))
        self._strategy_peak = dict(self._strategy_equity)
        return self._move(ts_ns, RiskState.NORMAL, f"reset: {reason}")

    # --- orders --------------------------------------------------------------------

    def check(
        self,
        ts_ns: int,
        strategy: str,
        notional_after: float,
        reduces: bool,
    ) -> Decision:
        """May ``strategy`` send an order now?

        Parameters
        ----------
        ts_ns : int
            Now.
        strategy : str
            Who asks.
        notional_after : float
            The instrument's absolute position notional if the order fills.
        reduces : bool
            Whether the order only reduces an existing position.

        Returns
        -------
        Decision
            Allowed or not, the size multiplier, and the reason. An allowed order spends
            one token of the order budget.
        """
        c = self.config
        if not self._take_token(ts_ns):
            return Decision(False, 0.0, f"order rate above {c.order_rate_per_s:g}/s")
        if reduces:
            return _REDUCES
        if self.state >= RiskState.QUARANTINE:
            self._give_token()
            return Decision(False, 0.0, f"{self.state.name}: new exposure blocked")
        if strategy in self.quarantined:
            self._give_token()
            return Decision(False, 0.0, f"strategy {strategy} quarantined (drawdown)")
        limit = c.max_notional_fraction * self.equity
        if notional_after > limit:
            self._give_token()
            return Decision(False, 0.0, f"notional {notional_after:,.2f} above {limit:,.2f}")
        if self.state == RiskState.SOFT_BRAKE:
            return Decision(True, c.soft_brake_size, "SOFT_BRAKE: reduced size")
        return _WITHIN

    def position_room(self, instrument: int, held: int, signed_lots: int) -> int:
        """The part of an entry of ``signed_lots`` (+ buy) that keeps the instrument's
        position within its limit in lots: ``signed_lots`` itself, less, or 0."""
        limit = self.max_position_lots.get(instrument)
        if limit is None:
            return signed_lots
        after = held + signed_lots
        if -limit <= after <= limit or (abs(after) < abs(held) and after * held > 0):
            return signed_lots  # within the limit, or a step back towards it
        if signed_lots > 0:
            return max(0, min(signed_lots, limit - held))
        return min(0, max(signed_lots, -limit - held))

    def _take_token(self, ts_ns: int) -> bool:
        c = self.config
        if self._tokens_at is not None:
            elapsed = ts_ns - self._tokens_at
            if elapsed > 0:
                tokens = self._tokens + elapsed * 1e-9 * c.order_rate_per_s
                self._tokens = tokens if tokens < c.order_burst else float(c.order_burst)
        self._tokens_at = ts_ns
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    def _give_token(self) -> None:
        """A refused order sends nothing, so it costs no budget."""
        self._tokens += 1

    def expired(self, ts_ns: int, opened_ns: dict[str, int]) -> list[str]:
        """The positions (by key) opened more than ``position_ttl_s`` ago: due to close."""
        ttl = int(self.config.position_ttl_s * 1e9)
        return [key for key, t in opened_ns.items() if ts_ns - t >= ttl]
