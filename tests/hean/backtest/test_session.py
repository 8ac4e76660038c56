"""Loading a session: instruments from the sidecar, defaults and warnings without one."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from hean.backtest.session import load_session
from hean.feeds.sidecar import sidecar_path
from hean.feeds.synth import SynthConfig, write_session
from hean.wire import FileKind, Params, messages, write_file


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sess") / "s.hl2"
    write_session(path, SynthConfig(instruments=3, messages=3_000, seed=1))
    return path


def test_the_sidecar_gives_symbols_and_steps(data) -> None:
    s = load_session(data)
    assert sorted(s.instruments) == [0, 1, 2] and s.warnings == ()
    assert s.instruments[0].symbol == "BTCUSDT" and s.instruments[0].tick == Decimal("0.1")
    assert len(s.messages) == 3_000


def test_instruments_at_or_above_n_are_not_traded(data) -> None:
    assert sorted(load_session(data, max_instruments=2).instruments) == [0, 1]


def test_without_a_sidecar_defaults_and_a_warning(data, tmp_path) -> None:
    bare = tmp_path / "bare.hl2"
    bare.write_bytes(data.read_bytes())
    s = load_session(bare)
    assert len(s.warnings) == 1 and "no sidecar" in s.warnings[0]
    assert s.instruments[1].symbol == "INST1" and s.instruments[1].lot == Decimal(1)


def test_an_instrument_the_sidecar_does_not_list(data, tmp_path) -> None:
    part = tmp_path / "part.hl2"
    part.write_bytes(data.read_bytes())
    doc = json.loads(sidecar_path(data).read_text())
    doc["instruments"] = doc["instruments"][:2]
    sidecar_path(part).write_text(json.dumps(doc))
    s = load_session(part)
    assert "instrument(s) 2" in s.warnings[0] and s.instruments[2].symbol == "INST2"


def test_a_file_with_nothing_to_trade(tmp_path) -> None:
    path = tmp_path / "e.hl2"
    write_file(path, FileKind.HL2, Params(), messages([]))
    with pytest.raises(ValueError, match="nothing to trade"):
        load_session(path)
