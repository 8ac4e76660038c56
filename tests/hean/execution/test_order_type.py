"""Smart order-type selection: limit vs market vs skip, prices, TTLs, validation."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from hean.domain import OrderRequest, Side, TimeInForce
from hean.exchange.base import BYBIT_VIP0, FeeRates
from hean.execution.order_type import (
    OrderKind,
    OrderTypeConfig,
    OrderTypeDecision,
    OrderTypeSelector,
)

BID, ASK = 600_000, 600_001  # a one-tick spread, as BTC usually trades
MID = (BID + ASK) / 2


def test_defaults_are_the_plans_numbers():
    c = OrderTypeConfig()
    assert c.limit_max_urgency == 0.7
    assert c.min_limit_edge_bps == 2.0
    assert c.min_market_edge_bps == 0.5
    assert c.ttl_urgency_split == 0.5
    assert c.fast_ttl_ns == 150_000_000
    assert c.slow_ttl_ns == 300_000_000
    assert c.improve_bps == 1.0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("limit_max_urgency", 1.5),
        ("limit_max_urgency", -0.1),
        ("ttl_urgency_split", 2.0),
        ("min_limit_edge_bps", math.nan),
        ("min_market_edge_bps", math.inf),
        ("fast_ttl_ns", 0),
        ("slow_ttl_ns", -5),
        ("slow_ttl_ns", 1.5),
        ("fast_ttl_ns", True),
        ("improve_bps", -1.0),
        ("improve_bps", math.nan),
    ],
)
def test_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        OrderTypeConfig(**{field: value})


def test_fees_are_the_accounts_in_bps():
    s = OrderTypeSelector(BYBIT_VIP0)
    assert s.maker_bps == pytest.approx(2.0)
    assert s.taker_bps == pytest.approx(5.5)


def test_limit_when_edge_is_large_and_urgency_low():
    d = OrderTypeSelector().select(Side.BUY, BID, ASK, edge_bps=10.0, urgency=0.3)
    assert d.kind is OrderKind.LIMIT
    assert d.price_ticks == BID  # no room inside a one-tick spread
    assert d.ttl_ns == 300_000_000
    assert d.tif is TimeInForce.POST_ONLY
    # Entry at the bid is half a tick better than the mid; maker fee 2 bps.
    assert d.limit_net_bps == pytest.approx(10.0 + (MID - BID) / MID * 1e4 - 2.0)
    assert d.market_net_bps == pytest.approx(10.0 - (ASK - MID) / MID * 1e4 - 5.5)


def test_ttl_is_short_above_the_urgency_split():
    s = OrderTypeSelector()
    assert s.select(Side.BUY, BID, ASK, 10.0, urgency=0.5).ttl_ns == 300_000_000
    assert s.select(Side.BUY, BID, ASK, 10.0, urgency=0.51).ttl_ns == 150_000_000
    assert s.select(Side.BUY, BID, ASK, 10.0, urgency=0.69).ttl_ns == 150_000_000


@pytest.mark.parametrize("urgency", [0.7, 0.9, 1.0])
def test_urgency_forces_market_even_when_a_limit_would_pay_more(urgency):
    d = OrderTypeSelector().select(Side.BUY, BID, ASK, edge_bps=20.0, urgency=urgency)
    assert d.kind is OrderKind.MARKET
    assert d.price_ticks is None and d.ttl_ns == 0
    assert d.limit_net_bps > d.market_net_bps  # the limit was better, urgency won
    assert "urgency" in d.reason


def test_urgent_but_too_small_edge_is_skipped():
    d = OrderTypeSelector().select(Side.BUY, BID, ASK, edge_bps=5.0, urgency=1.0)
    assert d.kind is OrderKind.SKIP  # market net is about -0.5 bps


def test_tiny_edge_is_skipped():
    d = OrderTypeSelector().select(Side.SELL, BID, ASK, edge_bps=1.0, urgency=0.2)
    assert d.kind is OrderKind.SKIP
    assert d.price_ticks is None
    assert "insufficient edge" in d.reason
    assert d.limit_net_bps <= 2.0 and d.market_net_bps <= 0.5


def test_market_when_the_limit_does_not_clear_its_threshold():
    # A maker fee above the taker fee (some accounts, some venues): the limit loses.
    fees = FeeRates(maker=Decimal("0.0008"), taker=Decimal("0.0001"))
    d = OrderTypeSelector(fees).select(Side.BUY, BID, ASK, edge_bps=9.0, urgency=0.1)
    assert d.limit_net_bps <= 2.0 < d.market_net_bps
    assert d.kind is OrderKind.MARKET


def test_thresholds_are_strict():
    c = OrderTypeConfig(improve_bps=0.0)
    fees = FeeRates(maker=Decimal(0), taker=Decimal(0))
    s = OrderTypeSelector(fees, c)
    # Mid 100.5, limit at the bid 100: entry -0.5/100.5; choose an edge landing on 2.0.
    edge = 2.0 - 0.5 / 100.5 * 1e4
    d = s.select(Side.BUY, 100, 101, edge_bps=edge, urgency=0.0)
    assert d.limit_net_bps == pytest.approx(2.0)
    assert d.kind is not OrderKind.LIMIT


def test_slippage_counts_against_the_market_order_only():
    s = OrderTypeSelector()
    low = s.select(Side.BUY, BID, ASK, edge_bps=8.0, urgency=0.9, slippage_bps=0.0)
    high = s.select(Side.BUY, BID, ASK, edge_bps=8.0, urgency=0.9, slippage_bps=3.0)
    assert low.kind is OrderKind.MARKET and high.kind is OrderKind.SKIP
    assert high.market_net_bps == pytest.approx(low.market_net_bps - 3.0)
    assert high.limit_net_bps == pytest.approx(low.limit_net_bps)


def test_a_maker_rebate_adds_to_the_limit_edge():
    rebate = FeeRates(maker=Decimal("-0.0001"), taker=Decimal("0.00055"))
    a = OrderTypeSelector(BYBIT_VIP0).select(Side.BUY, BID, ASK, 10.0)
    b = OrderTypeSelector(rebate).select(Side.BUY, BID, ASK, 10.0)
    assert b.limit_net_bps == pytest.approx(a.limit_net_bps + 3.0)


def test_sell_mirrors_buy():
    s = OrderTypeSelector()
    buy = s.select(Side.BUY, 10_000, 10_010, edge_bps=10.0)
    sell = s.select(Side.SELL, 10_000, 10_010, edge_bps=10.0)
    assert buy.kind is sell.kind is OrderKind.LIMIT
    assert buy.price_ticks - 10_000 == 10_010 - sell.price_ticks
    assert buy.limit_net_bps == pytest.approx(sell.limit_net_bps)
    assert buy.market_net_bps == pytest.approx(sell.market_net_bps)


def test_limit_price_improves_the_touch_but_never_crosses():
    s = OrderTypeSelector()
    # 1 bps of 10,000 ticks is 1 tick.
    assert s.limit_price(Side.BUY, 10_000, 10_010) == 10_001
    assert s.limit_price(Side.SELL, 10_000, 10_010) == 10_009
    # 1 bps of 600,000 is 60 ticks, but the spread is 3: one tick short of the ask.
    assert s.limit_price(Side.BUY, 600_000, 600_003) == 600_002
    assert s.limit_price(Side.SELL, 600_000, 600_003) == 600_001
    # A one-tick spread leaves the touch.
    assert s.limit_price(Side.BUY, BID, ASK) == BID
    assert s.limit_price(Side.SELL, BID, ASK) == ASK
    # To the nearest tick, at least one: 1.5 ticks -> 2, 0.5 -> 1, 1.001 -> 1.
    assert s.limit_price(Side.BUY, 15_000, 15_100) == 15_002
    assert s.limit_price(Side.BUY, 5_000, 5_100) == 5_001
    assert s.limit_price(Side.SELL, 10_000, 10_010) == 10_009
    no_improve = OrderTypeSelector(config=OrderTypeConfig(improve_bps=0.0))
    assert no_improve.limit_price(Side.BUY, 10_000, 10_010) == 10_000


@pytest.mark.parametrize(
    ("bid", "ask", "reason"),
    [(0, ASK, "one-sided"), (BID, 0, "one-sided"), (BID, BID, "crossed"), (ASK, BID, "crossed")],
)
def test_bad_books_are_skipped(bid, ask, reason):
    d = OrderTypeSelector().select(Side.BUY, bid, ask, edge_bps=50.0)
    assert d.kind is OrderKind.SKIP and reason in d.reason
    assert math.isnan(d.limit_net_bps) and math.isnan(d.market_net_bps)


@pytest.mark.parametrize(
    "kwargs",
    [{"urgency": -0.01}, {"urgency": 1.01}, {"edge_bps": math.nan}, {"slippage_bps": math.inf}],
)
def test_bad_inputs_raise(kwargs):
    args = {"edge_bps": 10.0, **kwargs}
    with pytest.raises(ValueError):
        OrderTypeSelector().select(Side.BUY, BID, ASK, **args)


def _request(side=Side.BUY) -> OrderRequest:
    return OrderRequest(1, 0, side, 5, None, "impulse", "abc-1")


def test_apply_prices_and_times_the_request():
    s = OrderTypeSelector()
    limit = s.select(Side.BUY, 10_000, 10_010, edge_bps=10.0)
    r = limit.apply(_request())
    assert r.price_ticks == 10_001 and r.tif is TimeInForce.POST_ONLY
    assert (r.qty_lots, r.link_id) == (5, "abc-1")
    market = s.select(Side.BUY, 10_000, 10_001, edge_bps=20.0, urgency=1.0)
    r = market.apply(_request().replace(price_ticks=9_000))
    assert r.price_ticks is None and r.tif is TimeInForce.GTC
    skip = s.select(Side.BUY, 10_000, 10_001, edge_bps=0.0)
    with pytest.raises(ValueError, match="skipped"):
        skip.apply(_request())


def test_decision_is_immutable():
    d = OrderTypeSelector().select(Side.BUY, BID, ASK, 10.0)
    assert isinstance(d, OrderTypeDecision)
    with pytest.raises(AttributeError):
        d.kind = OrderKind.MARKET  # type: ignore[misc]
