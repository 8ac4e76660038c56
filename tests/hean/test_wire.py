"""HL2 v1 wire formats against the spec's tables, by hand: dtypes, offsets, headers, files."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from hean.wire import (
    CONTRACT_BYTES,
    HEADER_DTYPE,
    HEADER_SIZE,
    MSG_DTYPE,
    PARAM_RANGES,
    REC_DTYPE,
    VERSION,
    FileKind,
    Flag,
    MsgType,
    Params,
    Side,
    Status,
    WireError,
    decode_header,
    encode_header,
    messages,
    open_file,
    write_file,
)

# (offset, numpy type, name), copied from the spec's tables
MSG_TABLE = [
    (0, "u1", "type"),
    (1, "u1", "side"),
    (2, "u1", "flags"),
    (3, "u1", "instrument"),
    (4, "<u4", "seq"),
    (8, "<u4", "price"),
    (12, "<u4", "qty"),
    (16, "<u8", "exch_ts_ns"),
    (24, "<u8", "recv_ts_ns"),
]
REC_TABLE = [
    (0, "<u4", "seq"),
    (4, "u1", "instrument"),
    (5, "u1", "type"),
    (6, "<u2", "status"),
    (8, "<u4", "bid_px"),
    (12, "<u4", "bid_qty"),
    (16, "<u4", "ask_px"),
    (20, "<u4", "ask_qty"),
    (24, "<u8", "depth_bid"),
    (32, "<u8", "depth_ask"),
    (40, "<i2", "imb_l1"),
    (42, "<i2", "imb_depth"),
    (44, "u1", "levels_bid"),
    (45, "u1", "levels_ask"),
    (46, "u1", "ice_refills_bid"),
    (47, "u1", "ice_refills_ask"),
    (48, "<i8", "ofi"),
    (56, "<i8", "ofi_event"),
    (64, "<u8", "buy_flow"),
    (72, "<u8", "sell_flow"),
    (80, "<u8", "ice_absorbed_bid"),
    (88, "<u8", "ice_absorbed_ask"),
    (96, "<u4", "ice_px_bid"),
    (100, "<u4", "ice_px_ask"),
    (104, "<u8", "recv_ts_ns"),
    (112, "<u8", "engine_t_in"),
    (120, "<u8", "engine_t_out"),
]
PARAM_ORDER = ["K", "N", "ofi_shift", "flow_shift", "ice_min_refills", "ice_absorb_ratio"]


# --- dtypes ---------------------------------------------------------------------------


def test_sizes():
    assert MSG_DTYPE.itemsize == 32
    assert REC_DTYPE.itemsize == 128
    assert HEADER_DTYPE.itemsize == HEADER_SIZE == 64
    assert CONTRACT_BYTES == 112


@pytest.mark.parametrize(("dtype", "table"), [(MSG_DTYPE, MSG_TABLE), (REC_DTYPE, REC_TABLE)])
def test_field_offsets_and_types(dtype, table):
    assert list(dtype.names) == [name for _, _, name in table]
    for offset, typ, name in table:
        ftype, foffset = dtype.fields[name][:2]
        assert foffset == offset, name
        assert ftype == np.dtype(typ), name


def test_message_bytes_are_little_endian():
    m = messages([(2, 1, 3, 7, 0x01020304, 0x0A0B0C0D, 0x11223344, 0x55, 0x66)])
    raw = m.tobytes()
    assert raw == bytes([2, 1, 3, 7]) + struct.pack(
        "<IIIQQ", 0x01020304, 0x0A0B0C0D, 0x11223344, 0x55, 0x66
    )


def test_record_bytes_are_little_endian():
    r = np.zeros(1, REC_DTYPE)
    r["status"] = 0x0102
    r["imb_l1"] = -2
    r["ofi"] = -3
    raw = r.tobytes()
    assert raw[6:8] == b"\x02\x01"
    assert raw[40:42] == struct.pack("<h", -2)
    assert raw[48:56] == struct.pack("<q", -3)


def test_enums_follow_the_spec():
    assert [int(t) for t in (MsgType.SET, MsgType.TRADE, MsgType.CLEAR, MsgType.HEARTBEAT)] == [
        1,
        2,
        3,
        4,
    ]
    assert (int(Side.BID), int(Side.ASK), int(Side.BOTH)) == (0, 1, 2)
    assert (int(Flag.END), int(Flag.SNAPSHOT)) == (1, 2)
    bits = [
        Status.GAP,
        Status.CROSSED,
        Status.BID_EMPTY,
        Status.ASK_EMPTY,
        Status.ICEBERG_BID,
        Status.ICEBERG_ASK,
        Status.BAD_MSG,
        Status.END,
        Status.SNAPSHOT,
        Status.DROPPED,
    ]
    assert [int(b) for b in bits] == [1 << i for i in range(10)]


# --- parameters -----------------------------------------------------------------------


def test_param_defaults_and_ranges_follow_the_spec():
    assert Params() == Params(
        K=32, N=4, ofi_shift=6, flow_shift=4, ice_min_refills=3, ice_absorb_ratio=2
    )
    assert PARAM_RANGES == {
        "K": (32, 4, 64),
        "N": (4, 1, 256),
        "ofi_shift": (6, 1, 16),
        "flow_shift": (4, 1, 16),
        "ice_min_refills": (3, 1, 255),
        "ice_absorb_ratio": (2, 1, 16),
    }


SPEC_RANGES = {
    "K": (4, 64),
    "N": (1, 256),
    "ofi_shift": (1, 16),
    "flow_shift": (1, 16),
    "ice_min_refills": (1, 255),
    "ice_absorb_ratio": (1, 16),
}


@pytest.mark.parametrize("name", SPEC_RANGES)
def test_param_range_limits(name):
    low, high = SPEC_RANGES[name]
    assert getattr(Params(**{name: low}), name) == low
    assert getattr(Params(**{name: high}), name) == high
    for bad in (low - 1, high + 1, -1, 10**6):
        with pytest.raises(WireError, match=name):
            Params(**{name: bad})


@pytest.mark.parametrize("bad", [4.0, "4", None, True])
def test_param_must_be_integer(bad):
    with pytest.raises(WireError, match="K"):
        Params(K=bad)


def test_param_numpy_integer_accepted():
    assert Params(K=np.int64(8)).K == 8


def test_params_as_dict():
    p = Params(K=5, N=6, ofi_shift=7, flow_shift=8, ice_min_refills=9, ice_absorb_ratio=10)
    assert p.as_dict() == dict(zip(PARAM_ORDER, range(5, 11), strict=True))


# --- header ---------------------------------------------------------------------------


def _header(magic=b"HEANHL2\0", version=1, size=64, params=(32, 4, 6, 4, 3, 2), tail=b""):
    raw = struct.pack("<8sHH6H", magic, version, size, *params)
    return raw + tail + bytes(64 - len(raw) - len(tail))


@pytest.mark.parametrize(
    ("kind", "magic"), [(FileKind.HL2, b"HEANHL2\0"), (FileKind.HLF, b"HEANHLF\0")]
)
def test_encode_header_bytes(kind, magic):
    p = Params(K=5, N=200, ofi_shift=16, flow_shift=1, ice_min_refills=255, ice_absorb_ratio=7)
    raw = encode_header(kind, p)
    assert raw == _header(magic, 1, 64, (5, 200, 16, 1, 255, 7))
    assert len(raw) == 64
    assert raw[8:10] == b"\x01\x00" and raw[10:12] == b"\x40\x00"
    assert raw[24:] == bytes(40)
    assert VERSION == 1


@pytest.mark.parametrize("kind", list(FileKind))
def test_header_round_trip(kind):
    p = Params(K=64, N=1, ofi_shift=1, flow_shift=16, ice_min_refills=1, ice_absorb_ratio=16)
    assert decode_header(encode_header(kind, p)) == (kind, p)


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (_header(magic=b"HEANHL3\0"), "magic"),
        (_header(magic=b"heanhl2\0"), "magic"),
        (_header(version=2), "version"),
        (_header(version=0), "version"),
        (_header(size=128), "header size"),
        (_header(size=32), "header size"),
        (_header(tail=b"\x01"), "reserved"),
        (_header()[:63] + b"\x01", "reserved"),
        (_header(params=(3, 4, 6, 4, 3, 2)), "K"),
        (_header(params=(32, 0, 6, 4, 3, 2)), "N"),
        (_header(params=(32, 4, 6, 4, 3, 17)), "ice_absorb_ratio"),
        (_header()[:63], "shorter"),
    ],
)
def test_decode_header_refuses(raw, match):
    with pytest.raises(WireError, match=match):
        decode_header(raw, "thing.hl2")


# --- files ----------------------------------------------------------------------------


def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("data", "kw", "match"),
    [
        (_header(magic=b"XXXXXXX\0"), {}, "magic"),
        (_header(version=2), {}, "version"),
        (_header(size=65), {}, "header size"),
        (_header(tail=b"\0\0\0\x07"), {}, "reserved"),
        (_header() + bytes(31), {}, "truncated"),
        (_header() + bytes(33), {}, "truncated"),
        (_header(magic=b"HEANHLF\0") + bytes(127), {}, "truncated"),
        (_header(magic=b"HEANHLF\0") + bytes(160), {}, "truncated"),  # 160 = 128 + 32
        (_header(), {"expect": FileKind.HLF}, "hlf"),
        (_header(magic=b"HEANHLF\0"), {"expect": FileKind.HL2}, "hl2"),
        (b"HEANHL2\0", {}, "shorter"),
        (b"", {}, "shorter"),
    ],
)
def test_open_file_refuses(tmp_path, data, kw, match):
    path = _write(tmp_path, "bad-file.bin", data)
    with pytest.raises(WireError, match=match) as info:
        open_file(path, **kw)
    assert str(path) in str(info.value)


def test_open_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        open_file(tmp_path / "nope.hl2")


@pytest.mark.parametrize("kind", list(FileKind))
def test_header_only_file_is_empty(tmp_path, kind):
    p = Params(K=4, N=2)
    path = tmp_path / "empty.bin"
    write_file(path, kind, p, np.zeros(0, kind.dtype))
    assert path.stat().st_size == 64
    f = open_file(path, expect=kind)
    assert (f.kind, f.params, len(f), f.items.dtype) == (kind, p, 0, kind.dtype)
    assert list(f.chunks(10)) == []


def test_message_file_round_trip(tmp_path):
    p = Params(K=8, N=3)
    m = messages([(1, 0, 1, 2, 5, 100, 7, 11, 12), (2, 1, 0, 0, 6, 101, 1), (4, 0, 2, 1, 9, 0, 0)])
    path = tmp_path / "x.hl2"
    write_file(path, FileKind.HL2, p, m)
    assert path.stat().st_size == 64 + 3 * 32
    raw = path.read_bytes()
    assert raw[:64] == encode_header(FileKind.HL2, p)
    assert raw[64:] == m.tobytes()
    f = open_file(path, expect=FileKind.HL2)
    assert f.params == p and f.kind is FileKind.HL2
    assert f.items.tobytes() == m.tobytes()
    assert [len(c) for c in f.chunks(2)] == [2, 1]


def test_record_file_round_trip(tmp_path):
    r = np.zeros(2, REC_DTYPE)
    r["seq"] = [1, 2]
    r["ofi"] = [-5, 5]
    path = tmp_path / "x.hlf"
    write_file(path, FileKind.HLF, Params(), r)
    f = open_file(path)
    assert f.kind is FileKind.HLF and f.items.tobytes() == r.tobytes()


def test_writer_refuses_wrong_dtype(tmp_path):
    with pytest.raises(WireError):
        write_file(tmp_path / "x.hlf", FileKind.HLF, Params(), messages([(4,)]))


# --- messages() -----------------------------------------------------------------------


def test_messages_from_rows():
    m = messages([(1, 0, 1, 3, 10, 100, 5), (2, 1, 2, 0, 11, 101, 6, 7, 8)])
    assert m.dtype == MSG_DTYPE and len(m) == 2
    assert [int(x) for x in m[0].tolist()] == [1, 0, 1, 3, 10, 100, 5, 0, 0]
    assert [int(x) for x in m[1].tolist()] == [2, 1, 2, 0, 11, 101, 6, 7, 8]


def test_messages_from_short_rows_and_empty():
    m = messages([(4,)])
    assert m[0].tolist() == (4, 0, 0, 0, 0, 0, 0, 0, 0)
    assert len(messages([])) == 0


def test_messages_row_too_long():
    with pytest.raises(WireError):
        messages([(1, 0, 0, 0, 1, 100, 5, 0, 0, 99)])


def test_messages_from_columns():
    m = messages(type=[1, 1, 2], price=[100, 101, 102], qty=5, seq=np.arange(3))
    assert len(m) == 3
    assert m["price"].tolist() == [100, 101, 102]
    assert m["qty"].tolist() == [5, 5, 5]
    assert m["seq"].tolist() == [0, 1, 2]
    assert m["side"].tolist() == [0, 0, 0]
    assert m["recv_ts_ns"].tolist() == [0, 0, 0]


def test_messages_scalar_columns_give_one():
    m = messages(type=4, seq=9)
    assert len(m) == 1 and int(m[0]["seq"]) == 9


def test_messages_column_errors():
    with pytest.raises(WireError, match="unknown"):
        messages(type=[1], colour=[2])
    with pytest.raises(WireError, match="lengths"):
        messages(type=[1, 2], price=[1, 2, 3])


def test_rec_struct_reads_what_item_reads() -> None:
    from hean.wire import REC_STRUCT, struct_of

    rng = np.random.default_rng(3)
    recs = np.frombuffer(rng.integers(0, 256, 128 * 50, dtype=np.uint8).tobytes(), REC_DTYPE)
    raw = recs.tobytes()
    for k in range(len(recs)):
        assert REC_STRUCT.unpack_from(raw, 128 * k) == recs[k].item()
    assert struct_of(MSG_DTYPE).size == MSG_DTYPE.itemsize
    with pytest.raises(ValueError, match="packed integer"):
        struct_of(np.dtype([("a", "<u4"), ("b", "<f8")]))
