"""The instrument sidecar of an ``.hl2`` file (HL2 v1, "Instrument sidecar").

HL2 messages carry instrument ids, prices in ticks and sizes in lots. The sidecar
``X.hl2.json`` next to ``X.hl2`` says which symbol each id is and what one tick and
one lot are worth::

    {"instruments": [{"id": 0, "symbol": "BTCUSDT", "tick": "0.1", "lot": "0.001"}],
     "source": "hean synth seed=1 instruments=1 faults=False"}

Tick and lot are decimal strings, so they convert exactly. Whatever writes an
``.hl2`` writes its sidecar too. A reader that finds no sidecar says so and uses
:func:`default_instrument`: symbol ``INST{id}``, tick ``1`` and lot ``1``, which means
prices are shown in raw ticks and sizes in raw lots.
"""

from __future__ import annotations

import json
import numbers
import os
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

#: Tick size used for an instrument without a sidecar entry (prices in raw ticks).
DEFAULT_TICK = "1"
#: Lot size used for an instrument without a sidecar entry (sizes in raw lots).
DEFAULT_LOT = "1"
#: Highest instrument id an HL2 message can carry (the field is a u8).
MAX_ID = 255


class SidecarError(ValueError):
    """A sidecar or one of its instruments does not follow the HL2 v1 contract."""


def _positive_decimal(field: str, value: object, what: str) -> Decimal:
    if not isinstance(value, str):
        raise SidecarError(f"{what}: {field} must be a decimal string such as '0.1', got {value!r}")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise SidecarError(f"{what}: {field} {value!r} is not a decimal number") from None
    if not number.is_finite() or number <= 0:
        raise SidecarError(f"{what}: {field} {value!r} must be a finite number > 0")
    return number


@dataclass(frozen=True)
class Instrument:
    """One instrument of a sidecar.

    Parameters
    ----------
    id : int
        The instrument id used in HL2 messages (0..255).
    symbol : str
        Exchange symbol, e.g. ``"BTCUSDT"``; not empty.
    tick : str
        Price of one tick, as a decimal string (``"0.1"``); > 0.
    lot : str
        Size of one lot, as a decimal string (``"0.001"``); > 0.

    Raises
    ------
    SidecarError
        If a field is of the wrong type or out of range; the message names the field.
    """

    id: int
    symbol: str
    tick: str
    lot: str

    def __post_init__(self) -> None:
        if isinstance(self.id, bool) or not isinstance(self.id, numbers.Integral):
            raise SidecarError(f"instrument id must be an integer, got {self.id!r}")
        object.__setattr__(self, "id", int(self.id))
        if not 0 <= self.id <= MAX_ID:
            raise SidecarError(f"instrument id {self.id} is outside 0..{MAX_ID}")
        what = f"instrument {self.id}"
        if not isinstance(self.symbol, str) or not self.symbol.strip():
            raise SidecarError(f"{what}: symbol must be a non-empty string, got {self.symbol!r}")
        _positive_decimal("tick", self.tick, what)
        _positive_decimal("lot", self.lot, what)

    @property
    def tick_decimal(self) -> Decimal:
        """The tick size as an exact :class:`~decimal.Decimal`."""
        return Decimal(self.tick)

    @property
    def lot_decimal(self) -> Decimal:
        """The lot size as an exact :class:`~decimal.Decimal`."""
        return Decimal(self.lot)

    def as_dict(self) -> dict[str, Any]:
        """The instrument as the sidecar's JSON object."""
        return {"id": self.id, "symbol": self.symbol, "tick": self.tick, "lot": self.lot}


def default_instrument(id: int) -> Instrument:
    """The instrument assumed for ``id`` when no sidecar describes it.

    Its symbol is ``INST{id}`` and its tick and lot are :data:`DEFAULT_TICK` and
    :data:`DEFAULT_LOT` (both ``"1"``): without a sidecar, prices are shown in raw
    ticks and sizes in raw lots.

    Raises
    ------
    SidecarError
        If ``id`` is outside 0..255.
    """
    return Instrument(id=id, symbol=f"INST{id}", tick=DEFAULT_TICK, lot=DEFAULT_LOT)


