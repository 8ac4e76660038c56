"""Iceberg-aware sizing: halve or step in front of a hidden counterparty, never < 1 lot."""

from __future__ import annotations

import numpy as np
import pytest

from hean.domain import Side
from hean.execution.iceberg import (
    IcebergAction,
    IcebergConfig,
    IcebergMode,
    adjust_for_iceberg,
    adjust_for_record,
)
from hean.wire import REC_DTYPE, REC_STRUCT, Status

ASK_ICE = int(Status.ICEBERG_ASK)
BID_ICE = int(Status.ICEBERG_BID)
STEP = IcebergConfig(mode=IcebergMode.STEP)


def test_defaults_are_the_audits_rule():
    c = IcebergConfig()
    assert c.mode is IcebergMode.HALVE and c.size_factor == 0.5 and c.step_ticks == 1


@pytest.mark.parametrize(
    "kwargs", [{"size_factor": 0.0}, {"size_factor": 1.0}, {"step_ticks": 0}, {"mode": "halve"}]
)
def test_config_rejects_bad_values(kwargs):
    with pytest.raises(ValueError):
        IcebergConfig(**kwargs)


def test_no_flag_leaves_the_order_alone():
    a = adjust_for_iceberg(Side.BUY, 10, 1000, int(Status.END), 999, 1001)
    assert a == (10, 1000, IcebergAction.UNCHANGED, "no iceberg")


def test_iceberg_on_the_other_side_is_not_against_the_order():
    # A hidden buyer does not hurt a buy; a hidden seller does not hurt a sell.
    assert adjust_for_iceberg(Side.BUY, 10, None, BID_ICE, 999, 0).action is IcebergAction.UNCHANGED
    assert (
        adjust_for_iceberg(Side.SELL, 10, None, ASK_ICE, 0, 1001).action is IcebergAction.UNCHANGED
    )


@pytest.mark.parametrize(
    ("side", "status", "price"),
    [(Side.BUY, ASK_ICE, None), (Side.BUY, ASK_ICE, 1001), (Side.SELL, BID_ICE, 999)],
)
def test_halves_the_size_against_an_iceberg(side, status, price):
    a = adjust_for_iceberg(side, 10, price, status | int(Status.END), 999, 1001)
    assert (a.qty_lots, a.price_ticks, a.action) == (5, price, IcebergAction.REDUCED)
    assert "hidden" in a.reason and "10 -> 5" in a.reason


def test_halving_rounds_down_and_never_goes_below_one_lot():
    assert adjust_for_iceberg(Side.BUY, 5, None, ASK_ICE, 0, 1001).qty_lots == 2
    assert adjust_for_iceberg(Side.BUY, 2, None, ASK_ICE, 0, 1001).qty_lots == 1
    skip = adjust_for_iceberg(Side.BUY, 1, None, ASK_ICE, 0, 1001)
    assert skip.action is IcebergAction.SKIP and skip.qty_lots == 0
    assert "under one lot" in skip.reason
    quarter = IcebergConfig(size_factor=0.25)
    assert adjust_for_iceberg(Side.SELL, 9, None, BID_ICE, 999, 0, quarter).qty_lots == 2


def test_a_limit_short_of_the_iceberg_is_not_reached():
    buy = adjust_for_iceberg(Side.BUY, 10, 1000, ASK_ICE, 0, 1001)
    sell = adjust_for_iceberg(Side.SELL, 10, 1000, BID_ICE, 999, 0)
    assert buy.action is sell.action is IcebergAction.UNCHANGED
    assert buy.qty_lots == sell.qty_lots == 10 and "not reached" in buy.reason
    # At the iceberg's price the order trades with it: reached.
    assert adjust_for_iceberg(Side.SELL, 10, 999, BID_ICE, 999, 0).qty_lots == 5


def test_unknown_iceberg_price_counts_as_reached():
    a = adjust_for_iceberg(Side.BUY, 10, 900, ASK_ICE, 0, 0)
    assert a.action is IcebergAction.REDUCED and "price unknown" in a.reason


def test_step_mode_prices_in_front_of_the_iceberg():
    buy = adjust_for_iceberg(Side.BUY, 10, 1005, ASK_ICE, 0, 1001, STEP)
    assert (buy.qty_lots, buy.price_ticks, buy.action) == (10, 1000, IcebergAction.STEPPED)
    sell = adjust_for_iceberg(Side.SELL, 10, 999, BID_ICE, 999, 0, STEP)
    assert (sell.qty_lots, sell.price_ticks, sell.action) == (10, 1000, IcebergAction.STEPPED)
    far = IcebergConfig(mode=IcebergMode.STEP, step_ticks=3)
    assert adjust_for_iceberg(Side.BUY, 10, 1001, ASK_ICE, 0, 1001, far).price_ticks == 998


def test_step_mode_halves_what_it_cannot_step():
    market = adjust_for_iceberg(Side.BUY, 10, None, ASK_ICE, 0, 1001, STEP)
    assert (market.qty_lots, market.price_ticks, market.action) == (5, None, IcebergAction.REDUCED)
    unknown = adjust_for_iceberg(Side.BUY, 10, 1001, ASK_ICE, 0, 0, STEP)
    assert unknown.action is IcebergAction.REDUCED
    one = adjust_for_iceberg(Side.BUY, 1, None, ASK_ICE, 0, 1001, STEP)
    assert one.action is IcebergAction.SKIP


def test_step_mode_skips_when_no_positive_price_is_left():
    a = adjust_for_iceberg(Side.BUY, 10, 5, ASK_ICE, 0, 1, STEP)
    assert a.action is IcebergAction.SKIP and a.qty_lots == 0


def test_bad_orders_raise():
    with pytest.raises(ValueError):
        adjust_for_iceberg(Side.BUY, 0, None, ASK_ICE, 0, 1001)
    with pytest.raises(ValueError):
        adjust_for_iceberg(Side.BUY, 5, 0, ASK_ICE, 0, 1001)


def _record(status, ice_bid, ice_ask):
    rec = np.zeros(1, dtype=REC_DTYPE)
    rec["status"], rec["ice_px_bid"], rec["ice_px_ask"] = status, ice_bid, ice_ask
    rec["bid_px"], rec["ask_px"] = 999, 1001
    return rec


def test_reads_a_numpy_record_and_a_struct_tuple_alike():
    rec = _record(ASK_ICE | BID_ICE, 998, 1002)
    as_tuple = REC_STRUCT.unpack_from(rec.tobytes())
    for form in (rec[0], as_tuple):
        assert adjust_for_record(Side.BUY, 8, 1002, form).qty_lots == 4
        stepped = adjust_for_record(Side.SELL, 8, 990, form, STEP)
        assert stepped.price_ticks == 999
    quiet = _record(0, 0, 0)
    assert adjust_for_record(Side.BUY, 8, None, quiet[0]).action is IcebergAction.UNCHANGED
