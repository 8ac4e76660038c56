"""Views of feature records for strategies: mid, microprice, spread, imbalances as floats.

Prices stay in ticks (the record's unit); multiply by the instrument's tick for decimals.
Every function takes one record (``numpy.void``) or an array of them.
"""

from __future__ import annotations

import numpy as np

from hean.wire import Status

#: Imbalances are fixed-point with this scale (HL2 v1: ``trunc(32768 (b - a) / (b + a))``).
IMB_SCALE = 32768.0
#: A book both of whose sides hold a level, not crossed, at the end of an update.
_NOT_TRADABLE = Status.BID_EMPTY | Status.ASK_EMPTY | Status.CROSSED | Status.BAD_MSG


def tradable(rec) -> np.ndarray | bool:
    """END records with a two-sided, uncrossed book: where a strategy may look."""
    status = np.asarray(rec["status"])
    return ((status & Status.END) != 0) & ((status & _NOT_TRADABLE) == 0)


def mid(rec) -> np.ndarray | float:
    """``(bid + ask) / 2`` in ticks."""
    return (np.asarray(rec["bid_px"], dtype=float) + np.asarray(rec["ask_px"], dtype=float)) / 2


def microprice(rec) -> np.ndarray | float:
    """The size-weighted mid: ``(bid * ask_qty + ask * bid_qty) / (bid_qty + ask_qty)``."""
    b, a = np.asarray(rec["bid_px"], dtype=float), np.asarray(rec["ask_px"], dtype=float)
    qb, qa = np.asarray(rec["bid_qty"], dtype=float), np.asarray(rec["ask_qty"], dtype=float)
    total = qb + qa
    return np.where(total > 0, (b * qa + a * qb) / np.where(total > 0, total, 1), (b + a) / 2)


def spread_bps(rec) -> np.ndarray | float:
    """``(ask - bid) / mid`` in basis points."""
    b, a = np.asarray(rec["bid_px"], dtype=float), np.asarray(rec["ask_px"], dtype=float)
    return (a - b) / ((a + b) / 2) * 1e4


def imbalance(rec) -> np.ndarray | float:
    """The top-of-book imbalance in [-1, 1]."""
    return np.asarray(rec["imb_l1"], dtype=float) / IMB_SCALE


def depth_imbalance(rec) -> np.ndarray | float:
    """The depth imbalance (all K levels) in [-1, 1]."""
    return np.asarray(rec["imb_depth"], dtype=float) / IMB_SCALE


def flow_ratio(rec) -> np.ndarray | float:
    """``buy_flow / sell_flow`` of the decayed trade flow (inf with no selling, 1 with none)."""
    buy = np.asarray(rec["buy_flow"], dtype=float)
    sell = np.asarray(rec["sell_flow"], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sell > 0, buy / np.where(sell > 0, sell, 1), np.where(buy > 0, np.inf, 1.0))
