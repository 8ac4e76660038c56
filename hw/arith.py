"""Arithmetic shared by the per-instrument state units (not a component)."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Mux, Value


def decay_add(acc: Value, shift: int, addend: Value, width: int = 64) -> Value:
    """``acc - (acc >> shift) + addend``, modulo ``2**width``, with one carry chain.

    ``acc - x + c`` is ``acc + ~x + c + 1``. A 3:2 compressor (one LUT level, bit by bit)
    turns the three operands into a sum and a carry word, whose free bit 0 takes the
    ``+ 1``; a single adder then finishes. Two chained adders would put two carry chains
    in the accumulator's read-modify-write loop. ``acc >> shift`` is arithmetic when
    ``acc`` is signed, as the contract's ``>>`` on a signed value is.
    """
    a = _extend(acc, width)
    b = ~_extend(acc >> shift, width)
    c = _extend(addend, width)
    total = a ^ b ^ c
    majority = (a & b) | (a & c) | (b & c)
    carry = Cat(Const(1, 1), majority[: width - 1])
    return (total + carry)[:width]


def _extend(v: Value, width: int) -> Value:
    """``v`` sign- or zero-extended (by its shape) to ``width`` bits."""
    v = Value.cast(v)
    if len(v) >= width:
        return v[:width]
    n = width - len(v)
    fill = Mux(v[-1], Const((1 << n) - 1, n), Const(0, n)) if v.shape().signed else Const(0, n)
    return Cat(v, fill)


def pick(sel: list, values: list) -> Value:
    """The value whose ``sel`` bit is set (0 when none is): an AND-OR, no priority chain."""
    out: Value | int = 0
    for s, v in zip(sel, values, strict=True):
        out = out | Mux(s, v, 0)
    return Value.cast(out)
