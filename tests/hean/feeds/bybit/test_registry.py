"""The instrument registry: overrides, the cache, and fetching from instruments-info."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hean.feeds.bybit import registry as rg
from hean.feeds.sidecar import Instrument


def info(symbol: str, tick: str, step: str) -> dict:
    """A Bybit V5 instruments-info answer for one linear symbol (shape of the API docs)."""
    return {
        "retCode": 0,
        "retMsg": "OK",
        "result": {
            "category": "linear",
            "list": [
                {
                    "symbol": symbol,
                    "contractType": "LinearPerpetual",
                    "status": "Trading",
                    "priceFilter": {"minPrice": "0.10", "maxPrice": "199999.80", "tickSize": tick},
                    "lotSizeFilter": {
                        "maxOrderQty": "100.000",
                        "minOrderQty": "0.001",
                        "qtyStep": step,
                    },
                }
            ],
            "nextPageCursor": "",
        },
        "retExtInfo": {},
        "time": 1733011200000,
    }


class FakeHTTP:
    """pybit's HTTP.get_instruments_info, answering from a table."""

    def __init__(self, table: dict[str, tuple[str, str]], fail: Exception | None = None):
        self.table, self.fail, self.calls = table, fail, []

    def get_instruments_info(self, **kwargs):
        self.calls.append(kwargs)
        if self.fail is not None:
            raise self.fail
        sym = kwargs["symbol"]
        if sym not in self.table:
            return {"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": []}}
        return info(sym, *self.table[sym])


def test_parse_override() -> None:
    assert rg.parse_override("BTCUSDT=0:0.1:0.001") == Instrument(0, "BTCUSDT", "0.1", "0.001")
    for bad in ("BTCUSDT", "BTCUSDT=0:0.1", "=0:1:1", "X=a:1:1", "X=256:1:1", "X=1:0:1",
                "X=1:1:-1", "X=1:1:1:1"):  # fmt: skip
        with pytest.raises(rg.RegistryError):
            rg.parse_override(bad)


def test_fetch_assigns_stable_ids_and_caches(tmp_path: Path) -> None:
    http = FakeHTTP({"BTCUSDT": ("0.10", "0.001"), "ETHUSDT": ("0.01", "0.01"),
                     "XRPUSDT": ("0.0001", "1")})  # fmt: skip
    first = rg.fetch(["BTCUSDT", "ETHUSDT"], http=http)
    assert [(i.symbol, i.id, i.tick, i.lot) for i in first.instruments] == [
        ("BTCUSDT", 0, "0.10", "0.001"), ("ETHUSDT", 1, "0.01", "0.01")]  # fmt: skip
    assert http.calls[0] == {"category": "linear", "symbol": "BTCUSDT"}
    path = tmp_path / "reg.json"
    first.save(path)
    loaded = rg.load(path)
    assert loaded.instruments == first.instruments
    # a later fetch keeps the ids it has and gives new symbols the lowest free one
    again = rg.fetch(["XRPUSDT", "ETHUSDT"], http=http, existing=loaded.select(["ETHUSDT"]))
    assert {i.symbol: i.id for i in again.instruments} == {"ETHUSDT": 1, "XRPUSDT": 0}
    assert json.loads(path.read_text())["instruments"][0]["symbol"] == "BTCUSDT"


def test_fetch_errors_are_clear() -> None:
    with pytest.raises(rg.RegistryError, match="no linear instrument NOPEUSDT"):
        rg.fetch(["NOPEUSDT"], http=FakeHTTP({}))
    with pytest.raises(rg.RegistryError, match="instruments-info failed: down"):
        rg.fetch(["BTCUSDT"], http=FakeHTTP({}, fail=ConnectionError("down")))

    class Err(FakeHTTP):
        def get_instruments_info(self, **kwargs):
            return {"retCode": 10001, "retMsg": "params error"}

    with pytest.raises(rg.RegistryError, match="10001"):
        rg.fetch(["BTCUSDT"], http=Err({}))


def test_get_select_and_overrides() -> None:
    reg = rg.Registry((Instrument(0, "BTCUSDT", "0.1", "0.001"), Instrument(1, "ETHUSDT", "0.01",
                                                                            "0.01")))  # fmt: skip
    with pytest.raises(rg.RegistryError, match="DOGEUSDT is not in the instrument registry"):
        reg.get("DOGEUSDT")
    assert [i.symbol for i in reg.select(["ETHUSDT", "BTCUSDT"]).instruments] == [
        "ETHUSDT", "BTCUSDT"]  # fmt: skip
    over = reg.with_overrides([Instrument(5, "BTCUSDT", "0.5", "1")])
    assert over.get("BTCUSDT") == Instrument(5, "BTCUSDT", "0.5", "1")
    with pytest.raises(rg.RegistryError, match="already ETHUSDT's"):
        reg.with_overrides([Instrument(1, "XRPUSDT", "1", "1")])
    with pytest.raises(rg.RegistryError):
        rg.Registry((Instrument(0, "A", "1", "1"), Instrument(0, "B", "1", "1")))
    with pytest.raises(rg.RegistryError):
        rg.Registry((Instrument(0, "A", "1", "1"), Instrument(1, "A", "1", "1")))


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(rg.RegistryError, match="hean registry fetch"):
        rg.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(rg.RegistryError, match="not a JSON registry"):
        rg.load(bad)
    bad.write_text('{"instruments": [{"id": 0, "symbol": "X", "tick": "0"}]}')
    with pytest.raises(rg.RegistryError, match="missing key"):
        rg.load(bad)


def test_default_cache_follows_the_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HEAN_REGISTRY", str(tmp_path / "r.json"))
    assert rg.default_cache() == tmp_path / "r.json"
    monkeypatch.delenv("HEAN_REGISTRY")
    assert rg.default_cache().name == "bybit-linear-instruments.json"
