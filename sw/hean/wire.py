"""HL2 v1 wire formats: the one source of truth for every layout in HEAN.

The HL2 message (32 bytes), the feature record (128 bytes) and the 64-byte header of
``.hl2`` and ``.hlf`` files are defined here as numpy structured dtypes. The software
mirror computes into these dtypes, the gateways write them, and the gateware in
``hean_hw`` derives its Amaranth layouts from them, so a field can never be retyped
differently in two places.

All integers are little-endian, as the contract requires, whatever the host.
"""

from __future__ import annotations

import enum
import os
import struct
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

VERSION = 1
HEADER_SIZE = 64

#: One HL2 message: 32 bytes, little-endian, naturally aligned.
MSG_DTYPE = np.dtype(
    [
        ("type", "u1"),
        ("side", "u1"),
        ("flags", "u1"),
        ("instrument", "u1"),
        ("seq", "<u4"),
        ("price", "<u4"),
        ("qty", "<u4"),
        ("exch_ts_ns", "<u8"),
        ("recv_ts_ns", "<u8"),
    ]
)

#: One feature record: 128 bytes. Bytes 0..111 are the contract between engines;
#: ``engine_t_in`` and ``engine_t_out`` (112..127) are engine-private cycle stamps.
REC_DTYPE = np.dtype(
    [
        ("seq", "<u4"),
        ("instrument", "u1"),
        ("type", "u1"),
        ("status", "<u2"),
        ("bid_px", "<u4"),
        ("bid_qty", "<u4"),
        ("ask_px", "<u4"),
        ("ask_qty", "<u4"),
        ("depth_bid", "<u8"),
        ("depth_ask", "<u8"),
        ("imb_l1", "<i2"),
        ("imb_depth", "<i2"),
        ("levels_bid", "u1"),
        ("levels_ask", "u1"),
        ("ice_refills_bid", "u1"),
        ("ice_refills_ask", "u1"),
        ("ofi", "<i8"),
        ("ofi_event", "<i8"),
        ("buy_flow", "<u8"),
        ("sell_flow", "<u8"),
        ("ice_absorbed_bid", "<u8"),
        ("ice_absorbed_ask", "<u8"),
        ("ice_px_bid", "<u4"),
        ("ice_px_ask", "<u4"),
        ("recv_ts_ns", "<u8"),
        ("engine_t_in", "<u8"),
        ("engine_t_out", "<u8"),
    ]
)

#: Bytes of a record that both engines must produce identically.
CONTRACT_BYTES = 112


def struct_of(dtype: np.dtype) -> struct.Struct:
    """A :class:`struct.Struct` with exactly ``dtype``'s packed little-endian layout.

    ``struct_of(REC_DTYPE).unpack_from(buffer, offset)`` gives a record's fields as a
    tuple of Python numbers in dtype order, the same values as ``rec.item()``, several
    times faster (no numpy scalars in between): the trading fast path reads records so.
    """
    codes = {("u", 1): "B", ("u", 2): "H", ("u", 4): "I", ("u", 8): "Q",
             ("i", 1): "b", ("i", 2): "h", ("i", 4): "i", ("i", 8): "q"}  # fmt: skip
    fmt = "<"
    offset = 0
    for name in dtype.names or ():
        sub, at = dtype.fields[name][:2]
        if at != offset or (sub.kind, sub.itemsize) not in codes:
            raise ValueError(f"field {name!r} is not a packed integer at offset {offset}")
        fmt += codes[(sub.kind, sub.itemsize)]
        offset += sub.itemsize
    if offset != dtype.itemsize:
        raise ValueError(f"dtype has {dtype.itemsize - offset} trailing bytes")
    return struct.Struct(fmt)


#: Records as Python tuples, straight from a buffer (see :func:`struct_of`).
REC_STRUCT = struct_of(REC_DTYPE)

HEADER_DTYPE = np.dtype(
    [
        ("magic", "S8"),
        ("version", "<u2"),
        ("header_size", "<u2"),
        ("K", "<u2"),
        ("N", "<u2"),
        ("ofi_shift", "<u2"),
        ("flow_shift", "<u2"),
        ("ice_min_refills", "<u2"),
        ("ice_absorb_ratio", "<u2"),
        ("reserved", "V40"),
    ]
)

assert MSG_DTYPE.itemsize == 32
assert REC_DTYPE.itemsize == 128
assert REC_DTYPE.fields["engine_t_in"][1] == CONTRACT_BYTES
assert HEADER_DTYPE.itemsize == HEADER_SIZE


class MsgType(enum.IntEnum):
    """HL2 message types (byte 0 of a message)."""

    SET = 1
    TRADE = 2
    CLEAR = 3
    HEARTBEAT = 4


