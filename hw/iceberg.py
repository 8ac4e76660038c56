"""Per-instrument iceberg tracking (contract step 4) and the ICEBERG status bits."""

from __future__ import annotations

from amaranth.hdl import Array, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

SET, TRADE, CLEAR = 1, 2, 3


class Iceberg(wiring.Component):
    """Track one candidate iceberg level per side of each instrument.

    A valid TRADE at the passive side's best price starts tracking that level (when it
    is not tracked already) and adds the traded size to the absorbed volume, leaving a
    refill pending. A valid SET at the tracked price resets the side when its size is 0,
    else counts a refill when one was pending and the new size is at least the shown
    size (saturating at 255), then takes the new size as shown. CLEAR resets the named
    side(s). All state is read, updated and written in one cycle.

    Parameters
    ----------
    N : int
        Instruments.
    ice_min_refills : int
        ICE_MIN_REFILLS (1..255).
    ice_absorb_ratio : int
        ICE_ABSORB_RATIO (1..16).

    Ports
    -----
    en, i_valid, i_good : In(1)
    i_type : In(8), i_side : In(2), i_instrument : In(8), i_price, i_qty : In(32)
        The message.
    i_bid_px, i_bid_qty, i_ask_px, i_ask_qty : In(32); i_bid_any, i_ask_any : In(1)
        Best levels after the book update, and whether each side has a level.
    o_valid : Out(1)
    o_px_bid, o_px_ask : Out(32); o_refills_bid, o_refills_ask : Out(8)
    o_absorbed_bid, o_absorbed_ask : Out(64); o_iceberg_bid, o_iceberg_ask : Out(1)
        One cycle later: the instrument's iceberg state after the message.
    """

    def __init__(self, N: int, ice_min_refills: int, ice_absorb_ratio: int) -> None:
        self.N = N
        self.min_refills = ice_min_refills
        self.ratio = ice_absorb_ratio
        ports = {
            "en": In(1, init=1),
            "i_valid": In(1),
            "i_good": In(1),
            "i_type": In(8),
            "i_side": In(2),
            "i_instrument": In(8),
            "i_price": In(32),
            "i_qty": In(32),
            "i_bid_px": In(32),
            "i_bid_qty": In(32),
            "i_ask_px": In(32),
            "i_ask_qty": In(32),
            "i_bid_any": In(1),
            "i_ask_any": In(1),
            "o_valid": Out(1),
        }
        for side in ("bid", "ask"):
            ports |= {
                f"o_px_{side}": Out(32),
                f"o_refills_{side}": Out(8),
                f"o_absorbed_{side}": Out(64),
                f"o_iceberg_{side}": Out(1),
            }
        super().__init__(ports)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        inst = self.i_instrument
        best_px = [self.i_bid_px, self.i_ask_px]
        best_qty = [self.i_bid_qty, self.i_ask_qty]
        best_any = [self.i_bid_any, self.i_ask_any]
        good = self.i_valid & self.i_good
        is_set = good & (self.i_type == SET)
        is_trade = good & (self.i_type == TRADE)
        is_clear = good & (self.i_type == CLEAR)
        outputs = []
        for s, name in enumerate(("bid", "ask")):
            px = Array(Signal(32, name=f"{name}_px_{i}") for i in range(self.N))
            shown = Array(Signal(32, name=f"{name}_shown_{i}") for i in range(self.N))
            absorbed = Array(Signal(64, name=f"{name}_absorbed_{i}") for i in range(self.N))
            refills = Array(Signal(8, name=f"{name}_refills_{i}") for i in range(self.N))
            pending = Array(Signal(name=f"{name}_pending_{i}") for i in range(self.N))

            cur_px, cur_shown = Signal(32, name=f"{name}_cur_px"), Signal(32)
            cur_abs, cur_ref = Signal(64), Signal(8)
            cur_pend = Signal()
            m.d.comb += [
                cur_px.eq(px[inst]),
                cur_shown.eq(shown[inst]),
                cur_abs.eq(absorbed[inst]),
                cur_ref.eq(refills[inst]),
                cur_pend.eq(pending[inst]),
            ]
            nx_px, nx_shown = Signal(32, name=f"{name}_nx_px"), Signal(32)
            nx_abs, nx_ref = Signal(64), Signal(8)
            nx_pend = Signal()
            m.d.comb += [
                nx_px.eq(cur_px),
                nx_shown.eq(cur_shown),
                nx_abs.eq(cur_abs),
                nx_ref.eq(cur_ref),
                nx_pend.eq(cur_pend),
            ]
            # a buy aggressor (side 0) hits the asks (s = 1), a sell hits the bids
            hit = is_trade & (self.i_side[0] != s) & best_any[s] & (best_px[s] == self.i_price)
            at_level = (cur_px != 0) & (self.i_price == cur_px)
            with m.If(hit):
                with m.If(cur_px != self.i_price):
                    m.d.comb += [
                        nx_px.eq(self.i_price),
                        nx_shown.eq(best_qty[s]),
                        nx_abs.eq(self.i_qty),
                        nx_ref.eq(0),
                    ]
                with m.Else():
                    m.d.comb += nx_abs.eq(cur_abs + self.i_qty)
                m.d.comb += nx_pend.eq(1)
            with m.Elif(is_set & (self.i_side[0] == s) & at_level):
                with m.If(self.i_qty == 0):
                    m.d.comb += [nx_px.eq(0), nx_shown.eq(0), nx_abs.eq(0), nx_ref.eq(0)]
                    m.d.comb += nx_pend.eq(0)
                with m.Else():
                    with m.If(cur_pend & (self.i_qty >= cur_shown) & (cur_ref != 255)):
                        m.d.comb += nx_ref.eq(cur_ref + 1)
                    m.d.comb += [nx_pend.eq(0), nx_shown.eq(self.i_qty)]
            with m.Elif(is_clear & ((self.i_side == s) | (self.i_side == 2))):
                m.d.comb += [nx_px.eq(0), nx_shown.eq(0), nx_abs.eq(0), nx_ref.eq(0)]
                m.d.comb += nx_pend.eq(0)

            for i in range(self.N):
                with m.If(self.en & good & (inst == i)):
                    m.d.sync += [
                        px[i].eq(nx_px),
                        shown[i].eq(nx_shown),
                        absorbed[i].eq(nx_abs),
                        refills[i].eq(nx_ref),
                        pending[i].eq(nx_pend),
                    ]
            # ICEBERG bit: tracked, enough refills, absorbed >= RATIO * shown
            flagged = (
                (nx_px != 0) & (nx_ref >= self.min_refills) & (nx_abs >= nx_shown * self.ratio)
            )
            outputs += [
                getattr(self, f"o_px_{name}").eq(nx_px),
                getattr(self, f"o_refills_{name}").eq(nx_ref),
                getattr(self, f"o_absorbed_{name}").eq(nx_abs),
                getattr(self, f"o_iceberg_{name}").eq(flagged),
            ]
        with m.If(self.en):
            m.d.sync += [self.o_valid.eq(self.i_valid), *outputs]
        return m
