"""The interface every feature engine (mirror, RTL, board) presents to the rest of HEAN."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Protocol

import numpy as np

from hean.wire import MSG_DTYPE, REC_DTYPE, Params, WireError


@dataclass(frozen=True)
class Counters:
    """What an engine has seen since it was created or reset.

    Attributes
    ----------
    messages : int
        Messages taken in (bad ones included).
    records : int
        Feature records produced (one per message).
    bad : int
        Messages that broke a validity rule.
    gaps : int
        Valid messages whose ``seq`` did not follow the instrument's previous one.
    dropped : int
        SETs that could not be kept (side full, price worse than every level).
    """

    messages: int = 0
    records: int = 0
    bad: int = 0
    gaps: int = 0
    dropped: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class EngineError(RuntimeError):
    """A feature engine could not run: a tool is missing, a build failed, a board or its
    process stopped answering. The message says what and, where it can, what to do."""


def check_batch(msgs: np.ndarray, out: np.ndarray) -> None:
    """The arguments every engine's ``process_into`` takes, checked alike.

    Raises
    ------
    WireError
        If ``msgs`` is not a 1-D ``MSG_DTYPE`` array or ``out`` is not a ``REC_DTYPE``
        array at least as long.
    """
    if msgs.dtype != MSG_DTYPE or msgs.ndim != 1:
        raise WireError(f"expected a 1-D array of HL2 messages, got {msgs.dtype} {msgs.shape}")
    if out.dtype != REC_DTYPE or len(out) < len(msgs):
        raise WireError("output must be a REC_DTYPE array at least as long as the input")


class FeatureEngine(Protocol):
    """A feature engine: HL2 messages in, feature records out, state kept between calls."""

    name: str
    params: Params

    def process(self, msgs: np.ndarray) -> np.ndarray:
        """Return one record (``REC_DTYPE``) per message (``MSG_DTYPE``), in order."""
        ...

    def process_into(self, msgs: np.ndarray, out: np.ndarray) -> None:
        """Like :meth:`process`, writing into ``out[:len(msgs)]`` (no allocation)."""
        ...

    def counters(self) -> Counters:
        """Counters since creation or the last :meth:`reset`."""
        ...

    def reset(self) -> None:
        """Forget every book and accumulator, as after power-up."""
        ...
