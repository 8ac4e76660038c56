"""The ``hean`` command line.

Every command validates its arguments before touching a file, reports bad input with a
one-line error (exit status 1 for a bad file, 2 for a bad argument) and never leaves a
half-written output behind.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from hean import __version__
from hean.wire import PARAM_RANGES, Params, WireError


def _console(stderr: bool = False) -> Console:
    """A console that never wraps a line; wide tables when writing to a file or pipe."""
    probe = Console(stderr=stderr)
    width = None if probe.is_terminal else 200
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=width)


err = _console(stderr=True)
out = _console()


def _param_option(name: str, flag: str, help_text: str) -> Callable:
    default, low, high = PARAM_RANGES[name]
    return click.option(
        flag,
        name,
        type=click.IntRange(low, high),
        default=default,
        show_default=True,
        help=f"{help_text} ({low}..{high}).",
    )


def engine_params(func: Callable) -> Callable:
    """Attach the six HL2 build parameters as options, with the spec's defaults and ranges."""
    options = [
        ("K", "--K", "Price levels kept per side per instrument"),
        ("N", "--N", "Instruments handled; a message for instrument >= N is bad"),
        ("ofi_shift", "--ofi-shift", "Decay shift of the OFI accumulator"),
        ("flow_shift", "--flow-shift", "Decay shift of the trade-flow accumulators"),
        ("ice_min_refills", "--ice-min-refills", "Refills before a level is an iceberg"),
        ("ice_absorb_ratio", "--ice-absorb-ratio", "Absorbed volume / shown size for an iceberg"),
    ]
    for name, flag, text in reversed(options):
        func = _param_option(name, flag, text)(func)
    return func


@contextmanager
def progress_bar(total: int, label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr while work runs; silent when stderr is not a terminal."""
    with Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda done: bar.update(task, completed=done)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the errors a user can cause into one clear line and exit status 1."""
    from hean.engine.base import EngineError
    from hean.feeds.sidecar import SidecarError

    try:
        yield
    except (WireError, SidecarError, EngineError) as exc:
        raise click.ClickException(str(exc)) from None
    except FileNotFoundError as exc:
        raise click.ClickException(f"{exc.filename}: no such file") from None
    except OSError as exc:
        raise click.ClickException(f"{exc.filename or ''}: {exc.strerror or exc}") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hean")
def main() -> None:
    """HEAN: hybrid FPGA + Python trading for Bybit.

    Market data travels as HL2 messages (.hl2 files); the feature engine turns each
    message into a 128-byte feature record (.hlf files). The software mirror computes
    exactly the records the FPGA core does. Run `hean COMMAND --help` for details.
    """


@main.command()
@click.argument("src", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    "dst",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The .hlf file to write (replaced only when the run succeeds).",
)
@click.option(
    "--engine",
    type=click.Choice(["mirror", "verilator", "auto"]),
    default="mirror",
    show_default=True,
    help="Feature engine: the software mirror, or the RTL core under Verilator (built once "
    "per parameter set, minutes, cached in ~/.cache/hean/verilator), or auto: a PYNQ board "
    "when one answers and bitstreams/ has a bitstream for the parameters, else the mirror.",
)
@engine_params
@click.option(
    "--chunk",
    type=click.IntRange(1, 1 << 24),
    default=1 << 18,
    show_default=True,
    help="Messages per batch.",
)
def features(src: Path, dst: Path, engine: str, chunk: int, **params: int) -> None:
    """Compute feature records for every message of SRC (.hl2) into an .hlf file.

    The output header carries the parameters used. Prints one summary line:
    messages, records, bad, gaps, dropped and throughput.
    """
    from hean.engine import open_engine
    from hean.engine.runner import run_file
    from hean.feeds.sidecar import read_sidecar, sidecar_path
    from hean.wire import FileKind, open_file

    with user_errors():
        if src.exists() and dst.exists() and src.resolve() == dst.resolve():
            raise click.BadParameter("output would overwrite the input", param_hint="-o")
        infile = open_file(src, expect=FileKind.HL2)
        p = Params(**params)
        if infile.params.N > p.N:
            err.print(
                f"[yellow]warning:[/] {src} was written for N={infile.params.N}; with --N {p.N} "
                f"messages for instruments {p.N}..{infile.params.N - 1} are bad messages"
            )
        sidecar = read_sidecar(src)
        if sidecar is None:
            err.print(f"[yellow]note:[/] {src} has no sidecar; instruments are shown by id")
        if engine == "auto":
            from hean.engine.board import choose_engine

            eng, why = choose_engine(engine, p)
            err.print(f"engine: {eng.name} ({why})", markup=False)
        else:
            eng = open_engine(engine, p)
        if hasattr(eng, "warm_up"):
            eng.warm_up()  # compile before the clock starts
        part = dst.with_name(dst.name + ".part")
        try:
            with progress_bar(len(infile), "features") as tick:
                summary = run_file(eng, src, part, chunk=chunk, progress=tick)
            part.replace(dst)
        finally:
            part.unlink(missing_ok=True)
        if sidecar is not None:
            shutil.copyfile(sidecar_path(src), sidecar_path(dst))
    out.print(summary.line().replace(str(part), str(dst)))


@main.command()
@click.option(
    "-o",
    "--output",
    "dst",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The .hl2 file to write; its sidecar goes to OUTPUT.json.",
)
@click.option(
    "--instruments",
    type=click.IntRange(1, 256),
    default=2,
    show_default=True,
    help="Instruments in the session (BTCUSDT, ETHUSDT, SOLUSDT, ... by id).",
)
@click.option(
    "--messages",
    type=click.IntRange(1, 1 << 31),
    default=1_000_000,
    show_default=True,
    help="Exact number of HL2 messages to write.",
)
@click.option(
    "--seed",
    type=click.IntRange(0, 2**63 - 1),
    default=1,
    show_default=True,
    help="Same seed, same bytes.",
)
@click.option(
    "--levels",
    type=click.IntRange(1, 1000),
    default=50,
    show_default=True,
    help="Levels per side in each snapshot.",
)
@click.option(
    "--faults",
    is_flag=True,
    help="Plant sequence gaps, bad messages of every kind and resyncs.",
)
def synth(dst: Path, instruments: int, messages: int, seed: int, levels: int, faults: bool) -> None:
    """Write a synthetic L2 session (.hl2 plus its instrument sidecar).

    Snapshots, deltas near the touch, trades that move the book, planted icebergs and
    realistic timestamps over several instruments; deterministic for a seed.
    """
    from hean.feeds.synth import SynthConfig, write_session

    with user_errors():
        try:
            config = SynthConfig(
                instruments=instruments, messages=messages, seed=seed, faults=faults, levels=levels
            )
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
        with progress_bar(messages, "synth") as tick:
            sidecar = write_session(dst, config, progress=tick)
    symbols = ", ".join(f"{i.id}={i.symbol}" for i in sidecar.instruments)
    out.print(f"wrote {messages:,} messages ({symbols}) to {dst}")


@main.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--rows",
    type=click.IntRange(0, 1000),
    default=5,
    show_default=True,
    help="First and last items shown.",
)
def inspect(path: Path, rows: int) -> None:
    """Show the header, counts and first/last items of an .hl2 or .hlf file."""
    from hean.inspect import describe

    with user_errors():
        describe(path, rows, out)