class Side(enum.IntEnum):
    """Side codes. For TRADE the side is the aggressor: BID means a buy."""

    BID = 0
    ASK = 1
    BOTH = 2  # CLEAR only


class Flag(enum.IntFlag):
    """Input flag bits (byte 2 of a message)."""

    END = 1
    SNAPSHOT = 2


class Status(enum.IntFlag):
    """Status bits of a feature record."""

    GAP = 1 << 0
    CROSSED = 1 << 1
    BID_EMPTY = 1 << 2
    ASK_EMPTY = 1 << 3
    ICEBERG_BID = 1 << 4
    ICEBERG_ASK = 1 << 5
    BAD_MSG = 1 << 6
    END = 1 << 7
    SNAPSHOT = 1 << 8
    DROPPED = 1 << 9


class WireError(ValueError):
    """A file or a value does not follow the HL2 v1 contract."""


#: name -> (default, low, high) of every build parameter, as the spec gives them.
PARAM_RANGES: dict[str, tuple[int, int, int]] = {
    "K": (32, 4, 64),
    "N": (4, 1, 256),
    "ofi_shift": (6, 1, 16),
    "flow_shift": (4, 1, 16),
    "ice_min_refills": (3, 1, 255),
    "ice_absorb_ratio": (2, 1, 16),
}


@dataclass(frozen=True)
class Params:
    """Build parameters of a feature engine (the spec's K, N, OFI_SHIFT, ...).

    Parameters
    ----------
    K : int
        Price levels kept per side per instrument (4..64).
    N : int
        Instruments handled (1..256).
    ofi_shift : int
        Decay shift of the OFI accumulator (1..16).
    flow_shift : int
        Decay shift of the trade-flow accumulators (1..16).
    ice_min_refills : int
        Refills before a level is flagged as an iceberg (1..255).
    ice_absorb_ratio : int
        Absorbed volume must reach this multiple of the shown size (1..16).

    Raises
    ------
    WireError
        If any value is outside the spec's range.
    """

    K: int = 32
    N: int = 4
    ofi_shift: int = 6
    flow_shift: int = 4
    ice_min_refills: int = 3
    ice_absorb_ratio: int = 2

    def __post_init__(self) -> None:
        for name, (_, low, high) in PARAM_RANGES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise WireError(f"parameter {name} must be an integer, got {value!r}")
            if not low <= int(value) <= high:
                raise WireError(f"parameter {name}={value} is outside the range {low}..{high}")

    def as_dict(self) -> dict[str, int]:
        """The parameters as a plain dict (for JSON and tables)."""
        return {k: int(v) for k, v in asdict(self).items()}


class FileKind(enum.Enum):
    """The two HL2 file kinds, with their magic and item dtype."""

    HL2 = (b"HEANHL2\0", MSG_DTYPE, "messages")
    HLF = (b"HEANHLF\0", REC_DTYPE, "records")

    @property
    def magic(self) -> bytes:
        return self.value[0]

    @property
    def dtype(self) -> np.dtype:
        return self.value[1]

    @property
    def items(self) -> str:
        return self.value[2]


def encode_header(kind: FileKind, params: Params) -> bytes:
    """Return the 64-byte header of a file of ``kind`` made with ``params``."""
    header = np.zeros((), dtype=HEADER_DTYPE)
    header["magic"] = kind.magic
    header["version"] = VERSION
    header["header_size"] = HEADER_SIZE
    for name, value in params.as_dict().items():
        header[name] = value
    return header.tobytes()


def decode_header(raw: bytes, source: str = "<bytes>") -> tuple[FileKind, Params]:
    """Parse a 64-byte header; refuse anything that is not HL2 v1.

    Raises
    ------
    WireError
        On a short header, an unknown magic, a wrong version or header size,
        non-zero reserved bytes, or parameters outside the spec's ranges.
    """
    if len(raw) < HEADER_SIZE:
        raise WireError(f"{source}: file is {len(raw)} bytes, shorter than the 64-byte header")
    header = np.frombuffer(raw[:HEADER_SIZE], dtype=HEADER_DTYPE)[0]
    magic = bytes(raw[:8])
    kinds = {k.magic: k for k in FileKind}
    if magic not in kinds:
        raise WireError(
            f"{source}: bad magic {magic!r}; expected {FileKind.HL2.magic!r} (.hl2) "
            f"or {FileKind.HLF.magic!r} (.hlf)"
        )
    if int(header["version"]) != VERSION:
        raise WireError(f"{source}: HL2 version {int(header['version'])}, this reader knows 1")
    if int(header["header_size"]) != HEADER_SIZE:
        raise WireError(f"{source}: header size {int(header['header_size'])}, expected 64")
    if any(bytes(raw[24:HEADER_SIZE])):
        raise WireError(f"{source}: reserved header bytes 24..63 are not zero")
    try:
        params = Params(**{name: int(header[name]) for name in PARAM_RANGES})
    except WireError as exc:
        raise WireError(f"{source}: header {exc}") from None
    return kinds[magic], params


