"""Volume profile, trade-flow analyzer and flash-crash detector on constructed tapes."""

from __future__ import annotations

import math

import pytest

from hean.micro.flash_crash import FlashCrashConfig, FlashCrashDetector
from hean.micro.trade_flow import TradeFlow, TradeFlowConfig
from hean.micro.volume_profile import VolumeProfile, VolumeProfileConfig

S = 10**9


def test_volume_profile_vpoc_value_area_and_gradients() -> None:
    vp = VolumeProfile(VolumeProfileConfig(bin_ticks=10))
    assert vp.profile() is None and vp.confidence(True, 100) == 1.0
    # a bell of volume around 1000..1009, buying heavier above, selling heavier below
    for price, qty in ((980, 10), (990, 30), (1000, 100), (1010, 30), (1020, 10)):
        buy_share = 0.5 + (price - 1000) / 100  # 0.3 .. 0.7
        vp.add(0, price, round(qty * buy_share), True)
        vp.add(0, price, round(qty * (1 - buy_share)), False)
    p = vp.profile()
    assert p.vpoc == 1000 and p.volume == 180
    # 100 of 180 at the VPOC; a tie (30 each side) grows upwards first: 130 = 72 % >= 70 %
    assert (p.value_low, p.value_high) == (1000, 1020)
    assert p.ask_gradient > 0 and p.bid_gradient > 0
    assert vp.confidence(True, 1025) == 1.2 and vp.confidence(False, 985) == 1.2
    assert vp.confidence(True, 1000) == 0.8 and vp.confidence(False, 1030) == 1.0


def test_volume_profile_window_expires() -> None:
    vp = VolumeProfile(VolumeProfileConfig(bin_ticks=1, window_ns=10 * S))
    vp.add(0, 100, 50, True)
    vp.add(5 * S, 200, 10, True)
    assert vp.profile().vpoc == 100
    vp.add(11 * S, 200, 1, False)
    assert vp.profile().vpoc == 200 and vp.profile().volume == 11


def test_trade_flow_ratio_large_trades_and_momentum() -> None:
    tf = TradeFlow(TradeFlowConfig(min_trades=5))
    assert tf.flow_ratio() == 1.0
    for k in range(10):
        assert not tf.add(k * S // 10, k % 3 != 0, 10, 1000 + k)
    assert tf.flow_ratio() == pytest.approx(60 / 40)
    assert tf.add(S, True, 50, 1010)  # 5x the mean of 10
    assert tf.momentum() == pytest.approx(10 / 1000)
    assert tf.flow_ratio(12 * S) == 1.0  # all older than 10 s
    tf.add(13 * S, True, 1, 1000)
    assert tf.flow_ratio() == math.inf


def test_flash_crash_halts_and_recognises_the_recovery() -> None:
    d = FlashCrashDetector()
    for k in range(50):
        assert d.update(k * S // 10, 100.0) is None
    assert not d.halted(5 * S)
    ev = d.update(5 * S + 1, 94.0)  # -6 % within the window
    assert ev is not None and ev.move == pytest.approx(-0.06) and not ev.flash
    assert d.halted(5 * S + 2) and d.halted(65 * S) and not d.halted(66 * S)
    ev = d.update(6 * S, 97.5)  # back up 3.5 % of the start: the flash-crash signature
    assert ev.flash and len(d.events) == 1  # the same event, held open
    # a slow 6 % slide over a minute is not a flash crash
    slow = FlashCrashDetector()
    assert all(slow.update(k * S, 100.0 - 0.1 * k) is None for k in range(61))
    with pytest.raises(ValueError):
        FlashCrashConfig(recovery=0.06)
