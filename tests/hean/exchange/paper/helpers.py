"""Small builders shared by the paper exchange tests: a tape of HL2 messages and orders."""

from __future__ import annotations

from decimal import Decimal

from hean.domain import InstrumentSpec, OrderRequest, OrderStatus, Side, TimeInForce
from hean.exchange.base import ExecutionReport
from hean.exchange.paper import PaperExchange
from hean.wire import Flag, MsgType, messages
from hean.wire import Side as BookSide

BID, ASK = BookSide.BID, BookSide.ASK
SPEC = InstrumentSpec(0, "BTCUSDT", Decimal("0.1"), Decimal("0.001"))
T0 = 1_733_011_200_000_000_000
MS = 1_000_000


def make(**kwargs) -> PaperExchange:
    """A paper exchange trading instrument 0 (BTCUSDT-like)."""
    return PaperExchange({0: SPEC}, **kwargs)


class Tape:
    """Feeds hand-made HL2 messages of instrument 0 to an exchange, numbering them."""

    def __init__(self, ex: PaperExchange, ts: int = T0) -> None:
        self.ex = ex
        self.ts = ts
        self.seq = 0

    def _send(self, mtype: int, side: int, price: int, qty: int, flags: int, ts: int | None):
        if ts is not None:
            self.ts = ts
        self.seq += 1
        row = (mtype, side, flags, 0, self.seq, price, qty, self.ts, self.ts + 500_000)
        self.ex.feed(messages([row]))

    def set(self, side: int, price: int, qty: int, ts: int | None = None, end: bool = True):
        self._send(MsgType.SET, side, price, qty, Flag.END if end else 0, ts)

    def trade(self, aggressor: int, price: int, qty: int, ts: int | None = None):
        """A trade; ``aggressor`` BID is a buyer lifting asks, ASK a seller hitting bids."""
        self._send(MsgType.TRADE, aggressor, price, qty, Flag.END, ts)

    def snapshot(self, bids: list[tuple[int, int]], asks: list[tuple[int, int]], ts=None):
        """CLEAR both sides, then one SET per level, the last with END."""
        rows = [(BID, p, q) for p, q in bids] + [(ASK, p, q) for p, q in asks]
        self._send(MsgType.CLEAR, BookSide.BOTH, 0, 0, Flag.SNAPSHOT, ts)
        for i, (side, p, q) in enumerate(rows):
            last = i == len(rows) - 1
            self._send(MsgType.SET, side, p, q, Flag.SNAPSHOT | (Flag.END if last else 0), None)


def order(
    link: str,
    side: Side,
    qty: int,
    price: int | None = None,
    tif: TimeInForce = TimeInForce.GTC,
    ts: int = 0,
    reduce_only: bool = False,
) -> OrderRequest:
    return OrderRequest(ts, 0, side, qty, price, "test", link, reduce_only, tif)


def statuses(reports: list[ExecutionReport], link: str | None = None) -> list[OrderStatus]:
    return [r.status for r in reports if link is None or r.link_id == link]


def filled(ex: PaperExchange, link: str) -> int:
    return sum(f.qty_lots for f in ex.executions() if f.link_id == link)
