"""``hean book``: the order book the feature engine keeps, after a whole file.

Registers itself on :data:`hean.cli.main` when imported, like the other command modules.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from hean.cli import engine_params, err, main, out, progress_bar, user_errors
from hean.wire import Params


@main.command()
@click.argument("src", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--levels",
    type=click.IntRange(1, 64),
    default=10,
    show_default=True,
    help="Levels shown per side (at most K).",
)
@engine_params
def book(src: Path, levels: int, **params: int) -> None:
    """Run SRC (.hl2) through the mirror and print each instrument's book at the end.

    The book is the one the feature core keeps: K levels per side, best first, with
    prices and sizes in the instrument's units when SRC has a sidecar (else in ticks
    and lots), and below it the last record's spread, imbalances and OFI.
    """
    from hean.engine import Mirror
    from hean.feeds.sidecar import default_instrument, read_sidecar
    from hean.wire import FileKind, Status, open_file

    with user_errors():
        f = open_file(src, expect=FileKind.HL2)
        p = Params(**params)
        sidecar = read_sidecar(src)
        if sidecar is None:
            err.print(f"[yellow]note:[/] {src} has no sidecar; prices in ticks, sizes in lots")
        mirror = Mirror(p)
        last: dict[int, object] = {}
        with progress_bar(len(f), "book") as tick:
            done = 0
            for chunk in f.chunks(1 << 18):
                recs = mirror.process(chunk)
                ends = recs[(recs["status"] & int(Status.END)) != 0]
                for i in set(ends["instrument"].tolist()):
                    last[i] = ends[ends["instrument"] == i][-1]
                done += len(chunk)
                tick(done)
    if not last:
        raise click.ClickException(f"{src}: no complete book update of an instrument below N")
    for inst in sorted(last):
        spec = sidecar.by_id(inst) if sidecar is not None else default_instrument(inst)
        tick_size, lot = spec.tick_decimal, spec.lot_decimal
        bids, asks = mirror.book(inst)
        table = Table(title=f"{spec.symbol} (id {inst}): {len(bids)} bids, {len(asks)} asks "
                            f"kept (K={p.K})")  # fmt: skip
        for col in ("bid size", "bid", "ask", "ask size"):
            table.add_column(col, justify="right")
        for k in range(min(levels, max(len(bids), len(asks)))):
            b = bids[k] if k < len(bids) else None
            a = asks[k] if k < len(asks) else None
            table.add_row(
                f"{b[1] * lot}" if b else "", f"{b[0] * tick_size}" if b else "",
                f"{a[0] * tick_size}" if a else "", f"{a[1] * lot}" if a else "",
            )  # fmt: skip
        out.print(table)
        r = last[inst]
        spread = (int(r["ask_px"]) - int(r["bid_px"])) if bids and asks else None
        out.print(
            f"  spread {spread if spread is not None else '-'} ticks, imbalance top "
            f"{int(r['imb_l1']) / 32768:+.3f}, depth {int(r['imb_depth']) / 32768:+.3f}, "
            f"OFI {int(r['ofi']):,} lots"
        )
