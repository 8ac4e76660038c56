"""The matching engine of one instrument: our orders against the replayed book.

Our orders are virtual: the feed's book never shows them and the feed never reacts to
them. The engine therefore decides what the market would have done with them:

* **Taking.** An order that crosses walks the opposite side from the touch, each level
  at its own price, as taker. Lots taken from a level are hidden from our later taking
  until the feed next updates that level (the feed's new size is then the truth), so
  two market orders cannot both take the same shown lots.
* **Queueing.** A resting order fills, as maker at its own price, from trades at its
  price once the volume ahead of it (the :mod:`queue model <hean.exchange.paper.queue>`)
  has traded.
* **Trade-through.** A trade printed beyond its price (a sell below our bid, a buy above
  our offer) means the aggressor passed our price: the order fills at its own price, up
  to the size of that trade. New size the feed shows on the opposite side at or through
  its price (a level appears or grows) fills it the same way, up to the size added.
  Our fills out of one trade or one level update never exceed that trade's or that
  update's size, shared by price, then time priority.
* **Rebuilds.** A CLEAR starts a rebuild of the side(s); queue positions and crossings
  are judged once, at the END of the update (or before the next trade), against the
  book from before the CLEAR, so a snapshot does not send every order to the front.
"""

from __future__ import annotations

import numpy as np

from hean.domain import InstrumentSpec, OrderStatus, Side, TimeInForce
from hean.exchange.paper.book import L2Book
from hean.exchange.paper.bulk import level_updates, rebuild_marks
from hean.exchange.paper.orders import LiveOrder, MatchSink
from hean.exchange.paper.queue import QueueModel
from hean.wire import Flag, MsgType
from hean.wire import Side as BookSide

BID, ASK = BookSide.BID, BookSide.ASK
# plain ints for the per-message path: enum attribute access and Flag arithmetic cost
# more than the rest of a message's work
_SET, _TRADE, _CLEAR = int(MsgType.SET), int(MsgType.TRADE), int(MsgType.CLEAR)
_BOTH, _END = int(BookSide.BOTH), int(Flag.END)


def _crosses(side: Side, limit: int | None, price: int) -> bool:
    """Whether an order of ``side`` with ``limit`` (None: market) can take ``price``."""
    if limit is None:
        return True
    return price <= limit if side is Side.BUY else price >= limit


