"""The Bybit instrument registry: symbol -> HL2 instrument id, tickSize, qtyStep.

Bybit's ``GET /v5/market/instruments-info`` (pybit ``HTTP.get_instruments_info``) says
each symbol's ``priceFilter.tickSize`` and ``lotSizeFilter.qtyStep``; HL2 ids are ours.
The registry is cached as a JSON file in the sidecar's format, so conversion and replay
work offline, and ids stay stable: a symbol keeps its id across fetches, a new symbol
gets the lowest free one. Any entry can be overridden on the command line with
``SYMBOL=ID:TICK:STEP``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hean.feeds.sidecar import MAX_ID, Instrument, Sidecar, SidecarError, parse_document

#: Where the registry is cached unless ``--registry`` or ``$HEAN_REGISTRY`` says otherwise.
DEFAULT_CACHE = Path("~/.cache/hean/bybit-linear-instruments.json")
CATEGORY = "linear"


class RegistryError(ValueError):
    """A registry that cannot be read, fetched or used; the text says what to do."""


def default_cache() -> Path:
    """``$HEAN_REGISTRY`` if set, else :data:`DEFAULT_CACHE` (``~`` expanded)."""
    return Path(os.environ.get("HEAN_REGISTRY") or DEFAULT_CACHE).expanduser()


def parse_override(text: str) -> Instrument:
    """Parse ``SYMBOL=ID:TICK:STEP`` (``BTCUSDT=0:0.1:0.001``) into an instrument.

    Raises
    ------
    RegistryError
        If the text is not of that form or a value is out of range.
    """
    symbol, eq, rest = text.partition("=")
    parts = rest.split(":")
    if not eq or not symbol or len(parts) != 3:
        raise RegistryError(f"{text!r}: expected SYMBOL=ID:TICK:STEP, e.g. BTCUSDT=0:0.1:0.001")
    ident, tick, lot = parts
    if not ident.isdigit():
        raise RegistryError(f"{text!r}: the id must be an integer 0..{MAX_ID}")
    try:
        return Instrument(id=int(ident), symbol=symbol, tick=tick, lot=lot)
    except SidecarError as exc:
        raise RegistryError(f"{text!r}: {exc}") from None


@dataclass(frozen=True)
class Registry:
    """Instruments by symbol, with the HL2 id each one has.

    Parameters
    ----------
    instruments : tuple of Instrument
        Symbols and ids unique.
    source : str
        Where the entries came from (shown by ``hean registry show``).
    """

    instruments: tuple[Instrument, ...]
    source: str = ""

    def __post_init__(self) -> None:
        instruments = tuple(self.instruments)
        object.__setattr__(self, "instruments", instruments)
        symbols = [i.symbol for i in instruments]
        if len(set(symbols)) != len(symbols):
            raise RegistryError("a symbol appears more than once in the registry")
        try:
            Sidecar(instruments)  # the sidecar's rules: ids unique and in range
        except SidecarError as exc:
            raise RegistryError(str(exc)) from None

    def get(self, symbol: str) -> Instrument:
        """The instrument of ``symbol``.

        Raises
        ------
        RegistryError
            If the registry has no such symbol; the text lists what it has.
        """
        for inst in self.instruments:
            if inst.symbol == symbol:
                return inst
        known = ", ".join(i.symbol for i in self.instruments) or "none"
        raise RegistryError(
            f"{symbol} is not in the instrument registry (it has: {known}); run "
            f"`hean registry fetch --symbols {symbol}` or pass --instrument {symbol}=ID:TICK:STEP"
        )

    def select(self, symbols: Iterable[str]) -> Registry:
        """The registry restricted to ``symbols``, in that order."""
        return Registry(tuple(self.get(s) for s in symbols), self.source)

    def with_overrides(self, overrides: Iterable[Instrument]) -> Registry:
        """Replace (or add) entries; an override may not take another symbol's id."""
        merged = {i.symbol: i for i in self.instruments}
        for o in overrides:
            merged[o.symbol] = o
        for o in overrides:
            clash = [i.symbol for i in merged.values() if i.id == o.id and i.symbol != o.symbol]
            if clash:
                raise RegistryError(f"--instrument {o.symbol}: id {o.id} is already {clash[0]}'s")
        return Registry(tuple(merged.values()), self.source)

    def sidecar(self, source: str) -> Sidecar:
        """The instruments as an HL2 sidecar."""
        return Sidecar(self.instruments, source)

    def save(self, path: Path) -> None:
        """Write the registry to ``path`` (through a temporary file and a rename)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(self.sidecar(self.source).as_dict(), indent=2) + "\n")
        tmp.replace(path)


def load(path: Path) -> Registry:
    """Read a cached registry.

    Raises
    ------
    RegistryError
        If the file is missing (the text says how to make one) or malformed.
    """
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RegistryError(
            f"no instrument registry at {path}: run `hean registry fetch --symbols ...` "
            "once with network access, or pass --instrument SYMBOL=ID:TICK:STEP"
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RegistryError(f"{path}: not a JSON registry ({exc})") from None
    try:
        side = parse_document(doc)
    except SidecarError as exc:
        raise RegistryError(f"{path}: {exc}") from None
    return Registry(side.instruments, side.source)


def _steps(response: Any, symbol: str) -> tuple[str, str]:
    """``(tickSize, qtyStep)`` of ``symbol`` from an instruments-info response."""
    if not isinstance(response, dict) or response.get("retCode") != 0:
        raise RegistryError(f"{symbol}: Bybit answered {response!r}")
    entries = (response.get("result") or {}).get("list") or []
    for entry in entries:
        if entry.get("symbol") == symbol:
            try:
                return entry["priceFilter"]["tickSize"], entry["lotSizeFilter"]["qtyStep"]
            except (KeyError, TypeError):
                raise RegistryError(f"{symbol}: instruments-info lacks tickSize/qtyStep") from None
    raise RegistryError(f"Bybit has no {CATEGORY} instrument {symbol}")


def fetch(
    symbols: Iterable[str],
    *,
    http: Any = None,
    testnet: bool = False,
    existing: Registry | None = None,
) -> Registry:
    """Ask Bybit for ``symbols``' steps and return the registry with them added.

    Parameters
    ----------
    symbols : iterable of str
        Linear symbols such as ``BTCUSDT``.
    http : object, optional
        Anything with pybit's ``get_instruments_info(category=..., symbol=...)``;
        by default ``pybit.unified_trading.HTTP(testnet=testnet)``.
    testnet : bool
        Ask the testnet (only when ``http`` is not given).
    existing : Registry, optional
        Entries to keep; their ids do not change.

    Raises
    ------
    RegistryError
        If Bybit cannot be reached, answers with an error, or lacks a symbol.
    """
    if http is None:
        from pybit.unified_trading import HTTP

        http = HTTP(testnet=testnet)
    merged = {i.symbol: i for i in (existing.instruments if existing else ())}
    used = {i.id for i in merged.values()}
    for symbol in symbols:
        try:
            response = http.get_instruments_info(category=CATEGORY, symbol=symbol)
        except Exception as exc:  # pybit raises its own errors and requests' ones
            raise RegistryError(f"{symbol}: instruments-info failed: {exc}") from None
        tick, lot = _steps(response, symbol)
        if symbol in merged:
            ident = merged[symbol].id
        else:
            free = [i for i in range(MAX_ID + 1) if i not in used]
            if not free:
                raise RegistryError(f"{symbol}: all {MAX_ID + 1} HL2 instrument ids are taken")
            ident = free[0]
            used.add(ident)
        try:
            merged[symbol] = Instrument(id=ident, symbol=symbol, tick=tick, lot=lot)
        except SidecarError as exc:
            raise RegistryError(f"{symbol}: {exc}") from None
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    net = "testnet" if testnet else "mainnet"
    return Registry(tuple(merged.values()), f"bybit {net} instruments-info {CATEGORY} {stamp}")
