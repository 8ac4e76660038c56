"""Human-readable views of ``.hl2`` and ``.hlf`` files (``hean inspect``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from hean.feeds.sidecar import Sidecar, read_sidecar
from hean.wire import FileKind, HL2File, MsgType, Status, open_file

TYPE_NAMES = {int(t): t.name for t in MsgType}


def type_name(code: int) -> str:
    """The name of a message type, or ``?code`` for one outside the spec."""
    return TYPE_NAMES.get(int(code), f"?{int(code)}")


def status_names(status: int) -> str:
    """Status bits as names joined by ``|`` (``-`` when none is set)."""
    names = [s.name for s in Status if status & s and s.name]
    return "|".join(n for n in names if n) or "-"


def timestamp(ns: int) -> str:
    """An ns-since-epoch stamp as UTC ISO time with microseconds (``-`` for 0)."""
    if not ns:
        return "-"
    when = dt.datetime.fromtimestamp(int(ns) // 1000 / 1e6, tz=dt.UTC)
    return when.strftime("%Y-%m-%d %H:%M:%S.%f")


def _price(ticks: int, inst: int, sidecar: Sidecar | None) -> str:
    if sidecar is None or not ticks:
        return f"{int(ticks)}"
    return f"{int(ticks)} ({Decimal(int(ticks)) * sidecar.by_id(int(inst)).tick_decimal})"


def _header_table(f: HL2File, sidecar: Sidecar | None) -> Table:
    t = Table(title=f"{f.path}", show_header=False, title_justify="left")
    t.add_row("kind", f".{f.kind.name.lower()} (HL2 v1), {len(f):,} {f.kind.items}")
    t.add_row("parameters", "  ".join(f"{k}={v}" for k, v in f.params.as_dict().items()))
    if sidecar is None:
        t.add_row("instruments", "no sidecar: shown by id, prices in raw ticks")
    else:
        t.add_row(
            "instruments",
            ", ".join(
                f"{i.id}={i.symbol} (tick {i.tick}, lot {i.lot})" for i in sidecar.instruments
            ),
        )
        if sidecar.source:
            t.add_row("source", sidecar.source)
    return t


def _symbol(inst: int, sidecar: Sidecar | None) -> str:
    if sidecar is None:
        return str(int(inst))
    return f"{int(inst)} {sidecar.by_id(int(inst)).symbol}"


def _select(items: np.ndarray, rows: int) -> list[tuple[int, np.void]]:
    n = len(items)
    idx = list(range(min(rows, n))) + list(range(max(rows, n - rows), n))
    return [(i, items[i]) for i in idx]


def _messages(f: HL2File, rows: int, sidecar: Sidecar | None, console: Console) -> None:
    items = f.items
    counts = np.bincount(np.asarray(items["type"]), minlength=256)
    summary = Table(title="messages by type", title_justify="left")
    for name in ["SET", "TRADE", "CLEAR", "HEARTBEAT", "other"]:
        summary.add_column(name, justify="right")
    known = [int(counts[int(t)]) for t in MsgType]
    summary.add_row(*[f"{c:,}" for c in known], f"{len(items) - sum(known):,}")
    console.print(summary)
    if len(items):
        insts = np.unique(np.asarray(items["instrument"]))
        span = (int(items["exch_ts_ns"][-1]) - int(items["exch_ts_ns"][0])) / 1e9
        console.print(
            f"instruments seen: {', '.join(_symbol(i, sidecar) for i in insts)}; "
            f"exchange time {timestamp(items['exch_ts_ns'][0])} .. "
            f"{timestamp(items['exch_ts_ns'][-1])} ({span:,.3f} s)"
        )
    t = Table(title=f"first and last {rows}", title_justify="left")
    for col in [
        "#",
        "type",
        "side",
        "flags",
        "inst",
        "seq",
        "price",
        "qty",
        "exch time",
        "recv-exch µs",
    ]:
        t.add_column(col, justify="right")
    for i, m in _select(items, rows):
        lat = (int(m["recv_ts_ns"]) - int(m["exch_ts_ns"])) / 1e3 if m["recv_ts_ns"] else 0
        t.add_row(
            f"{i:,}",
            type_name(m["type"]),
            str(m["side"]),
            str(m["flags"]),
            _symbol(m["instrument"], sidecar),
            str(m["seq"]),
            _price(m["price"], m["instrument"], sidecar),
            str(m["qty"]),
            timestamp(m["exch_ts_ns"]),
            f"{lat:,.1f}",
        )
    console.print(t)


def _records(f: HL2File, rows: int, sidecar: Sidecar | None, console: Console) -> None:
    items = f.items
    status = np.asarray(items["status"])
    summary = Table(title="records by status bit", title_justify="left")
    for s in Status:
        summary.add_column(str(s.name), justify="right")
    summary.add_row(*[f"{int(np.count_nonzero(status & int(s))):,}" for s in Status])
    console.print(summary)
    book = Table(title=f"first and last {rows}: book and order flow", title_justify="left")
    for col in [
        "#",
        "seq",
        "inst",
        "type",
        "status",
        "bid px",
        "bid qty",
        "ask px",
        "ask qty",
        "lv b/a",
        "imb l1",
        "imb depth",
        "ofi",
        "e",
    ]:
        book.add_column(col, justify="right")
    extra = Table(
        title=f"first and last {rows}: trade flow, icebergs, engine stamps", title_justify="left"
    )
    for col in [
        "#",
        "buy flow",
        "sell flow",
        "ice px b/a",
        "refills b/a",
        "absorbed b/a",
        "t_in",
        "t_out",
    ]:
        extra.add_column(col, justify="right")
    for i, r in _select(items, rows):
        inst = r["instrument"]
        book.add_row(
            f"{i:,}",
            str(r["seq"]),
            _symbol(inst, sidecar),
            type_name(r["type"]),
            status_names(int(r["status"])),
            _price(r["bid_px"], inst, sidecar),
            str(r["bid_qty"]),
            _price(r["ask_px"], inst, sidecar),
            str(r["ask_qty"]),
            f"{r['levels_bid']}/{r['levels_ask']}",
            str(r["imb_l1"]),
            str(r["imb_depth"]),
            str(r["ofi"]),
            str(r["ofi_event"]),
        )
        extra.add_row(
            f"{i:,}",
            str(r["buy_flow"]),
            str(r["sell_flow"]),
            f"{_price(r['ice_px_bid'], inst, sidecar)}/{_price(r['ice_px_ask'], inst, sidecar)}",
            f"{r['ice_refills_bid']}/{r['ice_refills_ask']}",
            f"{r['ice_absorbed_bid']}/{r['ice_absorbed_ask']}",
            str(r["engine_t_in"]),
            str(r["engine_t_out"]),
        )
    console.print(book)
    console.print(extra)


def describe(path: Path, rows: int, console: Console) -> None:
    """Print the header, counts and the first and last ``rows`` items of a file.

    Raises
    ------
    hean.wire.WireError
        If the file is not a valid ``.hl2`` or ``.hlf`` file.
    """
    f = open_file(path)
    sidecar = read_sidecar(path)
    console.print(_header_table(f, sidecar))
    if f.kind is FileKind.HL2:
        _messages(f, rows, sidecar, console)
    else:
        _records(f, rows, sidecar, console)
