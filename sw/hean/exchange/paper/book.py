"""The full Level-2 book of one instrument, rebuilt from HL2 messages.

Unlike the feature engines, which keep only K levels a side, the paper exchange keeps
every level the feed has shown, because a market order or a slippage estimate may walk
further than K levels. Prices are integer ticks and sizes integer lots, as in HL2.

Each side is a dict (price -> lots) for O(1) look-ups plus a sorted list of its prices
for walking from the touch; books have tens to a few thousand levels, where a list kept
sorted with :mod:`bisect` is faster in Python than any tree.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator

from hean.wire import MsgType, Side

_BID, _ASK = int(Side.BID), int(Side.ASK)  # ints on the per-message path (enum access is slow)

#: Highest price a valid HL2 message can carry (spec, Validity rule 4).
MAX_PRICE = 0x7FFFFFFF


def _book_side(side: int) -> int:
    if side not in (_BID, _ASK) or isinstance(side, bool):
        raise ValueError(f"book side must be Side.BID (0) or Side.ASK (1), got {side!r}")
    return int(side)


class L2Book:
    """Every price level of one instrument's book.

    Parameters
    ----------
    instrument : int
        The instrument id, kept for messages and errors.

    Notes
    -----
    The book is exactly what the messages say: HL2 never repairs a crossed book, so
    neither does this class (:meth:`crossed` tells).
    """

    __slots__ = ("_prices", "_qty", "instrument")

    def __init__(self, instrument: int = 0) -> None:
        self.instrument = instrument
        self._qty: tuple[dict[int, int], dict[int, int]] = ({}, {})
        # ascending prices of each side; the best bid is last, the best ask first
        self._prices: tuple[list[int], list[int]] = ([], [])

    def set(self, side: int, price: int, qty: int) -> int:
        """Set the level ``price`` of ``side`` to ``qty`` lots (0 deletes it).

        Returns
        -------
        int
            The lots the level held before (0 if it did not exist).

        Raises
        ------
        ValueError
            For a side other than BID/ASK, a price outside 1..0x7FFFFFFF or a
            negative size.
        """
        s = _book_side(side)
        if not 0 < price <= MAX_PRICE:
            raise ValueError(f"price {price} ticks is outside 1..{MAX_PRICE}")
        if qty < 0:
            raise ValueError(f"level size must be >= 0 lots, got {qty}")
        levels = self._qty[s]
        prev = levels.get(price, 0)
        if qty:
            if not prev:
                insort(self._prices[s], price)
            levels[price] = qty
        elif prev:
            del levels[price]
            prices = self._prices[s]
            del prices[bisect_left(prices, price)]
        return prev

    def merge(self, side: int, cleared: bool, prices: list[int], qtys: list[int]) -> None:
        """Apply the net effect of a run of SETs (and CLEARs) of ``side`` at once.

        Parameters
        ----------
        side : int
            ``hean.wire.Side.BID`` or ``Side.ASK``.
        cleared : bool
            Empty the side first (a CLEAR came before the SETs).
        prices, qtys : list of int
            The final size of each price (0 deletes), each price once. Callers pass
            valid HL2 values: they are not checked again.
        """
        s = _book_side(side)
        if cleared:
            self.clear(s)
        levels, book_prices = self._qty[s], self._prices[s]
        added: list[int] = []
        removed: list[int] = []
        for price, qty in zip(prices, qtys, strict=True):
            if qty:
                if price not in levels:
                    added.append(price)
                levels[price] = qty
            elif levels.pop(price, 0):
                removed.append(price)
        if len(added) + len(removed) > 16:
            # many changes: one sort beats as many list insertions and deletions
            book_prices[:] = sorted(levels)
            return
        for price in removed:
            del book_prices[bisect_left(book_prices, price)]
        for price in added:
            insort(book_prices, price)

    def clear(self, side: int) -> None:
        """Remove every level of ``side`` (Side.BID, Side.ASK or Side.BOTH)."""
        if side == Side.BOTH:
            self.clear(Side.BID)
            self.clear(Side.ASK)
            return
        s = _book_side(side)
        self._qty[s].clear()
        self._prices[s].clear()

    def apply(self, mtype: int, side: int, price: int, qty: int) -> None:
        """Apply one HL2 message's effect on the book (SET and CLEAR; others change nothing).

        Raises
        ------
        ValueError
            For a SET or CLEAR that is bad by the HL2 validity rules.
        """
        if mtype == MsgType.SET:
            self.set(side, price, qty)
        elif mtype == MsgType.CLEAR:
            if side not in (Side.BID, Side.ASK, Side.BOTH):
                raise ValueError(f"CLEAR side must be 0, 1 or 2, got {side}")
            self.clear(side)

    def qty(self, side: int, price: int) -> int:
        """Lots at ``price`` on ``side`` (0 when there is no such level)."""
        return self._qty[_book_side(side)].get(price, 0)

    def best(self, side: int) -> tuple[int, int] | None:
        """The touch of ``side`` as (price_ticks, qty_lots), or None if the side is empty."""
        s = _book_side(side)
        prices = self._prices[s]
        if not prices:
            return None
        price = prices[-1] if s == _BID else prices[0]
        return price, self._qty[s][price]

    def best_bid(self) -> tuple[int, int] | None:
        """Highest bid as (price_ticks, qty_lots), or None."""
        return self.best(Side.BID)

    def best_ask(self) -> tuple[int, int] | None:
        """Lowest ask as (price_ticks, qty_lots), or None."""
        return self.best(Side.ASK)

    def iter_levels(self, side: int) -> Iterator[tuple[int, int]]:
        """Yield (price_ticks, qty_lots) of ``side`` from the touch outwards.

        The book must not change while the iterator is in use.
        """
        s = _book_side(side)
        prices = self._prices[s]
        levels = self._qty[s]
        for price in reversed(prices) if s == Side.BID else prices:
            yield price, levels[price]

    def levels(self, side: int, n: int | None = None) -> list[tuple[int, int]]:
        """The first ``n`` levels of ``side`` from the touch (all of them when ``n`` is None).

        Parameters
        ----------
        side : int
            ``hean.wire.Side.BID`` or ``Side.ASK``.
        n : int, optional
            How many levels; fewer come back when the side has fewer.

        Returns
        -------
        list of (int, int)
            (price_ticks, qty_lots), best first: bids descending, asks ascending.

        Raises
        ------
        ValueError
            For a bad side or a negative ``n``.
        """
        s = _book_side(side)
        if n is not None and n < 0:
            raise ValueError(f"number of levels must be >= 0, got {n}")
        prices = self._prices[s]
        if s == Side.BID:
            chosen = prices[::-1] if n is None else prices[: -n - 1 : -1] if n else []
        else:
            chosen = prices if n is None else prices[:n]
        levels = self._qty[s]
        return [(p, levels[p]) for p in chosen]

    def snapshot(self, side: int) -> dict[int, int]:
        """A copy of ``side`` as {price_ticks: qty_lots}."""
        return dict(self._qty[_book_side(side)])

    def depth(self, side: int) -> int:
        """Number of levels on ``side``."""
        return len(self._prices[_book_side(side)])

    def crossed(self) -> bool:
        """Whether the best bid is at or above the best ask."""
        bid, ask = self.best_bid(), self.best_ask()
        return bid is not None and ask is not None and bid[0] >= ask[0]

    def __repr__(self) -> str:
        return (
            f"L2Book(instrument={self.instrument}, bid={self.best_bid()}, "
            f"ask={self.best_ask()}, levels={self.depth(Side.BID)}/{self.depth(Side.ASK)})"
        )
