"""Per-instrument iceberg tracking (contract step 4) and the ICEBERG status bits."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hean_hw.arith import apart, pick

SET, TRADE, CLEAR = 1, 2, 3


class Iceberg(wiring.Component):
    """Track one candidate iceberg level per side of each instrument.

    A valid TRADE at the passive side's best price starts tracking that level (when it
    is not tracked already) and adds the traded size to the absorbed volume, leaving a
    refill pending. A valid SET at the tracked price resets the side when its size is 0,
    else counts a refill when one was pending and the new size is at least the shown
    size (saturating at 255), then takes the new size as shown. CLEAR resets the named
    side(s).

    One message per clock, any instrument order. The message ports lead the best-level
    ports by :attr:`lead` clocks: a message's type, side, instrument, price and size
    arrive two clocks before the book's best levels after it, so that every compare that
    needs no best level runs early. Eight clocks in all:

    R. the message is registered, its instrument, price and size once per side, so each
       side's comparators start from flip-flops of their own;
    P. every compare that needs no best level, each registered as it leaves its
       comparator: the message's price and size against every instrument's tracked price
       and shown size (a state that does not yet hold the two messages ahead, in A and
       B), and against those two messages;
    A. the compare with the best level ("does this TRADE hit it"), and the choice among
       P's results by what the two messages ahead do to the same instrument (start
       tracking their own price, set a new shown size, reset). So no comparator and no
       read multiplexer sits in the read-modify-write loop;
    B. every instrument's state updates itself from A's registered decisions, written for
       the message's instrument only;
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
        The message, :attr:`lead` clocks ahead of its best levels.
    i_sel : In(N)
        The message's instrument, one-hot (no bit for an instrument ``>= N``), decoded by
        the caller into a register of its own: an instrument compare here would sit in
        front of stage P's selects and its compares with the messages ahead.
    i_bid_px, i_bid_qty, i_ask_px, i_ask_qty : In(32); i_bid_any, i_ask_any : In(1)
        Best levels after the book update, and whether each side has a level,
        :attr:`lead` clocks after the message's other ports.
    o_valid : Out(1)
    o_px_bid, o_px_ask : Out(32); o_refills_bid, o_refills_ask : Out(8)
    o_absorbed_bid, o_absorbed_ask : Out(64); o_iceberg_bid, o_iceberg_ask : Out(1)
        :attr:`latency` clocks after the best levels: the instrument's iceberg state
        after the message.
    """

    lead = 2
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

        def reg(value: object, name: str, width: int = 1) -> Signal:
            """``value`` registered under ``en``."""
            r = Signal(width, name=name)
            with m.If(en):
                m.d.sync += r.eq(value)
            return r

        # ---- R: the message registered, its instrument, price and size once per side -----
        # each side's compares then start from flip-flops of their own, not from one
        # register driving both sides' comparators (kinds 1 and 2: the caller's delay
        # registers are kind 0, and a kind-0 copy would merge with the next of them)
        good = self.i_valid & self.i_good
        r_valid = reg(self.i_valid, "r_valid")
        r_set = reg(good & (self.i_type == SET), "r_set")
        r_trade = reg(good & (self.i_type == TRADE), "r_trade")
        r_clear = reg(good & (self.i_type == CLEAR), "r_clear")
        r_side = reg(self.i_side, "r_side", 2)
        r_zero = reg(self.i_qty == 0, "r_zero")
        copies = {}
        for k, port in (("sel", self.i_sel), ("price", self.i_price), ("qty", self.i_qty)):
            copies[k] = apart(len(port), 2, f"r_{k}_", first=1)
            with m.If(en):
                m.d.sync += [c.eq(port) for c in copies[k]]

        # ---- P: decode, and every compare that needs no best level -------------------
        # While P holds a message, A holds the one ahead of it and B the one two ahead;
        # the state registers hold the state before both. P compares its message with
        # all three; A picks the right result once it knows what the message ahead does
        # (its decisions are being registered meanwhile).
        p_valid = reg(r_valid, "p_valid")
        p_zero = reg(r_zero, "p_zero")
        a_valid = reg(p_valid, "a_valid")
        b_valid = reg(a_valid, "b_valid")

        after = {}  # per side: the read selects and the per-instrument state registers
        for s, name in enumerate(("bid", "ask")):
            px = [Signal(32, name=f"{name}_px_{i}") for i in range(N)]
            shown = [Signal(32, name=f"{name}_shown_{i}") for i in range(N)]
            absorbed = [Signal(64, name=f"{name}_absorbed_{i}") for i in range(N)]
            refills = [Signal(8, name=f"{name}_refills_{i}") for i in range(N)]
            pending = [Signal(name=f"{name}_pending_{i}") for i in range(N)]

            # this side's copy of the message in P, and the side's registers of the
            # messages in A and B (for A's compare, B's writes and P's compares)
            sel, price, qty = (copies[k][s] for k in ("sel", "price", "qty"))
            p_sel = reg(sel, f"{name}_p_sel", N)
            p_price = reg(price, f"{name}_p_price", 32)
            p_qty = reg(qty, f"{name}_p_qty", 32)
            a_sel = reg(p_sel, f"{name}_a_sel", N)
            a_price = reg(p_price, f"{name}_a_price", 32)
            a_qty = reg(p_qty, f"{name}_a_qty", 32)
            # and one copy of the size per instrument, zero unless the message is for
            # it, for B's writes: one register feeding every instrument's 64-bit adder
            # was the unit's slowest net (4.8 ns of routing into the carry chains)
            a_add = [reg(Mux(p_sel[i], p_qty, 0), f"{name}_a_add_{i}", 32) for i in range(N)]
            # C's read select, a clock ahead: two copies per side (one for the 64-bit
            # absorbed volumes, one for the rest), as one register driving all four
            # read multiplexers was the unit's slowest net (8.4 ns of routing)
            b_sel = apart(N, 2, f"{name}_b_sel_")
            with m.If(en):
                m.d.sync += [c.eq(a_sel) for c in b_sel]
            after[name] = (b_sel, px, shown, absorbed, refills)
            # what the message in B does to this side (registered in A): read by A for
            # the message one behind it and by P for the message two behind
            start = Signal(name=f"{name}_start")  # a TRADE at a new price: track it
            reset = Signal(name=f"{name}_reset")
            set_at = Signal(name=f"{name}_set_at")  # a SET at the tracked price
            a_best = Signal(32, name=f"{name}_a_best")

            # P: the decode (a buy aggressor, side 0, hits the asks, s = 1), and "is the
            # price the tracked one" and "is the size at least the shown one", against
            # the state corrected for the message in B. A valid SET or TRADE price is
            # never 0, so "equal to the tracked price" also means "a level is tracked".
            p_trade = reg(r_trade & (r_side[0] != s), f"{name}_p_trade")
            p_set = reg(r_set & (r_side[0] == s), f"{name}_p_set")
            p_clear = reg(r_clear & ((r_side == s) | (r_side == 2)), f"{name}_p_clear")
            # only compares here, each registered as it leaves its comparator: which of
            # them holds is A's choice. Per instrument: the tracked price and the shown
            # size; then B's message (its price, best size and size, and what it does)
            same2 = (sel & a_sel).any()
            p_eq_i = reg(Cat(p == price for p in px), f"{name}_p_eq_i", N)
            p_ge_i = reg(Cat(qty >= q for q in shown), f"{name}_p_ge_i", N)
            p_eq2 = reg(price == a_price, f"{name}_p_eq2")
            p_ge2 = reg(qty >= a_best, f"{name}_p_ge2")
            p_ge3 = reg(qty >= a_qty, f"{name}_p_ge3")
            p_start2 = reg(same2 & start, f"{name}_p_start2")
            p_reset2 = reg(same2 & reset, f"{name}_p_reset2")
            p_set2 = reg(same2 & set_at, f"{name}_p_set2")
            # and A's message (its best size is compared in A, from a_best: the best-level
            # ports come from the book, and a compare of them with R's copy was the
            # slowest path of a whole core, 7.9 ns of routing)
            p_same1 = reg((sel & p_sel).any(), f"{name}_p_same1")
            p_eq1 = reg(price == p_price, f"{name}_p_eq1")

            # ---- A: the best-level compare, and the choices ------------------------------
            hit = p_trade & best_any[s] & (best_px[s] == p_price)
            # the state after B's message, then after the message ahead (now in B)
            eq_b = Mux(p_start2, p_eq2, Mux(p_reset2, 0, pick(list(p_sel), list(p_eq_i))))
            eq = Mux(p_same1 & start, p_eq1, Mux(p_same1 & reset, 0, eq_b))
            # the shown size matters only while a refill is pending, which only a TRADE
            # leaves; a SET or CLEAR clears it. So of the messages ahead only a start, or
            # a SET at the tracked price followed by a TRADE there, changes the answer.
            ge_b = Mux(p_start2, p_ge2, Mux(p_set2, p_ge3, pick(list(p_sel), list(p_ge_i))))
            ge = Mux(p_same1 & start, p_qty >= a_best, ge_b)
            # B's decisions, registered here once per instrument, so that each state
            # register's enable in B is a registered bit, not a decode of several
            decide = {
                "start": hit & ~eq,
                "keep": hit & eq,  # a TRADE at the tracked price: absorb more
                "set_at": p_set & eq,  # a SET at the tracked price
                "reset": (p_set & eq & p_zero) | p_clear,
                "hit": hit,  # leaves a refill pending
                "unpend": (p_set & eq) | p_clear,
            }
            acts = [{k: Signal(name=f"{name}_{k}_{i}") for k in decide} for i in range(N)]
            a_ge = reg(ge, f"{name}_a_ge")
            with m.If(en):
                m.d.sync += [
                    a_best.eq(best_qty[s]),
                    start.eq(decide["start"]),
                    reset.eq(decide["reset"]),
                    set_at.eq(decide["set_at"]),
                ]
                for i in range(N):
                    m.d.sync += [acts[i][k].eq(v & p_sel[i]) for k, v in decide.items()]

            # ---- B: every instrument's state from the registered decisions ----------------
            for i, act in enumerate(acts):
                with m.If(en):
                    with m.If(act["start"]):
                        m.d.sync += [
                            px[i].eq(a_price),
                            shown[i].eq(a_best),
                            absorbed[i].eq(a_add[i]),
                            refills[i].eq(0),
                        ]
                    with m.Elif(act["keep"]):
                        m.d.sync += absorbed[i].eq(absorbed[i] + a_add[i])
                    with m.Elif(act["reset"]):
                        m.d.sync += [px[i].eq(0), shown[i].eq(0), absorbed[i].eq(0)]
                        m.d.sync += refills[i].eq(0)
                    with m.Elif(act["set_at"]):
                        m.d.sync += shown[i].eq(a_add[i])
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
        for name, ((sel_abs, sel), px, shown, absorbed, refills) in after.items():
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
                    c_px.eq(pick(list(sel), px)),
                    c_shown.eq(pick(list(sel), shown)),
                    c_abs.eq(pick(list(sel_abs), absorbed)),
                    c_ref.eq(pick(list(sel), refills)),
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
