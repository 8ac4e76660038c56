"""A recorded session for the backtester: its messages and its instruments' steps."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hean.domain import InstrumentSpec
from hean.feeds.sidecar import default_instrument, read_sidecar, sidecar_path
from hean.wire import FileKind, Params, open_file


@dataclass(frozen=True)
class Session:
    """An ``.hl2`` file opened for a replay.

    Attributes
    ----------
    path : Path
    messages : ndarray
        The file's messages (a read-only memory map).
    params : Params
        The parameters in the file's header.
    instruments : dict of int to InstrumentSpec
        Every instrument the file has messages for, with its symbol and steps.
    warnings : tuple of str
        What a user should hear about (no sidecar: default steps).
    """

    path: Path
    messages: np.ndarray
    params: Params
    instruments: dict[int, InstrumentSpec]
    warnings: tuple[str, ...] = ()


def load_session(path: str | os.PathLike[str], max_instruments: int | None = None) -> Session:
    """Open ``path`` (an ``.hl2`` file) and its sidecar.

    Parameters
    ----------
    path : path-like
    max_instruments : int, optional
        The feature engine's N: ids at or above it are bad messages to the engine, so
        they are not traded.

    Raises
    ------
    hean.wire.WireError
        For a file that is not a whole ``.hl2`` file.
    hean.feeds.sidecar.SidecarError
        For a sidecar that exists but is bad.
    FileNotFoundError
    ValueError
        For a file with no message of any instrument.
    """
    f = open_file(path, expect=FileKind.HL2)
    msgs = f.items
    limit = 256 if max_instruments is None else max_instruments
    ids = np.unique(msgs["instrument"]).tolist() if len(msgs) else []
    ids = [i for i in ids if i < limit]
    sidecar = read_sidecar(path)
    warnings: list[str] = []
    if sidecar is None:
        warnings.append(
            f"{path} has no sidecar ({sidecar_path(path).name}): instruments get default "
            f"symbols (INST<id>) and steps (tick 1, lot 1), so prices are in raw ticks "
            f"and sizes in raw lots"
        )
        listed = {}
    else:
        listed = {i.id: i for i in sidecar.instruments}
        missing = [i for i in ids if i not in listed]
        if missing:
            warnings.append(
                f"the sidecar does not list instrument(s) {', '.join(map(str, missing))}: "
                f"they get default steps (tick 1, lot 1)"
            )
    if not ids:
        raise ValueError(f"{path}: no message of an instrument below N={limit}; nothing to trade")
    specs = {i: InstrumentSpec.from_sidecar(listed.get(i) or default_instrument(i)) for i in ids}
    return Session(Path(path), msgs, f.params, specs, tuple(warnings))
