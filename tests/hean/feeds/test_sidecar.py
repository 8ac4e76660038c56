"""The instrument sidecar: round trip, defaults and every malformed case."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from hean.feeds.sidecar import (
    DEFAULT_LOT,
    DEFAULT_TICK,
    Instrument,
    Sidecar,
    SidecarError,
    default_instrument,
    read_sidecar,
    sidecar_path,
    write_sidecar,
)

BTC = Instrument(0, "BTCUSDT", "0.1", "0.001")
ETH = Instrument(1, "ETHUSDT", "0.01", "0.01")


def test_sidecar_path_appends_json() -> None:
    assert sidecar_path("data/x.hl2") == Path("data/x.hl2.json")
    assert sidecar_path(Path("/tmp/a.b.hl2")) == Path("/tmp/a.b.hl2.json")


def test_round_trip(tmp_path: Path) -> None:
    sidecar = Sidecar((BTC, ETH), source="recorder bybit")
    hl2 = tmp_path / "s.hl2"
    written = write_sidecar(hl2, sidecar)
    assert written == tmp_path / "s.hl2.json"
    doc = json.loads(written.read_text())
    assert doc == {
        "instruments": [
            {"id": 0, "symbol": "BTCUSDT", "tick": "0.1", "lot": "0.001"},
            {"id": 1, "symbol": "ETHUSDT", "tick": "0.01", "lot": "0.01"},
        ],
        "source": "recorder bybit",
    }
    assert read_sidecar(hl2) == sidecar


def test_read_without_sidecar_is_none(tmp_path: Path) -> None:
    assert read_sidecar(tmp_path / "nothing.hl2") is None


def test_source_is_optional(tmp_path: Path) -> None:
    sidecar_path(tmp_path / "a.hl2").write_text('{"instruments": []}')
    assert read_sidecar(tmp_path / "a.hl2") == Sidecar(())


def test_decimals_are_exact() -> None:
    assert BTC.tick_decimal == Decimal("0.1")
    assert BTC.lot_decimal == Decimal("0.001")
    assert 970001 * BTC.tick_decimal == Decimal("97000.1")


def test_defaults() -> None:
    inst = default_instrument(7)
    assert inst == Instrument(7, "INST7", DEFAULT_TICK, DEFAULT_LOT)
    assert inst.tick_decimal == 1 and inst.lot_decimal == 1


def test_by_id_falls_back_to_default() -> None:
    sidecar = Sidecar((ETH,))
    assert sidecar.by_id(1) is ETH
    assert sidecar.by_id(0) == default_instrument(0)


def test_list_of_instruments_becomes_tuple() -> None:
    assert Sidecar([BTC, ETH]).instruments == (BTC, ETH)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"id": -1}, "id -1"),
        ({"id": 256}, "id 256"),
        ({"id": True}, "id must be an integer"),
        ({"id": "0"}, "id must be an integer"),
        ({"symbol": ""}, "symbol"),
        ({"symbol": "  "}, "symbol"),
        ({"symbol": None}, "symbol"),
        ({"tick": "abc"}, "tick"),
        ({"tick": "0"}, "tick"),
        ({"tick": "-0.1"}, "tick"),
        ({"tick": "NaN"}, "tick"),
        ({"tick": "Infinity"}, "tick"),
        ({"tick": 0.1}, "tick must be a decimal string"),
        ({"lot": ""}, "lot"),
        ({"lot": "0.000"}, "lot"),
        ({"lot": 1}, "lot must be a decimal string"),
    ],
)
def test_bad_instrument(kwargs: dict[str, object], words: str) -> None:
    fields: dict[str, object] = {"id": 3, "symbol": "SOLUSDT", "tick": "0.01", "lot": "0.1"}
    fields.update(kwargs)
    with pytest.raises(SidecarError, match=words):
        Instrument(**fields)  # type: ignore[arg-type]


def test_bad_field_is_named_with_instrument() -> None:
    with pytest.raises(SidecarError, match=r"instrument 3: lot '0' must be a finite number > 0"):
        Instrument(3, "SOLUSDT", "0.01", "0")


def test_duplicate_ids() -> None:
    with pytest.raises(SidecarError, match="id 0 appears more than once"):
        Sidecar((BTC, Instrument(0, "ETHUSDT", "0.01", "0.01")))


def test_entries_must_be_instruments() -> None:
    with pytest.raises(SidecarError, match="Instrument objects"):
        Sidecar(({"id": 0},))  # type: ignore[arg-type]


def _good_entry(**changes: object) -> dict[str, object]:
    entry: dict[str, object] = {"id": 0, "symbol": "BTCUSDT", "tick": "0.1", "lot": "0.001"}
    entry.update(changes)
    return entry


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{not json", "not valid JSON"),
        ("", "not valid JSON"),
        ("[]", "top level must be a JSON object"),
        ('{"source": "x"}', "missing key 'instruments'"),
        ('{"instruments": {}}', "'instruments' must be a list"),
        ('{"instruments": [], "source": 5}', "'source' must be a string"),
        ('{"instruments": [1]}', r"instruments\[0\] must be an object"),
        (json.dumps({"instruments": [{"id": 0, "symbol": "B"}]}), "missing key.*tick, lot"),
        (json.dumps({"instruments": [_good_entry(tick="0.0")]}), r"instruments\[0\].*tick"),
        (json.dumps({"instruments": [_good_entry(lot=0.001)]}), r"instruments\[0\].*lot"),
        (json.dumps({"instruments": [_good_entry(id=300)]}), r"instruments\[0\].*id 300"),
        (json.dumps({"instruments": [_good_entry(symbol="")]}), r"instruments\[0\].*symbol"),
        (
            json.dumps({"instruments": [_good_entry(), _good_entry(symbol="X")]}),
            "id 0 appears more than once",
        ),
    ],
)
def test_malformed_file(tmp_path: Path, text: str, words: str) -> None:
    hl2 = tmp_path / "bad.hl2"
    sidecar_path(hl2).write_text(text)
    with pytest.raises(SidecarError, match=words) as info:
        read_sidecar(hl2)
    assert "bad.hl2.json" in str(info.value)


def test_not_utf8(tmp_path: Path) -> None:
    hl2 = tmp_path / "bin.hl2"
    sidecar_path(hl2).write_bytes(b"\xff\xfe{}")
    with pytest.raises(SidecarError, match=r"bin\.hl2\.json.*UTF-8"):
        read_sidecar(hl2)
