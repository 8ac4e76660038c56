"""Arithmetic and register helpers shared by the gateware units (not a component)."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Mux, Signal, Value


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


def apart(width: int, count: int, name: str, first: int = 0) -> list[Signal]:
    """``count`` registers of ``width`` bits that synthesis keeps apart.

    Yosys merges flip-flops that are equal bit by bit, so copies of one value, made to
    split its fan-out, must differ in how they are built: with a reset or none, and a
    reset value of all zeros or all ones. That gives four kinds; the copies take kinds
    ``first`` to ``first + count - 1``. Kind 0 (a reset to zeros) is how a plain
    register is built, so copies of a value that a plain register also delays should
    start at kind 1, or one of them merges with that register. Use them only where the
    value after reset does not matter.
    """
    if first < 0 or count < 1 or first + count > 4:
        raise ValueError(f"only 4 kinds of register: kinds {first}..{first + count - 1}")
    return [
        Signal(
            width,
            init=(1 << width) - 1 if v & 2 else 0,
            reset_less=bool(v & 1),
            name=f"{name}{v}",
        )
        for v in range(first, first + count)
    ]
