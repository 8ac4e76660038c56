"""Order-rate limiting: a token bucket per endpoint, kept under Bybit's 10 requests/s.

Bybit limits order placement, amendment and cancellation per endpoint (10 per second
per UID on the linear category at the lowest tier). The router spends one token of the
endpoint's bucket per request, and a request without a token waits (live) or is held
(backtest) instead of being sent and refused with retCode 10006.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimit:
    """Requests per second and the burst a bucket allows (defaults: 8/s, burst 8).

    8 rather than Bybit's 10 leaves room for the clock skew between us and the exchange.
    """

    per_s: float = 8.0
    burst: int = 8

    def __post_init__(self) -> None:
        if not (self.per_s > 0 and self.burst >= 1):
            raise ValueError(f"rate limit: per_s > 0 and burst >= 1, got {self}")


class TokenBucket:
    """``limit.per_s`` tokens a second, at most ``limit.burst`` saved up; starts full."""

    def __init__(self, limit: RateLimit | None = None) -> None:
        self.limit = limit or RateLimit()
        self._tokens = float(self.limit.burst)
        self._at: int | None = None

    def _refill(self, now_ns: int) -> None:
        if self._at is not None and now_ns > self._at:
            tokens = self._tokens + (now_ns - self._at) * 1e-9 * self.limit.per_s
            self._tokens = min(tokens, float(self.limit.burst))
        if self._at is None or now_ns > self._at:
            self._at = now_ns

    def try_take(self, now_ns: int) -> bool:
        """Spend a token if there is one at ``now_ns``."""
        self._refill(now_ns)
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True

    def wait_ns(self, now_ns: int) -> int:
        """Nanoseconds from ``now_ns`` until a token is there (0 if one is now)."""
        self._refill(now_ns)
        missing = 1.0 - self._tokens
        return 0 if missing <= 0 else int(missing / self.limit.per_s * 1e9) + 1


class EndpointLimiter:
    """One :class:`TokenBucket` per endpoint name ("place", "amend", "cancel")."""

    def __init__(self, limit: RateLimit | None = None) -> None:
        self.limit = limit or RateLimit()
        self._buckets: dict[str, TokenBucket] = {}

    def bucket(self, endpoint: str) -> TokenBucket:
        b = self._buckets.get(endpoint)
        if b is None:
            b = self._buckets[endpoint] = TokenBucket(self.limit)
        return b

    def try_take(self, endpoint: str, now_ns: int) -> bool:
        return self.bucket(endpoint).try_take(now_ns)

    def wait_ns(self, endpoint: str, now_ns: int) -> int:
        return self.bucket(endpoint).wait_ns(now_ns)
