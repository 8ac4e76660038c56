"""Where a resting limit order stands in its price level's queue.

An L2 feed shows only each level's total size, never the orders in it, so the volume
ahead of one of our orders has to be estimated. Both models here follow the queue models
of hftbacktest (``RiskAverseQueueModel`` and ``ProbQueueModel`` with a power function),
with integer lots throughout:

* when the order arrives, everything the level holds is ahead of it;
* a trade at the order's price first consumes the volume ahead; only what exceeds it
  can fill the order (:meth:`QueueModel.on_trade`);
* size added to the level queues behind the order;
* a decrease of the level that is not a trade (a cancel) is placed ahead or behind the
  order by the model (:meth:`QueueModel.on_depth`), and the volume ahead never exceeds
  what the level holds.

The feed reports a trade and then the update that takes its volume off the level, so
trades seen at the price since the level's last update are subtracted from the next
decrease: the same lots must not move the order forward twice.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(slots=True)
class QueuePosition:
    """The queue state of one resting order.

    Attributes
    ----------
    ahead : int
        Lots estimated ahead of the order at its price.
    traded : int
        Lots traded at the price since the level's last size update.
    """

    ahead: int
    traded: int = 0


class QueueModel(ABC):
    """How the volume ahead of a resting order changes with trades and level updates."""

    def new(self, level_qty: int) -> QueuePosition:
        """The position of an order joining a level that holds ``level_qty`` lots.

        Raises
        ------
        ValueError
            For a negative size.
        """
        if level_qty < 0:
            raise ValueError(f"level size must be >= 0 lots, got {level_qty}")
        return QueuePosition(ahead=level_qty)

    def on_trade(self, pos: QueuePosition, qty: int) -> int:
        """A trade of ``qty`` lots at the order's price, against the order's side.

        Returns
        -------
        int
            Lots of the trade left after the volume ahead was consumed: at most this
            much can fill the order. The caller caps it by the order's remaining size.

        Raises
        ------
        ValueError
            For a size under one lot.
        """
        if qty <= 0:
            raise ValueError(f"trade size must be >= 1 lot, got {qty}")
        pos.traded += qty
        if qty <= pos.ahead:
            pos.ahead -= qty
            return 0
        excess = qty - pos.ahead
        pos.ahead = 0
        return excess

    def on_depth(self, pos: QueuePosition, prev_qty: int, new_qty: int) -> None:
        """The level at the order's price went from ``prev_qty`` to ``new_qty`` lots.

        Raises
        ------
        ValueError
            For a negative size.
        """
        if prev_qty < 0 or new_qty < 0:
            raise ValueError(f"level sizes must be >= 0 lots, got {prev_qty} -> {new_qty}")
        # what the trades since the last update took is already out of the queue
        before = max(prev_qty - pos.traded, 0)
        pos.traded = 0
        cancelled = before - new_qty
        if cancelled > 0:
            front = min(pos.ahead, before)
            pos.ahead = front - self.cancelled_ahead(front, before - front, cancelled)
        # the volume ahead is part of the level: it can never be larger
        pos.ahead = max(min(pos.ahead, new_qty), 0)

    @abstractmethod
    def cancelled_ahead(self, front: int, back: int, cancelled: int) -> int:
        """How many of ``cancelled`` lots left from ahead of the order.

        Parameters
        ----------
        front, back : int
            Lots ahead of and behind the order before the decrease.
        cancelled : int
            Lots that left the level other than by trading (> 0).
        """


class RiskAverseQueueModel(QueueModel):
    """The conservative model: only trades at the price move the order forward.

    A cancel is assumed to come from behind the order; the order moves forward only
    when the level has shrunk below the volume that was ahead (the clip in
    :meth:`QueueModel.on_depth`).
    """

    def cancelled_ahead(self, front: int, back: int, cancelled: int) -> int:
        return 0

    def __repr__(self) -> str:
        return "RiskAverseQueueModel()"


class ProbQueueModel(QueueModel):
    """Cancels split ahead/behind by the order's relative position, f(x) = x**n.

    A cancel of ``c`` lots is taken from ahead of the order in the share
    ``f(front) / (f(front) + f(back))`` and from behind it in the rest; what the back
    cannot supply comes from the front. The expected split is used, not a random
    draw, so a run is deterministic. A larger ``n`` puts more of the cancels on the
    larger side (hftbacktest's ``PowerProbQueueModel``: ``n`` 2 or 3 is usual).

    Parameters
    ----------
    n : float
        Power of the weighting function (> 0). Integer powers are computed exactly.

    Raises
    ------
    ValueError
        For a power that is not a positive finite number.
    """

    def __init__(self, n: float = 2) -> None:
        if isinstance(n, bool) or not isinstance(n, (int, float)):
            raise ValueError(f"power n must be a number, got {n!r}")
        if not (math.isfinite(n) and n > 0):
            raise ValueError(f"power n must be a finite number > 0, got {n}")
        self.n = n
        self._exact = float(n).is_integer()

    def prob_ahead(self, front: int, back: int) -> float:
        """Share of a cancel taken from ahead of the order: f(front) / (f(front) + f(back))."""
        if front <= 0:
            return 0.0
        if back <= 0:
            return 1.0
        ratio = (back / front) ** self.n  # f(back) / f(front), without overflow
        return 1.0 / (1.0 + ratio)

    def cancelled_ahead(self, front: int, back: int, cancelled: int) -> int:
        if front <= 0:
            return 0
        back = max(back, 0)
        if self._exact:
            # integer arithmetic: the same result on every machine, rounded half up
            k = int(self.n)
            fa, fb = front**k, back**k
            ahead = (2 * cancelled * fa + fa + fb) // (2 * (fa + fb))
        else:
            ahead = math.floor(cancelled * self.prob_ahead(front, back) + 0.5)
        # the back cannot lose more than it holds; the rest came from the front
        ahead = max(ahead, cancelled - back)
        return min(ahead, front)

    def __repr__(self) -> str:
        return f"ProbQueueModel(n={self.n})"
