"""Feature engines: HL2 messages in, feature records out.

Only the software mirror is built so far; :func:`open_engine` is where the other
backends will be selected by name.
"""

from __future__ import annotations

from hean.engine.base import Counters, FeatureEngine
from hean.engine.mirror import Mirror
from hean.wire import Params

ENGINES = {"mirror": Mirror}


def open_engine(name: str, params: Params | None = None) -> FeatureEngine:
    """Create the feature engine called ``name`` with ``params``.

    Raises
    ------
    ValueError
        If no engine has that name.
    """
    try:
        cls = ENGINES[name]
    except KeyError:
        raise ValueError(f"unknown engine {name!r}; available: {', '.join(ENGINES)}") from None
    return cls(params)


__all__ = ["ENGINES", "Counters", "FeatureEngine", "Mirror", "open_engine"]