@dataclass(frozen=True)
class HL2File:
    """An opened ``.hl2`` or ``.hlf`` file: its kind, header parameters and items.

    ``items`` is a read-only memory map, so opening a large file costs nothing until
    the items are touched.
    """

    path: Path
    kind: FileKind
    params: Params
    items: np.ndarray

    def __len__(self) -> int:
        return len(self.items)

    def chunks(self, size: int) -> Iterator[np.ndarray]:
        """Yield the items in consecutive slices of at most ``size``."""
        for start in range(0, len(self.items), size):
            yield self.items[start : start + size]


def open_file(path: str | os.PathLike[str], expect: FileKind | None = None) -> HL2File:
    """Open an ``.hl2`` or ``.hlf`` file, checking its header and size.

    Parameters
    ----------
    path : path-like
        The file.
    expect : FileKind, optional
        Refuse a file of the other kind.

    Raises
    ------
    WireError
        On a bad header, a file of the wrong kind, or a body that is not a whole
        number of items (a truncated or corrupted file).
    FileNotFoundError
        If the file does not exist.
    """
    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as fh:
        kind, params = decode_header(fh.read(HEADER_SIZE), str(path))
    if expect is not None and kind is not expect:
        raise WireError(
            f"{path}: this is an .{kind.name.lower()} file ({kind.items}); "
            f"an .{expect.name.lower()} file ({expect.items}) is needed here"
        )
    body = size - HEADER_SIZE
    if body % kind.dtype.itemsize:
        raise WireError(
            f"{path}: body of {body} bytes is not a whole number of "
            f"{kind.dtype.itemsize}-byte {kind.items} (truncated file?)"
        )
    count = body // kind.dtype.itemsize
    if count:
        items = np.memmap(path, dtype=kind.dtype, mode="r", offset=HEADER_SIZE, shape=(count,))
    else:
        items = np.zeros(0, dtype=kind.dtype)
    return HL2File(path, kind, params, items)


class Writer:
    """Write an ``.hl2`` or ``.hlf`` file in chunks.

    The header is written on open; :meth:`write` appends items. Use it as a context
    manager so the file is flushed and closed even when the producer fails.
    """

    def __init__(self, path: str | os.PathLike[str], kind: FileKind, params: Params) -> None:
        self.path = Path(path)
        self.kind = kind
        self.params = params
        self.count = 0
        self._fh: BinaryIO = self.path.open("wb")
        self._fh.write(encode_header(kind, params))

    def write(self, items: np.ndarray) -> None:
        """Append items; they must have this file kind's dtype."""
        if items.dtype != self.kind.dtype:
            raise WireError(f"{self.path}: cannot write {items.dtype} into an {self.kind.name}")
        self._fh.write(np.ascontiguousarray(items).data)
        self.count += len(items)

    def flush(self, sync: bool = False) -> None:
        """Push buffered items to the OS (and to the disk with ``sync``)."""
        self._fh.flush()
        if sync:
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_file(
    path: str | os.PathLike[str], kind: FileKind, params: Params, items: np.ndarray
) -> None:
    """Write a whole ``.hl2`` or ``.hlf`` file in one call."""
    with Writer(path, kind, params) as writer:
        writer.write(items)


def messages(rows: list[tuple[int, ...]] | None = None, **columns: object) -> np.ndarray:
    """Build an array of HL2 messages.

    Either from ``rows`` of ``(type, side, flags, instrument, seq, price, qty
    [, exch_ts_ns, recv_ts_ns])`` or from keyword columns (scalars broadcast), every
    field not given being zero.

    Examples
    --------
    >>> m = messages([(MsgType.SET, Side.BID, Flag.END, 0, 1, 100, 5)])
    >>> int(m[0]["price"])
    100
    """
    if rows is not None:
        out = np.zeros(len(rows), dtype=MSG_DTYPE)
        names = MSG_DTYPE.names
        for i, row in enumerate(rows):
            if len(row) > len(names):
                raise WireError(f"message row {i} has {len(row)} values, at most {len(names)}")
            for name, value in zip(names, row, strict=False):
                out[i][name] = int(value)
        return out
    unknown = set(columns) - set(MSG_DTYPE.names)
    if unknown:
        raise WireError(f"unknown message fields: {sorted(unknown)}")
    lengths = {len(v) for v in columns.values() if np.ndim(v) == 1}  # type: ignore[arg-type]
    if len(lengths) > 1:
        raise WireError(f"message columns have different lengths: {sorted(lengths)}")
    out = np.zeros(lengths.pop() if lengths else 1, dtype=MSG_DTYPE)
    for name, value in columns.items():
        out[name] = value
    return out
