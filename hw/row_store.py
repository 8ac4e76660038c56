"""One field of the book's per-instrument rows: read at an index, written at one.

With several instruments a field is a LUT RAM of one word per instrument (plus the empty
row that an instrument past the last reads), with asynchronous reads: a read port then
costs a copy of the RAM beside the logic that uses it, and no instrument's row has to be
brought across the die through a multiplexer. With one instrument it is a register. Both
read the value as it is during the clock and write at its end, as a register does, so
the book's stages see the same thing either way. Not a component.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal, Value
from amaranth.lib.memory import Memory


class RowField:
    """``depth`` words of ``width`` bits, each starting out as ``init``.

    Parameters
    ----------
    m : Module
        The module the storage belongs to.
    name : str
        Name of the register or RAM.
    width : int
        Bits of one word.
    depth : int
        Words (1: a register, and the index of every read and of the write is ignored).
    init : int
        Every word's value at power-on. A reset does not reach a RAM: the book clears its
        rows after one by itself.
    """

    def __init__(self, m: Module, name: str, width: int, depth: int, init: int = 0) -> None:
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.m, self.depth = m, depth
        self._written = False
        if depth == 1:
            self.reg = Signal(width, init=init, name=name)
        else:
            # distributed: an asynchronous read cannot be a block RAM anyway; the
            # attribute keeps Yosys from trying one when it folds an address register in
            self.mem = Memory(
                shape=width, depth=depth, init=[init] * depth, attrs={"ram_style": "distributed"}
            )
            m.submodules[name] = self.mem

    def read(self, index: Value) -> Value:
        """The word at ``index`` as it is during this clock (a read port of its own)."""
        if self.depth == 1:
            return self.reg
        port = self.mem.read_port(domain="comb")
        self.m.d.comb += port.addr.eq(index)
        return port.data

    def write(self, index: Value, value: Value, en: Value) -> None:
        """Write ``value`` at ``index`` at the end of the clock, where ``en`` is 1 (once)."""
        if self._written:
            raise RuntimeError("a row field has one write port")
        self._written = True
        if self.depth == 1:
            with self.m.If(en):
                self.m.d.sync += self.reg.eq(value)
            return
        port = self.mem.write_port()
        self.m.d.comb += [port.addr.eq(index), port.data.eq(value), port.en.eq(en)]


__all__ = ["RowField"]
