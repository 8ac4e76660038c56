"""Double buffering for engines behind a DMA: the schedule both board drivers share."""

from __future__ import annotations

from collections.abc import Callable


def double_buffered(
    n: int,
    batch: int,
    fill: Callable[[int, int, int], None],
    launch: Callable[[int, int], None],
    finish: Callable[[int, int, str], None],
    collect: Callable[[int, int, int], None],
) -> None:
    """Stream ``n`` messages in batches of ``batch`` through two buffer slots (0 and 1).

    While batch *i* is on the wire in its slot, batch *i + 1* is copied into the other
    slot; once batch *i* is done, batch *i + 1* is launched before batch *i*'s results
    are copied out, so that both copies overlap transfers.

    Parameters
    ----------
    fill : callable
        ``fill(slot, start, stop)``: copy messages ``start..stop-1`` into the slot's input.
    launch : callable
        ``launch(slot, count)``: start the slot's transfer of ``count`` messages.
    finish : callable
        ``finish(slot, count, what)``: wait for it (``what`` names the batch for errors).
    collect : callable
        ``collect(slot, start, stop)``: copy the slot's results out.
    """
    spans = [(s, min(s + batch, n)) for s in range(0, n, batch)]
    if not spans:
        return
    fill(0, *spans[0])
    launch(0, spans[0][1] - spans[0][0])
    for i, (start, stop) in enumerate(spans):
        nxt = spans[i + 1] if i + 1 < len(spans) else None
        if nxt is not None:
            fill((i + 1) % 2, *nxt)
        what = f"batch {i + 1} of {len(spans)} (messages {start}..{stop - 1})"
        finish(i % 2, stop - start, what)
        if nxt is not None:
            launch((i + 1) % 2, nxt[1] - nxt[0])
        collect(i % 2, start, stop)
