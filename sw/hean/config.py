"""The HEAN config file: one TOML document for strategy, risk, execution and fees.

Every table maps onto the settings dataclass of its part, and every key onto one of its
fields, so the defaults stay where the code is and this module adds no numbers of its
own. A key is checked on load: an unknown key, a value of the wrong type and a value
the part itself refuses are each a :class:`ConfigError` that names the key, e.g.
``risk.kill_switch: must be a fraction below 1, got 1.5``.

Example::

    [impulse]
    imbalance = 0.35

    [risk]
    kill_switch = 0.15

    [execution]
    urgency = 0.6
    [execution.twap]
    slices = 12

    [fees]
    maker = "0.0001"
    taker = "0.0005"
"""

from __future__ import annotations

import dataclasses
import enum
import tomllib
import types
import typing
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from hean.backtest.settings import BacktestConfig, LatencyConfig
from hean.exchange.base import BYBIT_VIP0
from hean.execution.executor import ExecutionConfig
from hean.execution.router import RouterConfig
from hean.micro.flash_crash import FlashCrashConfig
from hean.physics import PhysicsConfig
from hean.risk.config import RiskConfig
from hean.risk.sizer import SizerConfig
from hean.strategy.exits import ExitConfig
from hean.strategy.impulse import ImpulseConfig


class ConfigError(ValueError):
    """A bad config file or value; the message names the file and the key."""


@dataclass(frozen=True)
class FeesConfig:
    """Fee rates as fractions of notional (strings in the file keep them exact).

    These are the rates a backtest and the paper exchange charge; live, the account's
    own rates are read from the exchange.
    """

    maker: Decimal = BYBIT_VIP0.maker
    taker: Decimal = BYBIT_VIP0.taker

    def __post_init__(self) -> None:
        if not (Decimal("-0.01") <= self.maker <= Decimal("0.01")):
            raise ValueError(f"maker rate {self.maker} is outside [-0.01, 0.01]")
        if not (Decimal(0) <= self.taker <= Decimal("0.01")):
            raise ValueError(f"taker rate {self.taker} is outside [0, 0.01]")


@dataclass(frozen=True)
class AccountConfig:
    """The simulated account: cash at the start (quote currency)."""

    starting_equity: float = 100_000.0

    def __post_init__(self) -> None:
        if not self.starting_equity > 0:
            raise ValueError(f"must be > 0, got {self.starting_equity}")


@dataclass(frozen=True)
class HeanConfig:
    """Every part's settings; each table of the file is one of these fields."""

    impulse: ImpulseConfig = field(default_factory=ImpulseConfig)
    exits: ExitConfig = field(default_factory=ExitConfig)
    physics: PhysicsConfig = field(default_factory=PhysicsConfig)
    flash_crash: FlashCrashConfig = field(default_factory=FlashCrashConfig)
    risk: RiskConfig = field(default_factory=RiskConfig)
    sizer: SizerConfig = field(default_factory=SizerConfig)
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
    router: RouterConfig = field(default_factory=RouterConfig)
    fees: FeesConfig = field(default_factory=FeesConfig)
    account: AccountConfig = field(default_factory=AccountConfig)
    latency: LatencyConfig = field(default_factory=LatencyConfig)
    backtest: BacktestConfig = field(default_factory=BacktestConfig)


def load(path: str | Path) -> HeanConfig:
    """Read and check a config file.

    Raises
    ------
    ConfigError
        For a missing or unreadable file, bad TOML, or any bad key or value (named).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{p}: cannot read it ({e.strerror or e})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: not valid TOML: {e}") from None
    try:
        return from_dict(data)
    except ConfigError as e:
        raise ConfigError(f"{p}: {e}") from None


def from_dict(data: dict[str, Any]) -> HeanConfig:
    """Build the config from parsed TOML tables (missing tables and keys: defaults)."""
    return _build(HeanConfig, data, "")


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'the file'}: expected a table, got {_shown(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        known = ", ".join(sorted(fields))
        raise ConfigError(f"unknown key {_key(where, unknown[0])} (known here: {known})")
    values = {name: _value(hints[name], raw, _key(where, name)) for name, raw in data.items()}
    try:
        return cls(**values)
    except (ValueError, TypeError) as e:
        # the part's own check: its message, prefixed with the table it came from
        message = str(e)
        named = not where or message.startswith(f"{where}.")  # it names its key already
        raise ConfigError(message if named else f"{where}: {message}") from None


def _value(hint: Any, raw: Any, key: str) -> Any:
    if dataclasses.is_dataclass(hint):
        return _build(hint, raw, key)
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:  # Optional[X]: TOML has no null, so the value is an X
            return _value(args[0], raw, key)
    if hint is bool:
        if isinstance(raw, bool):
            return raw
    elif hint is int:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
    elif hint is float:
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return float(raw)
    elif hint is str:
        if isinstance(raw, str):
            return raw
    elif hint is Decimal:
        if isinstance(raw, str | int) and not isinstance(raw, bool):
            try:
                return Decimal(raw)
            except InvalidOperation:
                pass
        elif isinstance(raw, float):
            raise ConfigError(f'{key}: write the rate as a string ("{raw}") to keep it exact')
    elif isinstance(hint, type) and issubclass(hint, enum.Enum):
        choices = [m.value for m in hint]
        if raw in choices:
            return hint(raw)
        raise ConfigError(f"{key}: {_shown(raw)} is not one of {choices}")
    else:
        raise ConfigError(f"{key}: settings of type {hint} cannot be given in the file")
    name = getattr(hint, "__name__", str(hint))
    raise ConfigError(f"{key}: expected {_a(name)}, got {_shown(raw)}")


def _key(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _a(name: str) -> str:
    return {"int": "an integer", "float": "a number", "bool": "true or false",
            "str": "a string", "Decimal": "a decimal string"}.get(name, name)  # fmt: skip


def _shown(raw: Any) -> str:
    kind = {bool: "boolean", int: "integer", float: "number", str: "string",
            list: "array", dict: "table"}.get(type(raw), type(raw).__name__)  # fmt: skip
    return f"{kind} {raw!r}"
