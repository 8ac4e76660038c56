"""``hean convert``, ``hean record``, ``hean replay`` and ``hean registry``: the Bybit gateway.

These commands register themselves on :data:`hean.cli.main` when that module is
imported; they share its console, its error handling and its parameter options.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import click

from hean.cli import engine_params, err, main, out, progress_bar, user_errors

registry_option = click.option(
    "--registry",
    "registry_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Instrument registry cache [default: $HEAN_REGISTRY or "
    "~/.cache/hean/bybit-linear-instruments.json].",
)
instrument_option = click.option(
    "--instrument",
    "overrides",
    multiple=True,
    metavar="SYMBOL=ID:TICK:STEP",
    help="An instrument's HL2 id, tick size and qty step (repeatable), e.g. BTCUSDT=0:0.1:0.001.",
)


@contextmanager
def gateway_errors() -> Iterator[None]:
    """Registry and gateway errors as one clear line (exit status 1)."""
    from hean.feeds.bybit.registry import RegistryError

    with user_errors():
        try:
            yield
        except RegistryError as exc:
            raise click.ClickException(str(exc)) from None


def _overrides(texts: tuple[str, ...]) -> list:
    from hean.feeds.bybit.registry import RegistryError, parse_override

    try:
        return [parse_override(t) for t in texts]
    except RegistryError as exc:
        raise click.BadParameter(str(exc), param_hint="--instrument") from None


def _cache(path: Path | None) -> Path:
    from hean.feeds.bybit.registry import default_cache

    return path if path is not None else default_cache()


# --- registry ------------------------------------------------------------------------


@main.group()
def registry() -> None:
    """The Bybit instrument registry: symbol -> HL2 id, tick size, qty step.

    `fetch` asks Bybit (instruments-info, linear) and caches the answer, so that
    conversion and replay work offline; ids never change once given.
    """


@registry.command("fetch")
@click.option("--symbols", required=True, help="Comma-separated symbols, e.g. BTCUSDT,ETHUSDT.")
@click.option("--testnet", is_flag=True, help="Ask Bybit's testnet instead of mainnet.")
@registry_option
def registry_fetch(symbols: str, testnet: bool, registry_path: Path | None) -> None:
    """Fetch SYMBOLS' tick size and qty step from Bybit into the registry cache."""
    from hean.feeds.bybit import registry as rg

    names = _symbols(symbols)
    path = _cache(registry_path)
    with gateway_errors():
        existing = rg.load(path) if path.exists() else None
        reg = rg.fetch(names, testnet=testnet, existing=existing)
        reg.save(path)
    _show(reg, path)


@registry.command("show")
@registry_option
def registry_show(registry_path: Path | None) -> None:
    """List the cached instruments."""
    from hean.feeds.bybit import registry as rg

    path = _cache(registry_path)
    with gateway_errors():
        _show(rg.load(path), path)


def _show(reg, path: Path) -> None:
    from rich.table import Table

    table = Table(title=f"{path} ({reg.source or 'no source'})", title_justify="left")
    for col in ("id", "symbol", "tick", "qty step"):
        table.add_column(col, justify="right")
    for i in sorted(reg.instruments, key=lambda i: i.id):
        table.add_row(str(i.id), i.symbol, i.tick, i.lot)
    out.print(table)


def _symbols(text: str) -> list[str]:
    names = [s.strip().upper() for s in text.split(",") if s.strip()]
    if not names:
        raise click.BadParameter("give at least one symbol", param_hint="--symbols")
    return list(dict.fromkeys(names))


# --- convert -------------------------------------------------------------------------


@main.group()
def convert() -> None:
    """Convert exchange data files to HL2 (.hl2 plus its instrument sidecar)."""


