"""Small helpers for the hand-worked HL2 v1 rule tests.

Messages are written as dicts (``SET(BID, 100, 5)``), fed to a :class:`Engine` that
numbers ``seq`` per instrument (1, 2, 3, ...) unless a message gives its own, and the
records come back as plain ``dict``s of Python ints so that expectations read like the
spec's tables.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hean.engine import Mirror
from hean.wire import MSG_DTYPE, REC_DTYPE, Params, Status

MASK32 = 0xFFFFFFFF

# Message types and sides, spelled as in the spec.
T_SET, T_TRADE, T_CLEAR, T_HB = 1, 2, 3, 4
BID, ASK, BOTH = 0, 1, 2
BUY, SELL = 0, 1  # TRADE aggressor

#: Record fields that describe the instrument's state (everything but the echoes,
#: ``status``, ``ofi_event`` and the engine-private cycle stamps).
STATE_FIELDS = (
    "bid_px",
    "bid_qty",
    "ask_px",
    "ask_qty",
    "depth_bid",
    "depth_ask",
    "imb_l1",
    "imb_depth",
    "levels_bid",
    "levels_ask",
    "ice_refills_bid",
    "ice_refills_ask",
    "ofi",
    "buy_flow",
    "sell_flow",
    "ice_absorbed_bid",
    "ice_absorbed_ask",
    "ice_px_bid",
    "ice_px_ask",
)

#: Status bits 0..5: derived from the instrument's state.
STATE_BITS = (
    Status.GAP
    | Status.CROSSED
    | Status.BID_EMPTY
    | Status.ASK_EMPTY
    | Status.ICEBERG_BID
    | Status.ICEBERG_ASK
)


def SET(side: int, price: int, qty: int, **kw: Any) -> dict:  # noqa: N802
    return {"type": T_SET, "side": side, "price": price, "qty": qty, **kw}


def TRADE(aggressor: int, price: int, qty: int, **kw: Any) -> dict:  # noqa: N802
    return {"type": T_TRADE, "side": aggressor, "price": price, "qty": qty, **kw}


def CLEAR(side: int, **kw: Any) -> dict:  # noqa: N802
    return {"type": T_CLEAR, "side": side, **kw}


def HB(**kw: Any) -> dict:  # noqa: N802
    return {"type": T_HB, **kw}


def RAW(type_: int, side: int = 0, price: int = 0, qty: int = 0, **kw: Any) -> dict:  # noqa: N802
    return {"type": type_, "side": side, "price": price, "qty": qty, **kw}


def as_dict(rec: np.void) -> dict[str, int]:
    return {name: int(rec[name]) for name in REC_DTYPE.names}


class Engine:
    """A mirror plus automatic per-instrument ``seq`` numbering.

    Message keys besides the HL2 fields: ``inst`` (instrument, default 0), ``seq``
    (explicit; the automatic numbering continues from it), ``flags``, ``recv``,
    ``exch``, and ``hold=True`` (use the next automatic seq but do not advance it, so
    the following message reuses it: the way to feed a bad message that must leave
    sequence tracking untouched).
    """

    def __init__(self, params: Params, compiled: bool) -> None:
        self.params = params
        self.compiled = compiled
        self.mirror = Mirror(params, compiled=compiled)
        self.next_seq: dict[int, int] = {}
        self.history: list[dict[str, int]] = []

    def build(self, specs: tuple[dict, ...]) -> np.ndarray:
        out = np.zeros(len(specs), dtype=MSG_DTYPE)
        for i, spec in enumerate(specs):
            spec = dict(spec)
            inst = spec.pop("inst", 0)
            hold = spec.pop("hold", False)
            seq = spec.pop("seq", self.next_seq.get(inst, 1))
            if not hold:
                self.next_seq[inst] = (seq + 1) & MASK32
            out[i]["instrument"] = inst
            out[i]["seq"] = seq
            out[i]["flags"] = spec.pop("flags", 0)
            out[i]["recv_ts_ns"] = spec.pop("recv", 0)
            out[i]["exch_ts_ns"] = spec.pop("exch", 0)
            for name in ("type", "side", "price", "qty"):
                out[i][name] = spec.pop(name, 0)
            assert not spec, f"unknown message keys {spec}"
        return out

    def send(self, *specs: dict) -> list[dict[str, int]]:
        """Feed messages (one batch); return their records as dicts."""
        recs = self.mirror.process(self.build(specs))
        assert len(recs) == len(specs)
        out = [as_dict(r) for r in recs]
        for r in out:
            # Bytes 112..127 are engine-private: 0 from the mirror (spec record table).
            assert r["engine_t_in"] == 0 and r["engine_t_out"] == 0
        self.history.extend(out)
        return out

    def one(self, spec: dict) -> dict[str, int]:
        """Feed one message; return its record."""
        return self.send(spec)[0]

    def book(self, inst: int = 0):
        return self.mirror.book(inst)

    def counters(self):
        return self.mirror.counters()


def engine_factory(compiled: bool):
    def make(**params: int) -> Engine:
        return Engine(Params(**params), compiled)

    return make