@main.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def summary(path: Path) -> None:
    """Per-instrument digest of an .hlf file: activity, prices, spread, OFI, icebergs.

    Book figures come from END records (the state after each whole exchange update).
    """
    from rich.table import Table

    from hean.feeds.sidecar import read_sidecar
    from hean.summary import summarize
    from hean.wire import FileKind, open_file

    with user_errors():
        f = open_file(path, expect=FileKind.HLF)
        sidecar = read_sidecar(path)
        rows = summarize(f.items, sidecar)
    table = Table(title=f"{path}: {len(f):,} records, K={f.params.K}", title_justify="left")
    columns = [
        "instrument",
        "records",
        "updates",
        "trades",
        "bad",
        "gap recs",
        "dropped",
        "mid first -> last",
        "spread ticks p50/p99",
        "mean imb l1",
        "ofi last (min..max)",
        "iceberg episodes b/a",
    ]
    for col in columns:
        table.add_column(col, justify="right")
    for r in rows:
        mids = f"{r.first_mid} -> {r.last_mid}" if r.first_mid is not None else "-"
        spread = (
            f"{r.spread_ticks_median:g}/{r.spread_ticks_p99:g}"
            if r.spread_ticks_median is not None
            else "-"
        )
        table.add_row(
            f"{r.instrument} {r.symbol}",
            f"{r.records:,}",
            f"{r.updates:,}",
            f"{r.trades:,}",
            f"{r.bad:,}",
            f"{r.gap_records:,}",
            f"{r.dropped:,}",
            mids,
            spread,
            f"{r.imb_l1_mean:+.3f}",
            f"{r.ofi_last:,} ({r.ofi_min:,}..{r.ofi_max:,})",
            f"{r.iceberg_episodes_bid}/{r.iceberg_episodes_ask}",
        )
    out.print(table)
    if sidecar is None:
        out.print("no sidecar: instruments by id, prices in raw ticks")


# The gateway's commands (convert, record, replay, registry), the benchmarks and the order
# journal's commands live in their own modules.
from hean import (  # noqa: E402, F401
    cli_backtest,
    cli_bench,
    cli_board,
    cli_book,
    cli_feeds,
    cli_journal,
)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
