"""The config file: every part's settings, checked with the bad key named."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from hean.config import ConfigError, HeanConfig, from_dict, load
from hean.execution.iceberg import IcebergMode


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "hean.toml"
    p.write_text(text)
    return p


def test_an_empty_file_gives_every_default(tmp_path: Path) -> None:
    assert load(write(tmp_path, "")) == HeanConfig()
    c = HeanConfig()
    assert c.risk.kill_switch == 0.20 and c.fees.taker == Decimal("0.00055")


def test_values_reach_their_parts(tmp_path: Path) -> None:
    c = load(
        write(
            tmp_path,
            """
[impulse]
imbalance = 0.35
cooldown_ns = 2_000_000_000
[risk]
kill_switch = 0.15
[execution]
urgency = 0.6
slicer = "vwap"
[execution.twap]
slices = 12
[execution.iceberg]
mode = "step"
[router.limit]
per_s = 5
[fees]
maker = "0.0001"
taker = "0.0005"
[account]
starting_equity = 25000
""",
        )
    )
    assert c.impulse.imbalance == 0.35 and c.impulse.cooldown_ns == 2_000_000_000
    assert c.risk.kill_switch == 0.15 and c.risk.hourly_loss == 0.15
    assert c.execution.urgency == 0.6 and c.execution.slicer == "vwap"
    assert c.execution.twap.slices == 12 and c.execution.twap.jitter == 0.2
    assert c.execution.iceberg.mode is IcebergMode("step")
    assert c.router.limit.per_s == 5.0 and c.router.limit.burst == 8
    assert c.fees.maker == Decimal("0.0001") and c.account.starting_equity == 25_000.0


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        ({"risk": {"kill_swich": 0.2}}, "unknown key risk.kill_swich"),
        ({"riks": {}}, "unknown key riks"),
        ({"risk": {"kill_switch": "0.2"}}, "risk.kill_switch: expected a number, got string"),
        ({"risk": {"kill_switch": 1.5}}, "risk.kill_switch is a fraction below 1, got 1.5"),
        ({"impulse": {"cooldown_ns": 1.5}}, "impulse.cooldown_ns: expected an integer"),
        ({"impulse": {"physics_filter": 1}}, "impulse.physics_filter: expected true or false"),
        ({"execution": {"twap": {"slices": 0}}}, "execution.twap: TWAP"),
        ({"execution": {"twap": 3}}, "execution.twap: expected a table"),
        ({"execution": {"iceberg": {"mode": "dodge"}}}, "execution.iceberg.mode: string"),
        ({"fees": {"maker": 0.0002}}, "fees.maker: write the rate as a string"),
        ({"fees": {"taker": "lots"}}, "fees.taker: expected a decimal string"),
        ({"fees": {"taker": "0.5"}}, "fees: taker rate 0.5 is outside"),
        ({"account": {"starting_equity": -1}}, "account: must be > 0"),
        ({"risk": []}, "risk: expected a table"),
    ],
)
def test_bad_values_name_their_key(tables: dict, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        from_dict(tables)
    assert message in str(e.value)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(write(tmp_path, "[risk\n"))
    with pytest.raises(ConfigError, match=r"hean\.toml: unknown key risk\.x"):
        load(write(tmp_path, "[risk]\nx = 1\n"))
