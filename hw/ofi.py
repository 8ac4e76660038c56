"""Per-instrument order-flow imbalance (contract step 5, Cont, Kukanov and Stoikov)."""

from __future__ import annotations

from amaranth.hdl import Array, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


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
        ``latency`` (2) enabled cycles later: the accumulator after the message and e
        (0 for a bad message).

    Notes
    -----
    e depends only on the message's best levels, not on the accumulator, so it is
    computed and registered in a first clock; the read-modify-write of the accumulator
    (its own clock, so consecutive messages of one instrument still go back to back) is
    then only ``acc - (acc >> OFI_SHIFT) + e``, without the four compares and three adds
    of e in front of it.
    """

    latency = 2

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
        acc = Array(Signal(signed(64), name=f"ofi_{i}") for i in range(self.N))

        # clock 1: e, registered; each term is a 32-bit size or 0, the sum fits in 35 bits
        event = Signal(signed(35))
        valid, good, inst = Signal(), Signal(), Signal(8)
        with m.If(self.en):
            m.d.sync += [
                event.eq(
                    Mux(self.i_pb2 >= self.i_pb, self.i_qb2, 0)
                    - Mux(self.i_pb2 <= self.i_pb, self.i_qb, 0)
                    - Mux(self.i_pa2 <= self.i_pa, self.i_qa2, 0)
                    + Mux(self.i_pa2 >= self.i_pa, self.i_qa, 0)
                ),
                valid.eq(self.i_valid),
                good.eq(self.i_good),
                inst.eq(self.i_instrument),
            ]

        # clock 2: the accumulator's read-modify-write
        now = Signal(signed(64))
        m.d.comb += now.eq(acc[inst])
        nxt = Signal(signed(64))
        m.d.comb += nxt.eq(now - (now >> self.ofi_shift) + event)
        for i in range(self.N):
            with m.If(self.en & valid & good & (inst == i)):
                m.d.sync += acc[i].eq(nxt)
        with m.If(self.en):
            m.d.sync += [
                self.o_valid.eq(valid),
                self.o_ofi.eq(Mux(good, nxt, now)),
                self.o_event.eq(Mux(good, event, 0)),
            ]
        return m