@convert.command("bybit")
@click.argument("src", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", "dst", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="The .hl2 file to write (replaced only when the run succeeds).")  # fmt: skip
@instrument_option
@registry_option
@click.option("--strict", is_flag=True, help="Exit with status 1 if any message was rejected.")
def convert_bybit(
    src: Path, dst: Path, overrides: tuple[str, ...], registry_path: Path | None, strict: bool
) -> None:
    """Convert SRC, raw Bybit V5 messages (JSON lines), to HL2.

    A line is a raw message as in Bybit's historical order-book and trade downloads
    (recv_ts_ns 0), or a line recorded by `hean record bybit` (its receive time is
    kept). The instruments are the --instrument options, or without them the cached
    registry. Rejected messages (bad fields, off-grid prices or sizes, unknown symbols,
    garbage lines) convert to nothing; the first ones are listed with their line
    numbers. Prints the counts: messages in, HL2 out, rejected, gaps, snapshots.
    """
    from hean.feeds.bybit import registry as rg
    from hean.feeds.bybit.convert import convert_file
    from hean.feeds.sidecar import sidecar_path

    given = _overrides(overrides)
    with gateway_errors():
        if dst.exists() and dst.resolve() == src.resolve():
            raise click.BadParameter("output would overwrite the input", param_hint="-o")
        reg = rg.Registry(tuple(given), "--instrument") if given else rg.load(
            _cache(registry_path))  # fmt: skip
        part = dst.with_name(dst.name + ".part")
        try:
            with progress_bar(src.stat().st_size, "convert") as tick:
                report = convert_file(src, part, reg, progress=tick, sidecar_for=dst)
            part.replace(dst)
        except BaseException:
            sidecar_path(dst).unlink(missing_ok=True)
            raise
        finally:
            part.unlink(missing_ok=True)
    c = report.counters
    out.print(
        f"{src}: {c.messages:,} messages in, {c.hl2:,} HL2 out, {c.rejected:,} rejected, "
        f"{c.gaps:,} gaps, {c.snapshots:,} snapshots, {c.ignored:,} deltas ignored while "
        f"stale -> {dst}"
    )
    for number, reason in report.errors:
        err.print(f"[yellow]rejected[/] line {number}: {reason}", markup=True)
    if c.rejected > len(report.errors):
        err.print(f"... and {c.rejected - len(report.errors):,} more rejected")
    if strict and c.rejected:
        raise click.ClickException(f"{c.rejected:,} message(s) rejected (--strict)")


# --- record --------------------------------------------------------------------------


@main.group()
def record() -> None:
    """Record live exchange streams: raw messages and HL2, side by side."""


@record.command("bybit")
@click.option("--symbols", required=True, help="Comma-separated symbols, e.g. BTCUSDT,ETHUSDT.")
@click.option("--depth", type=click.Choice(["1", "50", "200", "1000"]), default="50",
              show_default=True, help="Order-book depth to subscribe to.")  # fmt: skip
@click.option("--testnet", is_flag=True, help="Bybit's testnet instead of mainnet.")
@click.option("-o", "--output", "directory", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Directory for the recording's parts (.jsonl, .hl2, .hl2.json).")  # fmt: skip
@instrument_option
@registry_option
@click.option("--rotate-mb", type=click.IntRange(1, 1 << 20), default=256, show_default=True,
              help="Start a new part after this many MB of raw messages.")  # fmt: skip
@click.option("--rotate-minutes", type=click.FloatRange(min=0.1), default=60.0,
              show_default=True, help="Start a new part after this many minutes.")  # fmt: skip
@click.option("--duration", type=click.FloatRange(min=0.1), default=None,
              help="Stop after this many seconds [default: until Ctrl-C].")  # fmt: skip
def record_bybit(symbols, depth, testnet, directory, overrides, registry_path, rotate_mb,
                 rotate_minutes, duration) -> None:  # fmt: skip
    """Record Bybit's order-book and trade streams for SYMBOLS into DIRECTORY.

    Symbols missing from the registry are fetched from Bybit first (and cached).
    Stops on Ctrl-C (or after --duration) without losing a received message; a live
    status line shows messages, rates, rejections, gaps and reconnects.
    """
    from hean.feeds.bybit import registry as rg
    from hean.feeds.bybit.gateway import Gateway

    names = _symbols(symbols)
    given = _overrides(overrides)
    with gateway_errors():
        path = _cache(registry_path)
        cached = rg.load(path) if path.exists() else rg.Registry(())
        known = {i.symbol for i in cached.instruments} | {o.symbol for o in given}
        missing = [s for s in names if s not in known]
        if missing:
            err.print(f"fetching {', '.join(missing)} from Bybit instruments-info")
            cached = rg.fetch(missing, testnet=testnet, existing=cached)
            cached.save(path)
        reg = cached.with_overrides(given).select(names)
        gw = Gateway(reg, directory, depth=int(depth), testnet=testnet,
                     rotate_bytes=rotate_mb << 20, rotate_s=rotate_minutes * 60)  # fmt: skip
    _run_recording(gw, duration)


def _run_recording(gw, duration: float | None) -> None:
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    worker = threading.Thread(target=gw.run, args=(stop,), name="bybit-gateway", daemon=True)
    start = time.monotonic()
    worker.start()
    try:
        with err.status("connecting") as status:
            while not stop.wait(0.5):
                elapsed = time.monotonic() - start
                if duration is not None and elapsed >= duration:
                    stop.set()
                c = gw.normalizer.counters
                status.update(
                    f"{gw.recorder.raw_count:,} messages ({gw.recorder.raw_count / elapsed:,.0f}/s)"
                    f", {gw.recorder.hl2_count:,} HL2, {c.rejected} rejected, {c.gaps} gaps, "
                    f"{gw.source.connects} connects, {gw.source.resubscribes} resubscribes"
                )
    finally:
        stop.set()
        worker.join()
        for s, handler in previous.items():
            signal.signal(s, handler)
    parts = ", ".join(str(p) for p in gw.recorder.parts)
    rec = gw.recorder
    out.print(f"recorded {rec.raw_count:,} messages, {rec.hl2_count:,} HL2: {parts}")


# --- replay --------------------------------------------------------------------------


def _speed(text: str) -> float | None:
    if text == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not (value > 0 and math.isfinite(value)):
        raise click.BadParameter(
            f"{text!r}: a positive number (1, 10, 0.5) or 'max'", param_hint="--speed"
        )
    return value


@main.command()
@click.argument("src", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--speed", default="1", show_default=True,
              help="1 = recorded pace, 10 = ten times faster, max = at once.")  # fmt: skip
@click.option("--engine", type=click.Choice(["mirror"]), default="mirror", show_default=True,
              help="Feature engine fed by the replay.")  # fmt: skip
@click.option("-o", "--output", "dst", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Also write the feature records to this .hlf file.")  # fmt: skip
@engine_params
def replay(src: Path, speed: str, engine: str, dst: Path | None, **params: int) -> None:
    """Replay SRC (.hl2) into the feature engine at the recorded pace (or faster).

    The pace comes from each message's receive time (exchange time when the file has
    none). A live status line shows messages, msgs/s and each instrument's best bid
    and ask after its latest complete update.
    """
    from rich.live import Live

    from hean.engine import open_engine
    from hean.feeds.replay import pacing_times
    from hean.feeds.replay import replay as run_replay
    from hean.feeds.sidecar import Sidecar, read_sidecar
    from hean.wire import FileKind, Params, Writer, open_file

    factor = _speed(speed)
    with user_errors():
        f = open_file(src, expect=FileKind.HL2)
        sidecar = read_sidecar(src)
        if sidecar is None:
            err.print(f"[yellow]note:[/] {src} has no sidecar; prices in raw ticks")
            sidecar = Sidecar(())
        p = Params(**params)
        eng = open_engine(engine, p)
        if hasattr(eng, "warm_up"):
            eng.warm_up()
        _, field = pacing_times(f.items[:1_000_000]) if factor is not None else (None, "")
        if factor is not None and field == "none":
            err.print("[yellow]note:[/] no timestamps in the file; replaying at full speed")
        writer = Writer(dst, FileKind.HLF, p) if dst is not None else None
        try:
            with Live(console=err, transient=True, refresh_per_second=4) as live:
                last = [0.0]

                def show(st) -> None:
                    if time.monotonic() - last[0] >= 0.25 or st.messages == st.total:
                        last[0] = time.monotonic()
                        live.update(_status_line(st, sidecar))

                final = run_replay(f.items, eng, speed=factor, on_status=show,
                                   on_records=writer.write if writer else None)  # fmt: skip
        finally:
            if writer is not None:
                writer.close()
    out.print(_status_line(final, sidecar))


def _status_line(st, sidecar) -> str:
    books = []
    for ident in sorted(st.books):
        inst = sidecar.by_id(ident)
        b = st.books[ident]
        bid = _px(b.bid_px, inst.tick_decimal) if b.bid_qty else "-"
        ask = _px(b.ask_px, inst.tick_decimal) if b.ask_qty else "-"
        books.append(f"{inst.symbol} {bid}/{ask}")
    rate = f"{st.rate:,.0f} msgs/s"
    return f"{st.messages:,}/{st.total:,} messages, {rate}; " + ("; ".join(books) or "no book yet")


def _px(ticks: int, tick: Decimal) -> str:
    return str(Decimal(ticks) * tick)
