"""Per-instrument order-flow imbalance (contract step 5, Cont, Kukanov and Stoikov)."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hean_hw.arith import decay_add, pick


class Ofi(wiring.Component):
    """OFI event and decaying accumulator per instrument.

    ``e = [Pb' >= Pb] qb' - [Pb' <= Pb] qb - [Pa' <= Pa] qa' + [Pa' >= Pa] qa`` from the
    best levels before and after the message (empty bid reads (0, 0), empty ask reads
    (0xFFFFFFFF, 0), prices compared unsigned), then ``ofi = ofi - (ofi >> OFI_SHIFT) + e``
    with an arithmetic shift, for every valid message.

    Parameters
    ----------
    N : int
        Instruments.
    ofi_shift : int
        The contract's OFI_SHIFT (1..16), fixed at elaboration.

    Ports
    -----
    en, i_valid, i_good : In(1)
    i_instrument : In(8)
    i_pb, i_qb, i_pa, i_qa : In(32)
        Best levels before the message.
    i_pb2, i_qb2, i_pa2, i_qa2 : In(32)
        Best levels after it.
    o_valid : Out(1); o_ofi, o_event : Out(signed(64))
        ``latency`` (6) enabled cycles later: the accumulator after the message and e
        (0 for a bad message).

    Notes
    -----
    e depends only on the message's best levels, not on the accumulator, so it is built
    ahead of the accumulator in four clocks (the four compares, their terms, two sums,
    their difference). Every instrument's accumulator then computes its own next
    value from the registered e, with one carry chain (:func:`hean_hw.arith.decay_add`),
    and only the message's instrument is written: the read-modify-write loop has no
    multiplexer and no compare in it, so consecutive messages of one instrument still go
    back to back. The accumulator is read a clock after it is written.
    """

    latency = 6

    def __init__(self, N: int, ofi_shift: int) -> None:
        self.N = N
        self.ofi_shift = ofi_shift
        ports = {"en": In(1, init=1), "i_valid": In(1), "i_good": In(1), "i_instrument": In(8)}
        for name in ("pb", "qb", "pa", "qa", "pb2", "qb2", "pa2", "qa2"):
            ports[f"i_{name}"] = In(32)
        ports |= {"o_valid": Out(1), "o_ofi": Out(signed(64)), "o_event": Out(signed(64))}
        super().__init__(ports)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        N, en = self.N, self.en
        acc = [Signal(signed(64), name=f"ofi_{i}") for i in range(N)]

        def stage(values: dict[str, object], shapes: dict[str, object], tag: str) -> dict:
            regs = {k: Signal(shapes.get(k, 1), name=f"{tag}_{k}") for k in values}
            with m.If(en):
                m.d.sync += [regs[k].eq(v) for k, v in values.items()]
            return regs

        ctl = {"valid": self.i_valid, "good": self.i_good, "inst": self.i_instrument}
        shapes = {"inst": 8}
        # clock 1: the four compares; clock 2: the four terms, each a 32-bit size or 0
        q = stage(
            {
                **ctl,
                "k1": self.i_pb2 >= self.i_pb,
                "k2": self.i_pb2 <= self.i_pb,
                "k3": self.i_pa2 <= self.i_pa,
                "k4": self.i_pa2 >= self.i_pa,
                "qb": self.i_qb,
                "qa": self.i_qa,
                "qb2": self.i_qb2,
                "qa2": self.i_qa2,
            },
            {**shapes, "qb": 32, "qa": 32, "qb2": 32, "qa2": 32},
            "q",
        )
        ctl = {k: q[k] for k in ("valid", "good", "inst")}
        t = stage(
            {
                **ctl,
                "t1": Mux(q["k1"], q["qb2"], 0),
                "t2": Mux(q["k2"], q["qb"], 0),
                "t3": Mux(q["k3"], q["qa2"], 0),
                "t4": Mux(q["k4"], q["qa"], 0),
            },
            {**shapes, "t1": 32, "t2": 32, "t3": 32, "t4": 32},
            "t",
        )
        # clock 3: what e adds and what it takes away; clock 4: e (fits in 35 bits)
        ctl = {k: t[k] for k in ("valid", "good", "inst")}
        u = stage({**ctl, "plus": t["t1"] + t["t4"], "minus": t["t2"] + t["t3"]},
                  {**shapes, "plus": 33, "minus": 33}, "u")  # fmt: skip
        ctl = {k: u[k] for k in ("valid", "good", "inst")}
        e = stage({**ctl, "event": u["plus"] - u["minus"]}, {**shapes, "event": signed(35)}, "e")

        # clock 5: every accumulator's next value; the message's instrument's is kept
        for i in range(N):
            with m.If(en & e["valid"] & e["good"] & (e["inst"] == i)):
                m.d.sync += acc[i].eq(decay_add(acc[i], self.ofi_shift, e["event"]))
        ctl = {k: e[k] for k in ("valid", "good")}
        r = stage(
            {**ctl, "sel": Cat(e["inst"] == i for i in range(N)), "event": e["event"]},
            {"sel": N, "event": signed(35)},
            "r",
        )

        # clock 6: the accumulator read after its write (the select decoded a clock ahead)
        with m.If(en):
            m.d.sync += [
                self.o_valid.eq(r["valid"]),
                self.o_ofi.eq(pick(list(r["sel"]), acc)),
                self.o_event.eq(Mux(r["good"], r["event"], 0)),
            ]
        return m
