"""Amaranth layouts of the HL2 message and feature record, derived from ``hean.wire``.

A numpy structured dtype with little-endian fields and no padding maps bit for bit onto
an Amaranth ``StructLayout``: Amaranth places the first field at bit 0, and little-endian
byte order puts byte 0 at bits 0..7. So the 256-bit value of a message beat equals
``int.from_bytes(message.tobytes(), "little")`` and no field offset is ever typed twice.
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Shape, signed, unsigned
from amaranth.lib import data

from hean.wire import MSG_DTYPE, REC_DTYPE


def layout_from_dtype(dtype: np.dtype) -> data.StructLayout:
    """Build a ``StructLayout`` with the fields, widths and signedness of ``dtype``.

    Raises
    ------
    ValueError
        If a field is not a little-endian integer or the dtype has padding or overlap.
    """
    fields: dict[str, Shape] = {}
    position = 0
    for name in dtype.names:
        field_type, offset = dtype.fields[name][:2]
        if offset != position:
            raise ValueError(f"field {name} at byte {offset}, expected {position}: padding")
        if field_type.kind not in "ui" or field_type.byteorder == ">":
            raise ValueError(f"field {name} is {field_type}, not a little-endian integer")
        width = 8 * field_type.itemsize
        fields[name] = unsigned(width) if field_type.kind == "u" else signed(width)
        position += field_type.itemsize
    if position != dtype.itemsize:
        raise ValueError(f"fields cover {position} bytes of {dtype.itemsize}")
    return data.StructLayout(fields)


#: One HL2 message: 256 bits.
MSG_LAYOUT = layout_from_dtype(MSG_DTYPE)
#: One feature record: 1024 bits.
REC_LAYOUT = layout_from_dtype(REC_DTYPE)


def to_bits(items: np.ndarray) -> list[int]:
    """The beats (as integers) that carry ``items`` of an HL2 dtype, one per item."""
    raw = np.ascontiguousarray(items).tobytes()
    size = items.dtype.itemsize
    return [int.from_bytes(raw[i : i + size], "little") for i in range(0, len(raw), size)]


def from_bits(values: list[int], dtype: np.dtype) -> np.ndarray:
    """The inverse of :func:`to_bits`: integers back into an array of ``dtype``."""
    size = dtype.itemsize
    raw = b"".join(int(v).to_bytes(size, "little") for v in values)
    return np.frombuffer(raw, dtype=dtype).copy()