@dataclass(frozen=True)
class Sidecar:
    """The instruments of one ``.hl2`` file and where the file came from.

    Parameters
    ----------
    instruments : tuple of Instrument
        The instruments described, ids unique (any order; a list is accepted).
    source : str, optional
        Free text saying what wrote the file (recorder, converter, generator).

    Raises
    ------
    SidecarError
        If an entry is not an :class:`Instrument` or two entries share an id.
    """

    instruments: tuple[Instrument, ...]
    source: str = ""

    def __post_init__(self) -> None:
        instruments = tuple(self.instruments)
        object.__setattr__(self, "instruments", instruments)
        seen: set[int] = set()
        for inst in instruments:
            if not isinstance(inst, Instrument):
                raise SidecarError(f"sidecar entries must be Instrument objects, got {inst!r}")
            if inst.id in seen:
                raise SidecarError(f"instrument id {inst.id} appears more than once")
            seen.add(inst.id)
        if not isinstance(self.source, str):
            raise SidecarError(f"source must be a string, got {self.source!r}")

    def by_id(self, id: int) -> Instrument:
        """The instrument with ``id``, or :func:`default_instrument` if none is listed."""
        for inst in self.instruments:
            if inst.id == id:
                return inst
        return default_instrument(id)

    def as_dict(self) -> dict[str, Any]:
        """The sidecar as its JSON document."""
        return {"instruments": [i.as_dict() for i in self.instruments], "source": self.source}


def sidecar_path(hl2_path: str | os.PathLike[str]) -> Path:
    """The sidecar of ``hl2_path``: ``X.hl2`` -> ``X.hl2.json``."""
    path = Path(hl2_path)
    return path.with_name(path.name + ".json")


def write_sidecar(hl2_path: str | os.PathLike[str], sidecar: Sidecar) -> Path:
    """Write the sidecar of ``hl2_path`` and return its path.

    Parameters
    ----------
    hl2_path : path-like
        The ``.hl2`` file the sidecar describes (it need not exist yet).
    sidecar : Sidecar
        What to write.

    Returns
    -------
    pathlib.Path
        The sidecar file written (``hl2_path`` + ``.json``).
    """
    path = sidecar_path(hl2_path)
    path.write_text(json.dumps(sidecar.as_dict(), indent=2) + "\n", encoding="utf-8")
    return path


def _parse(doc: object) -> Sidecar:
    if not isinstance(doc, dict):
        raise SidecarError(f"top level must be a JSON object, got {type(doc).__name__}")
    if "instruments" not in doc:
        raise SidecarError("missing key 'instruments'")
    entries = doc["instruments"]
    if not isinstance(entries, list):
        raise SidecarError(f"'instruments' must be a list, got {type(entries).__name__}")
    source = doc.get("source", "")
    if not isinstance(source, str):
        raise SidecarError(f"'source' must be a string, got {source!r}")
    instruments = []
    for n, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise SidecarError(f"instruments[{n}] must be an object, got {entry!r}")
        missing = [key for key in ("id", "symbol", "tick", "lot") if key not in entry]
        if missing:
            raise SidecarError(f"instruments[{n}] is missing key(s) {', '.join(missing)}")
        try:
            instruments.append(
                Instrument(
                    id=entry["id"], symbol=entry["symbol"], tick=entry["tick"], lot=entry["lot"]
                )
            )
        except SidecarError as exc:
            raise SidecarError(f"instruments[{n}]: {exc}") from None
    return Sidecar(tuple(instruments), source)


def read_sidecar(hl2_path: str | os.PathLike[str]) -> Sidecar | None:
    """Read the sidecar of ``hl2_path``.

    Parameters
    ----------
    hl2_path : path-like
        The ``.hl2`` file whose sidecar (``hl2_path`` + ``.json``) is wanted.

    Returns
    -------
    Sidecar or None
        The sidecar, or ``None`` if the file has none; the caller then says so and
        uses :func:`default_instrument` (prices in raw ticks, sizes in raw lots).

    Raises
    ------
    SidecarError
        If the sidecar is not valid JSON, lacks a key or holds a bad value; the
        message names the sidecar file.
    """
    path = sidecar_path(hl2_path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise SidecarError(f"{path}: not UTF-8 text ({exc.reason})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SidecarError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    try:
        return _parse(doc)
    except SidecarError as exc:
        raise SidecarError(f"{path}: {exc}") from None


def parse_document(doc: object) -> Sidecar:
    """Validate a decoded sidecar document (the same JSON shape, from any file).

    Raises
    ------
    SidecarError
        If a key is missing or a value is bad; the message names the entry.
    """
    return _parse(doc)
