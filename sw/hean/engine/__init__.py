"""Feature engines: HL2 messages in, feature records out.

:func:`open_engine` selects a backend by name: ``mirror`` (the software mirror) or
``verilator`` (the gateware's Verilog simulated by Verilator; its module imports nothing
heavy, the build tools load on first use); ``auto`` is a PYNQ board when one answers and
a bitstream for the parameters is in ``bitstreams/``, else the mirror (see
:func:`hean.engine.board.choose_engine`, which also says why).
"""

from __future__ import annotations

from hean.engine.base import Counters, FeatureEngine
from hean.engine.mirror import Mirror
from hean.engine.verilator import VerilatorEngine
from hean.wire import Params

ENGINES = {"mirror": Mirror, "verilator": VerilatorEngine}


def open_engine(name: str, params: Params | None = None) -> FeatureEngine:
    """Create the feature engine called ``name`` with ``params``.

    Raises
    ------
    ValueError
        If no engine has that name.
    """
    if name == "auto":  # needs a bitstream, so it is not in ENGINES
        from hean.engine.board import choose_engine

        return choose_engine(name, params)[0]
    try:
        cls = ENGINES[name]
    except KeyError:
        raise ValueError(f"unknown engine {name!r}; available: {', '.join(ENGINES)}") from None
    return cls(params)


__all__ = ["ENGINES", "Counters", "FeatureEngine", "Mirror", "VerilatorEngine", "open_engine"]
