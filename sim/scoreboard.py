"""Record comparison shared by the cocotb bench (``bench_core.py``) and the driver (``run.py``).

A record travels through the bench as the 1024-bit integer of its ``o_stream`` beat:
bits ``0 .. 8*CONTRACT_BYTES-1`` are the contract bytes both engines must produce
identically, the two 64-bit cycle stamps sit above them.
"""

from __future__ import annotations

import numpy as np

from hean.wire import CONTRACT_BYTES, MSG_DTYPE, REC_DTYPE, MsgType, Side
from hean_hw.layouts import from_bits

#: The contract bits of a record beat (bytes 0..111).
CONTRACT_MASK = (1 << (8 * CONTRACT_BYTES)) - 1
T_IN_SHIFT = 8 * REC_DTYPE.fields["engine_t_in"][1]
T_OUT_SHIFT = 8 * REC_DTYPE.fields["engine_t_out"][1]
STAMP_MASK = (1 << 64) - 1
#: Record fields inside the contract bytes, in layout order.
CONTRACT_FIELDS = tuple(n for n in REC_DTYPE.names if REC_DTYPE.fields[n][1] < CONTRACT_BYTES)

assert T_IN_SHIFT == 8 * CONTRACT_BYTES

#: The core's counter ports and the mirror's names for them.
COUNTERS = {
    "msgs_in": "messages",
    "recs_out": "records",
    "bad": "bad",
    "gaps": "gaps",
    "dropped": "dropped",
}


def stamps(beat: int) -> tuple[int, int]:
    """``(engine_t_in, engine_t_out)`` of a record beat."""
    return (beat >> T_IN_SHIFT) & STAMP_MASK, (beat >> T_OUT_SHIFT) & STAMP_MASK


def describe_message(msg: np.void) -> str:
    """One line with every field of an HL2 message, type and side by name where known."""
    parts = []
    for name in MSG_DTYPE.names:
        value = int(msg[name])
        if name == "type" and value in MsgType._value2member_map_:
            parts.append(f"type={MsgType(value).name}({value})")
        elif name == "side" and value in Side._value2member_map_:
            parts.append(f"side={Side(value).name}({value})")
        else:
            parts.append(f"{name}={value}")
    return " ".join(parts)


def differing_fields(got: np.void, want: np.void) -> list[tuple[str, int, int]]:
    """``(field, expected, got)`` for every contract field that differs."""
    return [
        (name, int(want[name]), int(got[name]))
        for name in CONTRACT_FIELDS
        if int(got[name]) != int(want[name])
    ]


def describe_mismatch(index: int, msg: np.void, got: np.void | int, want: np.void | int) -> str:
    """The report of a record that differs from the mirror's: index, message, fields."""
    if isinstance(got, int):
        got = from_bits([got], REC_DTYPE)[0]
    if isinstance(want, int):
        want = from_bits([want], REC_DTYPE)[0]
    lines = [
        f"record {index} differs from the mirror's (bytes 0..{CONTRACT_BYTES - 1})",
        f"  message {index}: {describe_message(msg)}",
    ]
    for name, expected, value in differing_fields(got, want):
        lines.append(f"  {name:<18} expected {expected:>22}  got {value:>22}")
    return "\n".join(lines)


def first_mismatch(got: np.ndarray, want: np.ndarray) -> int | None:
    """Index of the first record whose contract bytes differ, or None (same lengths assumed)."""
    a = got.view(np.uint8).reshape(-1, REC_DTYPE.itemsize)[:, :CONTRACT_BYTES]
    b = want.view(np.uint8).reshape(-1, REC_DTYPE.itemsize)[:, :CONTRACT_BYTES]
    bad = np.flatnonzero((a != b).any(axis=1))
    return int(bad[0]) if len(bad) else None
