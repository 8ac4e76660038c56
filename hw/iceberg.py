"""Per-instrument iceberg tracking (contract step 4) and the ICEBERG status bits."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hean_hw.arith import pick

SET, TRADE, CLEAR = 1, 2, 3


class Iceberg(wiring.Component):
    """Track one candidate iceberg level per side of each instrument.

    A valid TRADE at the passive side's best price starts tracking that level (when it
    is not tracked already) and adds the traded size to the absorbed volume, leaving a
    refill pending. A valid SET at the tracked price resets the side when its size is 0,
    else counts a refill when one was pending and the new size is at least the shown
    size (saturating at 255), then takes the new size as shown. CLEAR resets the named
    side(s).

    Six clocks, one message per clock, any instrument order:

    A. the message is decoded and compared with the state *before* the message ahead of
       it (in B) is written: "is the price the tracked one" and "is the size at least the
       shown one". The results are corrected for what that message does to the same
       instrument (it may start tracking its own price, set a new shown size, or reset),
       so no comparator sits in the read-modify-write loop;
    B. every instrument's state updates itself from these registered decisions, written
       for the message's instrument only (no read multiplexer in the loop either);
    C. the instrument's state after the update is read;
    D, E, F. the ICEBERG bits are computed from C, off the loop: the product
       ``RATIO * shown``, then the 64-bit compare with the absorbed volume in two
       halves, then the outputs.

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
    i_type : In(8), i_side : In(2), i_price, i_qty : In(32)
        The message.
    i_sel : In(N)
        The message's instrument, one-hot (no bit for an instrument ``>= N``), decoded by
        the caller into a register of its own: an instrument compare here would sit in
        front of stage A's selects and its correction for the message in B.
    i_bid_px, i_bid_qty, i_ask_px, i_ask_qty : In(32); i_bid_any, i_ask_any : In(1)
        Best levels after the book update, and whether each side has a level.
    o_valid : Out(1)
    o_px_bid, o_px_ask : Out(32); o_refills_bid, o_refills_ask : Out(8)
    o_absorbed_bid, o_absorbed_ask : Out(64); o_iceberg_bid, o_iceberg_ask : Out(1)
        :attr:`latency` clocks later: the instrument's iceberg state after the message.
    """

    latency = 6

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
            "i_sel": In(N),
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
        N, en = self.N, self.en
        best_px = [self.i_bid_px, self.i_ask_px]
        best_qty = [self.i_bid_qty, self.i_ask_qty]
        best_any = [self.i_bid_any, self.i_ask_any]
        good = self.i_valid & self.i_good
        is_set = good & (self.i_type == SET)
        is_trade = good & (self.i_type == TRADE)
        is_clear = good & (self.i_type == CLEAR)

        # ---- A: decode, and the compares against the state, corrected for B -----------------
        a_valid, a_good = Signal(), Signal()
        a_sel, a_price, a_qty = Signal(N), Signal(32), Signal(32)
        with m.If(en):
            m.d.sync += [
                a_valid.eq(self.i_valid),
                a_good.eq(good),
                a_sel.eq(self.i_sel),
                a_price.eq(self.i_price),
                a_qty.eq(self.i_qty),
            ]
        same = Signal()  # the message in A names the instrument B is updating
        m.d.comb += same.eq(a_good & (self.i_sel & a_sel).any())
        b_valid, b_sel = Signal(), Signal(N)  # C's read select, decoded a clock ahead
        with m.If(en):
            m.d.sync += [b_valid.eq(a_valid), b_sel.eq(a_sel)]

        after = {}  # per side: the state names -> per-instrument registers
        for s, name in enumerate(("bid", "ask")):
            px = [Signal(32, name=f"{name}_px_{i}") for i in range(N)]
            shown = [Signal(32, name=f"{name}_shown_{i}") for i in range(N)]
            absorbed = [Signal(64, name=f"{name}_absorbed_{i}") for i in range(N)]
            refills = [Signal(8, name=f"{name}_refills_{i}") for i in range(N)]
            pending = [Signal(name=f"{name}_pending_{i}") for i in range(N)]
            after[name] = (px, shown, absorbed, refills)

            a_best = Signal(32, name=f"{name}_a_best")
            a_ge = Signal(name=f"{name}_a_ge")
            # what the message in B does to this side (registered in A), for the
            # corrections of the message in A
            start = Signal(name=f"{name}_start")  # a TRADE at a new price: track it
            reset = Signal(name=f"{name}_reset")

            # A: a buy aggressor (side 0) hits the asks (s = 1), a sell hits the bids
            hit = is_trade & (self.i_side[0] != s) & best_any[s] & (best_px[s] == self.i_price)
            set_s = is_set & (self.i_side[0] == s)
            clear_s = is_clear & ((self.i_side == s) | (self.i_side == 2))
            sel = list(self.i_sel)
            eq_state = pick(sel, [p == self.i_price for p in px])
            ge_state = pick(sel, [self.i_qty >= q for q in shown])
            # a valid SET or TRADE price is never 0, so "equal to the tracked price" also
            # means "a level is tracked"
            eq = Mux(same & start, self.i_price == a_price, Mux(same & reset, 0, eq_state))
            # the shown size matters only while a refill is pending, and only a TRADE leaves
            # one pending: a SET or CLEAR in B clears it, so only B's start needs correcting
            ge = Mux(same & start, self.i_qty >= a_best, ge_state)
            # B's decisions, registered here once per instrument, so that each state
            # register's enable in B is a registered bit, not a decode of several
            decide = {
                "start": hit & ~eq,
                "keep": hit & eq,  # a TRADE at the tracked price: absorb more
                "set_at": set_s & eq,  # a SET at the tracked price
                "reset": (set_s & eq & (self.i_qty == 0)) | clear_s,
                "hit": hit,  # leaves a refill pending
                "unpend": (set_s & eq) | clear_s,
            }
            acts = [{k: Signal(name=f"{name}_{k}_{i}") for k in decide} for i in range(N)]
            with m.If(en):
                m.d.sync += [
                    a_best.eq(best_qty[s]),
                    a_ge.eq(ge),
                    start.eq(decide["start"]),
                    reset.eq(decide["reset"]),
                ]
                for i in range(N):
                    mine = good & self.i_sel[i]
                    m.d.sync += [acts[i][k].eq(v & mine) for k, v in decide.items()]

            # ---- B: every instrument's state from the registered decisions ----------------
            for i, act in enumerate(acts):
                with m.If(en):
                    with m.If(act["start"]):
                        m.d.sync += [
                            px[i].eq(a_price),
                            shown[i].eq(a_best),
                            absorbed[i].eq(a_qty),
                            refills[i].eq(0),
                        ]
                    with m.Elif(act["keep"]):
                        m.d.sync += absorbed[i].eq(absorbed[i] + a_qty)
                    with m.Elif(act["reset"]):
                        m.d.sync += [px[i].eq(0), shown[i].eq(0), absorbed[i].eq(0)]
                        m.d.sync += refills[i].eq(0)
                    with m.Elif(act["set_at"]):
                        m.d.sync += shown[i].eq(a_qty)
                        with m.If(pending[i] & a_ge & (refills[i] != 255)):
                            m.d.sync += refills[i].eq(refills[i] + 1)
                    with m.If(act["hit"]):
                        m.d.sync += pending[i].eq(1)
                    with m.Elif(act["unpend"]):
                        m.d.sync += pending[i].eq(0)

        # ---- C: the state after the update; D, E, F: the ICEBERG bits -------------------
        # "absorbed >= RATIO * shown" is a 64-bit compare: a carry chain too long for one
        # clock after the read multiplexer, so it runs over three clocks (the product,
        # then the compares of the two 32-bit halves, then their combination). The OFI
        # unit takes as long, so this costs the core no clock.
        c_valid, d_valid, e_valid = Signal(), Signal(), Signal()
        with m.If(en):
            m.d.sync += [
                c_valid.eq(b_valid),
                d_valid.eq(c_valid),
                e_valid.eq(d_valid),
                self.o_valid.eq(e_valid),
            ]
        for name, (px, shown, absorbed, refills) in after.items():
            c_px, c_shown = Signal(32, name=f"{name}_c_px"), Signal(32, name=f"{name}_c_shown")
            c_abs, c_ref = Signal(64, name=f"{name}_c_abs"), Signal(8, name=f"{name}_c_ref")
            need = Signal(32 + self.ratio.bit_length(), name=f"{name}_d_need")
            widths = {"px": 32, "ref": 8, "abs": 64, "flag": 1}
            d = {k: Signal(w, name=f"{name}_d_{k}") for k, w in widths.items()}
            e = {k: Signal(w, name=f"{name}_e_{k}") for k, w in widths.items()}
            hi_gt, hi_eq = Signal(name=f"{name}_e_hi_gt"), Signal(name=f"{name}_e_hi_eq")
            lo_ge = Signal(name=f"{name}_e_lo_ge")
            with m.If(en):
                m.d.sync += [
                    c_px.eq(pick(list(b_sel), px)),
                    c_shown.eq(pick(list(b_sel), shown)),
                    c_abs.eq(pick(list(b_sel), absorbed)),
                    c_ref.eq(pick(list(b_sel), refills)),
                    # D: the product, and "tracked, with enough refills"
                    need.eq(c_shown * self.ratio),
                    d["flag"].eq((c_px != 0) & (c_ref >= self.min_refills)),
                    d["px"].eq(c_px),
                    d["ref"].eq(c_ref),
                    d["abs"].eq(c_abs),
                    # E: the halves of absorbed >= need
                    hi_gt.eq(d["abs"][32:] > need[32:]),
                    hi_eq.eq(d["abs"][32:] == need[32:]),
                    lo_ge.eq(d["abs"][:32] >= need[:32]),
                    *(e[k].eq(d[k]) for k in d),
                    # F: the outputs
                    getattr(self, f"o_px_{name}").eq(e["px"]),
                    getattr(self, f"o_refills_{name}").eq(e["ref"]),
                    getattr(self, f"o_absorbed_{name}").eq(e["abs"]),
                    getattr(self, f"o_iceberg_{name}").eq(e["flag"] & (hi_gt | hi_eq & lo_ge)),
                ]
        return m