class Matcher:
    """Our orders on one instrument, matched against its book.

    Parameters
    ----------
    spec : InstrumentSpec
        The instrument.
    queue_model : QueueModel
        How resting orders advance in their queue.
    sink : MatchSink
        Told of every fill and status change (the exchange makes reports from them).
    """

    def __init__(self, spec: InstrumentSpec, queue_model: QueueModel, sink: MatchSink) -> None:
        self.spec = spec
        self.book = L2Book(spec.id)
        self.model = queue_model
        self.sink = sink
        self.position = 0  # signed lots
        # resting orders by book side, then price, each list in time priority
        self._resting: tuple[dict[int, list[LiveOrder]], dict[int, list[LiveOrder]]] = ({}, {})
        # lots our taking removed from a level, until the feed updates that level
        self._taken: tuple[dict[int, int], dict[int, int]] = ({}, {})
        # book side -> its levels before a CLEAR, while the side is being rebuilt
        self._saved: dict[int, dict[int, int]] = {}
        self._priority = 0

    # ------------------------------------------------------------------ feed

    def apply(self, mtype: int, side: int, flags: int, price: int, qty: int) -> None:
        """Apply one valid HL2 message of this instrument."""
        if mtype == _SET:
            prev = self.book.set(side, price, qty)
            self._taken[side].pop(price, None)
            if side not in self._saved and prev != qty:
                self._level_changed(side, price, prev, qty)
        elif mtype == _TRADE:
            if self._saved:
                self._finish_rebuild()  # a trade must meet a consistent book
            self._trade(side, price, qty)
        elif mtype == _CLEAR:
            for s in (BID, ASK) if side == _BOTH else (side,):
                if s not in self._saved:
                    self._saved[s] = self.book.snapshot(s)
                self._taken[s].clear()
            self.book.clear(side)
        if flags & _END and self._saved:
            self._finish_rebuild()

    @property
    def idle(self) -> bool:
        """No order of ours rests: the feed then only changes the book (see :meth:`apply_run`)."""
        return not self._resting[BID] and not self._resting[ASK]

    def apply_run(
        self, types: np.ndarray, sides: np.ndarray, flags: np.ndarray, prices: np.ndarray,
        qtys: np.ndarray,
    ) -> None:  # fmt: skip
        """Apply a run of valid HL2 messages of this instrument at once, while :attr:`idle`.

        With no order resting, :meth:`apply` only sets levels, forgets taken lots the
        feed updates, and saves/drops sides being rebuilt (ending a rebuild then fills
        nothing), so the net effect of the run is the same as message by message.
        """
        finished, opened = rebuild_marks(types, sides, flags)
        saved = {} if finished else self._saved
        # the CLEARs that save a side: the book just before them is what they save
        cuts = sorted((i, s) for s, i in enumerate(opened) if i >= 0 and s not in saved)
        start = 0
        for i, s in cuts:
            self._merge(types[start:i], sides[start:i], prices[start:i], qtys[start:i])
            saved[s] = self.book.snapshot(s)
            start = i
        self._merge(types[start:], sides[start:], prices[start:], qtys[start:])
        self._saved = saved
        for s in (BID, ASK):
            taken = self._taken[s]
            if not taken:
                continue
            on_side = (sides == s) | (sides == _BOTH)
            if np.any((types == _CLEAR) & on_side):
                taken.clear()
            else:
                for price in np.unique(prices[(types == _SET) & (sides == s)]).tolist():
                    taken.pop(price, None)

    def _merge(
        self, types: np.ndarray, sides: np.ndarray, prices: np.ndarray, qtys: np.ndarray
    ) -> None:
        if types.size:
            for s in (BID, ASK):
                self.book.merge(s, *level_updates(types, sides, prices, qtys, s))

    def _level_changed(self, side: int, price: int, prev: int, new: int) -> None:
        for order in self._resting[side].get(price, ()):
            self.model.on_depth(order.queue, prev, new)
        if new > prev:
            self._cross(side, price, new - prev)

    def _cross(self, side: int, price: int, volume: int) -> None:
        """``volume`` new lots at ``price`` on ``side``: fill our opposite orders it crosses."""
        other = 1 - side
        resting = self._resting[other]
        if not resting:
            return
        if other == BID:
            prices = sorted((p for p in resting if p >= price), reverse=True)
        else:
            prices = sorted(p for p in resting if p <= price)
        used = volume - self._fill_through(other, prices, volume)
        if used:
            # those lots matched us: our own later taking must not take them again
            taken = self._taken[side]
            taken[price] = taken.get(price, 0) + used

    def _trade(self, aggressor: int, price: int, qty: int) -> None:
        passive = ASK if aggressor == BID else BID
        resting = self._resting[passive]
        if not resting:
            return
        # orders at better prices than the print were passed through: they come first
        if passive == ASK:
            through = sorted(p for p in resting if p < price)
        else:
            through = sorted((p for p in resting if p > price), reverse=True)
        budget = self._fill_through(passive, through, qty)
        at_price = resting.get(price)
        if not at_price:
            return
        used = 0  # our orders at one price share the lots beyond the volume ahead
        for order in list(at_price):
            excess = self.model.on_trade(order.queue, qty) - used
            n = min(excess, order.remaining, budget)
            if n > 0:
                n = self._fill(order, n, price, maker=True)
                used += n
                budget -= n

    def _fill_through(self, side: int, prices: list[int], budget: int) -> int:
        """Fill resting orders of ``side`` at ``prices`` (in that order) from ``budget`` lots.

        Returns the lots left.
        """
        for price in prices:
            for order in list(self._resting[side].get(price, ())):
                if budget <= 0:
                    return 0
                budget -= self._fill(order, min(order.remaining, budget), price, maker=True)
        return budget

    def _finish_rebuild(self) -> None:
        saved, self._saved = self._saved, {}
        for side, before in saved.items():
            prices = set(self._resting[side])
            other = self._resting[1 - side]
            if other:
                # levels of the rebuilt side that cross our best order on the other side
                if side == ASK:
                    bound = max(other)
                    crossing = [p for p, _ in self.book.iter_levels(side) if p <= bound]
                else:
                    bound = min(other)
                    crossing = [p for p, _ in self.book.iter_levels(side) if p >= bound]
                prices.update(crossing)
            for price in sorted(prices, reverse=side == BID):  # from the touch outwards
                prev, new = before.get(price, 0), self.book.qty(side, price)
                if prev != new:
                    self._level_changed(side, price, prev, new)

    # ---------------------------------------------------------------- orders

    def arrive(self, order: LiveOrder) -> None:
        """A new order reaches the matching engine."""
        req = order.request
        if req.reduce_only and self._reducible(req.side) == 0:
            self._finish(order, OrderStatus.REJECTED, "reduce-only order would not reduce")
            return
        if req.tif is TimeInForce.POST_ONLY and self._available(req.side, req.price_ticks, 1):
            self._finish(order, OrderStatus.REJECTED, "post-only order would take liquidity")
            return
        order.status = OrderStatus.ACCEPTED
        self.sink.status(order)
        if req.tif is TimeInForce.FOK:
            need = order.remaining
            if self._available(req.side, req.price_ticks, need) < need:
                self._finish(order, OrderStatus.CANCELLED, "fill-or-kill: not enough liquidity")
                return
        self._execute(order)

    def _execute(self, order: LiveOrder) -> None:
        self._take(order)
        if order.done:
            return
        req = order.request
        if req.price_ticks is None:
            why = "no more liquidity" if order.filled_lots else "no liquidity"
            self._finish(order, OrderStatus.CANCELLED, f"market order: {why} on the book")
        elif req.tif in (TimeInForce.IOC, TimeInForce.FOK):
            self._finish(order, OrderStatus.CANCELLED, "immediate-or-cancel: rest unfilled")
        else:
            self._rest(order)

    def cancel(self, order: LiveOrder) -> bool:
        """A cancel reaches the engine; False if the order had finished first."""
        if order.done:
            return False
        self._finish(order, OrderStatus.CANCELLED, "cancelled on request")
        return True

    def amend(self, order: LiveOrder, qty_lots: int | None, price_ticks: int | None) -> bool:
        """An amend reaches the engine; False if the order had finished first.

        A new price re-enters the order (it may take, and it queues anew); a larger size
        sends it to the back of its queue; a smaller one keeps its place. A size at or
        under what has filled cancels the rest.
        """
        if order.done:
            return False
        req = order.request
        qty = req.qty_lots if qty_lots is None else qty_lots
        price = req.price_ticks if price_ticks is None else price_ticks
        if qty <= order.filled_lots:
            self._finish(order, OrderStatus.CANCELLED, "amended to no more than has filled")
            return True
        moved, grew = price != req.price_ticks, qty > req.qty_lots
        if moved:
            self._unrest(order)  # under its old price, before the request changes
        order.request = req.replace(qty_lots=qty, price_ticks=price)
        if moved:
            if req.tif is TimeInForce.POST_ONLY and self._available(req.side, price, 1):
                self._finish(order, OrderStatus.CANCELLED, "post-only amend would take liquidity")
                return True
            self.sink.status(order, "amended")
            self._execute(order)
        else:
            if grew:
                self._unrest(order)
                self._rest(order)
            self.sink.status(order, "amended")
        return True

    def resting(self) -> list[LiveOrder]:
        """The orders resting now, in time priority."""
        orders = [o for side in self._resting for level in side.values() for o in level]
        return sorted(orders, key=lambda o: o.priority)

    # --------------------------------------------------------------- helpers

    def _take(self, order: LiveOrder) -> None:
        req = order.request
        opposite = ASK if req.side is Side.BUY else BID
        taken = self._taken[opposite]
        for price, qty in list(self.book.iter_levels(opposite)):
            if not _crosses(req.side, req.price_ticks, price):
                break
            avail = qty - taken.get(price, 0)
            if avail <= 0:
                continue
            n = self._fill(order, min(avail, order.remaining), price, maker=False)
            taken[price] = taken.get(price, 0) + n
            if order.done or n == 0:
                break

    def _available(self, side: Side, limit: int | None, need: int) -> int:
        """Lots an order of ``side`` at ``limit`` could take now, counted up to ``need``."""
        opposite = ASK if side is Side.BUY else BID
        taken = self._taken[opposite]
        total = 0
        for price, qty in self.book.iter_levels(opposite):
            if not _crosses(side, limit, price) or total >= need:
                break
            total += max(qty - taken.get(price, 0), 0)
        return total

    def _reducible(self, side: Side) -> int:
        """Lots an order of ``side`` can trade before the position would grow the other way."""
        return max(-self.position if side is Side.BUY else self.position, 0)

    def _fill(self, order: LiveOrder, qty: int, price: int, maker: bool) -> int:
        """Execute ``qty`` lots of ``order`` at ``price``; the lots actually filled."""
        req = order.request
        if req.reduce_only:
            qty = min(qty, self._reducible(req.side))
            if qty <= 0:
                self._finish(order, OrderStatus.CANCELLED, "reduce-only: position closed")
                return 0
        order.filled_lots += qty
        order.filled_cost += qty * price
        self.position += qty * req.side.sign
        if order.remaining == 0:
            order.status = OrderStatus.FILLED
            self._unrest(order)
        else:
            order.status = OrderStatus.PARTIALLY_FILLED
        self.sink.filled(order, qty, price, maker)
        if req.reduce_only and not order.done and self._reducible(req.side) == 0:
            self._finish(order, OrderStatus.CANCELLED, "reduce-only: position closed")
        return qty

    def _rest(self, order: LiveOrder) -> None:
        side, price = order.book_side, order.request.price_ticks
        order.queue = self.model.new(self.book.qty(side, price))
        self._priority += 1
        order.priority = self._priority
        self._resting[side].setdefault(price, []).append(order)

    def _unrest(self, order: LiveOrder) -> None:
        if order.queue is None:
            return
        side, price = order.book_side, order.request.price_ticks
        level = self._resting[side][price]
        level.remove(order)
        if not level:
            del self._resting[side][price]
        order.queue = None

    def _finish(self, order: LiveOrder, status: OrderStatus, reason: str) -> None:
        order.status = status
        self._unrest(order)
        self.sink.status(order, reason)
