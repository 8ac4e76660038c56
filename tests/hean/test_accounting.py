"""Accounting: average price, partial closes, flips, fees and equity, exactly."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from hean.accounting import Ledger
from hean.domain import Fill, InstrumentSpec, OrderRequest, Side

BTC = InstrumentSpec(0, "BTCUSDT", Decimal("0.1"), Decimal("0.001"))


def fill(side: Side, lots: int, ticks: int, fee: str = "0", t: int = 0) -> Fill:
    return Fill(t, 0, side, lots, ticks, Decimal(fee), "x", maker=True)


def test_average_price_partial_close_and_flip() -> None:
    led = Ledger({0: BTC}, Decimal("10000"))
    led.apply(fill(Side.BUY, 1000, 500_000, t=1))  # 1 BTC at 50,000.0
    pos = led.apply(fill(Side.BUY, 1000, 510_000, t=2))  # 1 BTC at 51,000.0
    assert pos.qty == 2000 and pos.avg_price == 505_000 and pos.opened_ns == 1
    pos = led.apply(fill(Side.SELL, 500, 520_000))  # 0.5 BTC at 52,000: +750 USDT
    assert pos.qty == 1500 and pos.avg_price == 505_000
    assert led.realized() == Decimal("750")
    pos = led.apply(fill(Side.SELL, 2500, 500_000, t=9))  # close 1.5 (-750), open 1.0 short
    assert pos.qty == -1000 and pos.avg_price == 500_000 and pos.opened_ns == 9
    assert led.realized() == Decimal("0")
    led.mark(0, 490_000)
    assert led.unrealized() == Decimal("1000")  # short 1 BTC from 50,000 to 49,000
    assert led.equity() == Decimal("11000")


def test_fees_and_the_equity_curve() -> None:
    led = Ledger({0: BTC}, Decimal("1000"))
    led.apply(fill(Side.BUY, 10, 600_000, fee="0.33"))  # taker 0.055 % of 600 USDT
    led.mark(0, 600_000)
    assert led.record(5) == Decimal("999.67")
    led.apply(fill(Side.SELL, 10, 601_000, fee="0.1202"))  # +1 USDT, maker fee
    assert led.record(6) == Decimal("1000.5498")
    assert [t for t, _ in led.curve] == [5, 6] and led.fees() == Decimal("0.4502")
    assert led.position(0).qty == 0 and led.position(0).avg_price is None


def test_exact_thirds() -> None:
    led = Ledger({0: BTC}, Decimal("0"))
    led.apply(fill(Side.BUY, 3, 100))
    led.apply(fill(Side.BUY, 3, 101))
    led.apply(fill(Side.BUY, 3, 101))
    pos = led.apply(fill(Side.SELL, 1, 101))
    assert pos.avg_price == Fraction(302, 3)  # (300 + 303 + 303) / 9, no rounding
    led.apply(fill(Side.SELL, 8, 101))
    assert led.position(0).qty == 0 and led.realized() == Decimal("0.0003")  # 9 x 1/3 tick-lot


def test_bad_inputs() -> None:
    led = Ledger({0: BTC}, Decimal("0"))
    with pytest.raises(KeyError):
        led.apply(Fill(0, 7, Side.BUY, 1, 1, Decimal(0), "x", maker=False))
    with pytest.raises(ValueError):
        Fill(0, 0, Side.BUY, 0, 1, Decimal(0), "x", maker=False)
    with pytest.raises(ValueError):
        OrderRequest(0, 0, Side.BUY, 1, None, "s", "x" * 37)
    with pytest.raises(ValueError):
        BTC.ticks("50000.05")
    assert BTC.ticks("50000.1") == 500_001 and BTC.lots("0.002") == 2
    assert BTC.price(500_001) == Decimal("50000.1") and Side.SELL.opposite is Side.BUY


def test_order_fills_to_its_end() -> None:
    from hean.domain import Order, OrderStatus

    req = OrderRequest(0, 0, Side.BUY, 5, 500_000, "s", "link-1")
    o = Order(req)
    o = o.with_fill(Fill(1, 0, Side.BUY, 2, 500_000, Decimal(0), "link-1", maker=True))
    assert o.status == OrderStatus.PARTIALLY_FILLED and o.remaining_lots == 3
    o = o.with_fill(Fill(2, 0, Side.BUY, 3, 500_005, Decimal(0), "link-1", maker=True))
    assert o.status == OrderStatus.FILLED and o.avg_fill_ticks == 500_003
    for bad in (Fill(3, 0, Side.BUY, 1, 1, Decimal(0), "link-1", maker=True),
                Fill(3, 0, Side.BUY, 1, 1, Decimal(0), "link-2", maker=True)):  # fmt: skip
        with pytest.raises(ValueError):
            o.with_fill(bad)
    with pytest.raises(ValueError, match="overfills"):
        Order(req).with_fill(Fill(1, 0, Side.BUY, 6, 1, Decimal(0), "link-1", maker=True))
    cancelled = Order(req, OrderStatus.CANCELLED)
    late = cancelled.with_fill(Fill(4, 0, Side.BUY, 2, 500_000, Decimal(0), "link-1", True))
    assert late.status == OrderStatus.CANCELLED and late.filled_lots == 2
    with pytest.raises(ValueError, match="already Rejected"):
        Order(req, OrderStatus.REJECTED).with_fill(
            Fill(4, 0, Side.BUY, 1, 500_000, Decimal(0), "link-1", True)
        )
