"""The paper exchange: local matching of HEAN's orders over a replayed or live L2 feed.

See ``docs/paper_exchange.md`` for the models. The pieces:

* :mod:`~hean.exchange.paper.book`: the full L2 book of an instrument;
* :mod:`~hean.exchange.paper.queue`: queue-position models of resting orders;
* :mod:`~hean.exchange.paper.latency`: feed, entry and response latency;
* :mod:`~hean.exchange.paper.matching`: the matching engine of one instrument;
* :mod:`~hean.exchange.paper.ledger`: fills, fees and execution reports;
* :mod:`~hean.exchange.paper.bulk`: the feed applied in bulk while nothing of ours rests;
* :mod:`~hean.exchange.paper.exchange`: :class:`PaperExchange`, the
  :class:`~hean.exchange.base.Exchange` they make together.
"""

from hean.exchange.paper.book import L2Book
from hean.exchange.paper.exchange import PaperExchange
from hean.exchange.paper.latency import (
    Constant,
    Distribution,
    Empirical,
    FeedLatency,
    LatencyModel,
    LatencySummary,
)
from hean.exchange.paper.ledger import fee
from hean.exchange.paper.queue import (
    ProbQueueModel,
    QueueModel,
    QueuePosition,
    RiskAverseQueueModel,
)

__all__ = [
    "Constant",
    "Distribution",
    "Empirical",
    "FeedLatency",
    "L2Book",
    "LatencyModel",
    "LatencySummary",
    "PaperExchange",
    "ProbQueueModel",
    "QueueModel",
    "QueuePosition",
    "RiskAverseQueueModel",
    "fee",
]
