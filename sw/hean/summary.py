"""Per-instrument digest of a feature-record stream (``hean summary``).

Book statistics are read from END records only: inside one exchange update the book
can be transiently crossed (Bybit sends an update's bids before its asks), and END is
where a consumer of the stream is meant to look.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from hean.feeds.sidecar import Sidecar, default_instrument
from hean.wire import MsgType, Status


@dataclass(frozen=True)
class InstrumentSummary:
    """What one instrument's records say, over a whole stream."""

    instrument: int
    symbol: str
    records: int
    updates: int
    trades: int
    bad: int
    gap_records: int
    dropped: int
    first_mid: Decimal | None
    last_mid: Decimal | None
    spread_ticks_median: float | None
    spread_ticks_p99: float | None
    imb_l1_mean: float
    ofi_last: int
    ofi_min: int
    ofi_max: int
    iceberg_episodes_bid: int
    iceberg_episodes_ask: int


def _episodes(flag: np.ndarray) -> int:
    """How many times a boolean series switches on."""
    if not len(flag):
        return 0
    return int(flag[0]) + int(np.count_nonzero(flag[1:] & ~flag[:-1]))


def _mid(bid: np.ndarray, ask: np.ndarray, k: int, tick: Decimal) -> Decimal:
    """Mid price of the k-th two-sided book, exactly, in the instrument's units."""
    return Decimal(int(bid[k] + ask[k])) * tick / 2


def summarize(records: np.ndarray, sidecar: Sidecar | None = None) -> list[InstrumentSummary]:
    """Summarize ``records`` (``REC_DTYPE``) per instrument id that appears in them."""
    out = []
    status_all = np.asarray(records["status"])
    inst_all = np.asarray(records["instrument"])
    for inst in np.unique(inst_all):
        mine = inst_all == inst
        r = records[mine]
        status = status_all[mine]
        good = (status & Status.BAD_MSG) == 0
        end = good & ((status & Status.END) != 0)
        two_sided = end & ((status & (Status.BID_EMPTY | Status.ASK_EMPTY)) == 0)
        bid = np.asarray(r["bid_px"][two_sided], dtype=np.int64)
        ask = np.asarray(r["ask_px"][two_sided], dtype=np.int64)
        info = sidecar.by_id(int(inst)) if sidecar else default_instrument(int(inst))
        tick = info.tick_decimal

        spread = ask - bid
        ofi = np.asarray(r["ofi"][good])
        out.append(
            InstrumentSummary(
                instrument=int(inst),
                symbol=info.symbol,
                records=len(r),
                updates=int(np.count_nonzero(end)),
                trades=int(np.count_nonzero(good & (r["type"] == MsgType.TRADE))),
                bad=int(np.count_nonzero(~good)),
                gap_records=int(np.count_nonzero(status & Status.GAP)),
                dropped=int(np.count_nonzero(status & Status.DROPPED)),
                first_mid=_mid(bid, ask, 0, tick) if len(bid) else None,
                last_mid=_mid(bid, ask, -1, tick) if len(bid) else None,
                spread_ticks_median=float(np.median(spread)) if len(bid) else None,
                spread_ticks_p99=float(np.percentile(spread, 99)) if len(bid) else None,
                imb_l1_mean=float(np.mean(r["imb_l1"][end])) / 32767 if end.any() else 0.0,
                ofi_last=int(ofi[-1]) if len(ofi) else 0,
                ofi_min=int(ofi.min()) if len(ofi) else 0,
                ofi_max=int(ofi.max()) if len(ofi) else 0,
                iceberg_episodes_bid=_episodes((status[good] & Status.ICEBERG_BID) != 0),
                iceberg_episodes_ask=_episodes((status[good] & Status.ICEBERG_ASK) != 0),
            )
        )
    return out
