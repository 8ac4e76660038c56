"""``hean board info | flash | selftest``: FPGA boards from the shell.

Registers itself on :data:`hean.cli.main` when imported, like the other command modules.
Without a board, ``info`` says so and exits 0 (feature engines then use the mirror);
``flash`` and ``selftest`` exit 1 with the reason.
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from hean.cli import engine_params, err, main, out, progress_bar, user_errors
from hean.wire import CONTRACT_BYTES, REC_DTYPE, Params

bitstream_argument = click.argument("bitstream", type=click.Path(dir_okay=False, path_type=Path))


def _hex_or_int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value, 0)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a number (0x... for hex)") from None


def board_options(func):  # type: ignore[no-untyped-def]
    """The block-design names and the expected build id, shared by flash and selftest."""
    from hean.engine.board import DMA_NAME, REGS_NAME

    func = click.option("--build-id", "build_id", help="Build id the core must report "
                        "(default: the one its manifest entry records).")(func)  # fmt: skip
    func = click.option("--regs", "regs_name", default=REGS_NAME, show_default=True,
                        help="Block-design name of the core's register block.")(func)  # fmt: skip
    func = click.option("--dma", "dma_name", default=DMA_NAME, show_default=True,
                        help="Block-design name of the AXI DMA.")(func)  # fmt: skip
    return engine_params(func)


def _open(bitstream: Path, dma_name: str, regs_name: str, build_id: str | None, params: dict):
    """A loaded, checked :class:`PynqEngine`, or exit 1 saying why not."""
    from hean.engine.board import BoardError, PynqEngine, probe_boards

    boards, why = probe_boards()
    if not any(b.kind == "pynq" for b in boards):
        found = f" (found: {', '.join(f'{b.kind} {b.name}' for b in boards)})" if boards else ""
        raise click.ClickException(
            f"no PYNQ board found{found} ({why}): nothing to load {bitstream} onto"
        )
    try:
        return PynqEngine(bitstream, Params(**params), dma_name=dma_name, regs_name=regs_name,
                          build_id=_hex_or_int(build_id))  # fmt: skip
    except BoardError as exc:
        raise click.ClickException(str(exc)) from None


@main.group()
def board() -> None:
    """FPGA boards: which answer, loading a bitstream, and checking it against the mirror.

    `info` lists the boards found; `flash` loads an overlay and checks its register block;
    `selftest` streams messages through the board and compares with the mirror.
    """


@board.command("info")
def info() -> None:
    """List the boards that answer here, or say there is none (the mirror is then used)."""
    from hean.engine.board import bitstreams_dir, probe_boards

    boards, why = probe_boards()
    if not boards:
        out.print(f"no board found ({why}): feature engines fall back to the mirror",
                  markup=False)  # fmt: skip
    for b in boards:
        out.print(f"{b.kind}: {b.name}" + (f" ({b.detail})" if b.detail else ""), markup=False)
    folder = bitstreams_dir()
    loadable = sorted(p.name for p in folder.glob("*.bit") if p.with_suffix(".hwh").exists())
    out.print(f"PYNQ bitstreams with their .hwh in {folder}: {', '.join(loadable) or 'none'}",
              markup=False)  # fmt: skip
    xclbins = sorted(p.name for p in folder.glob("*.xclbin"))
    out.print(f"Alveo xclbins in {folder}: {', '.join(xclbins) or 'none'}", markup=False)


@board.command("flash")
@bitstream_argument
@board_options
def flash(bitstream: Path, dma_name: str, regs_name: str, build_id: str | None,
          **params: int) -> None:  # fmt: skip
    """Load BITSTREAM (.bit, its .hwh beside it) and check the core's build id and parameters."""
    with user_errors():
        engine = _open(bitstream, dma_name, regs_name, build_id, params)
    ident = engine.identity
    p = " ".join(f"{k}={v}" for k, v in engine.params.as_dict().items())
    checked = "checked" if engine.expected_build_id is not None else "not checked: none expected"
    out.print(f"loaded {bitstream}: build id {ident['build_id']:#010x} ({checked}); {p}; "
              f"latency {engine.latency} clocks; batch {engine.batch} messages",
              markup=False)  # fmt: skip
    engine.close()


def first_difference(board_recs: np.ndarray, mirror_recs: np.ndarray) -> tuple[int, list[str]]:
    """Index of the first record whose bytes 0..111 differ (-1 if none), and its fields."""
    a = board_recs.view(np.uint8).reshape(-1, REC_DTYPE.itemsize)[:, :CONTRACT_BYTES]
    b = mirror_recs.view(np.uint8).reshape(-1, REC_DTYPE.itemsize)[:, :CONTRACT_BYTES]
    rows = np.nonzero((a != b).any(axis=1))[0]
    if not len(rows):
        return -1, []
    i = int(rows[0])
    fields = [f"{name}: board {board_recs[i][name]}, mirror {mirror_recs[i][name]}"
              for name in REC_DTYPE.names or ()
              if REC_DTYPE.fields[name][1] < CONTRACT_BYTES
              and board_recs[i][name] != mirror_recs[i][name]]  # fmt: skip
    return i, fields


@board.command("selftest")
@bitstream_argument
@board_options
@click.option("--messages", type=click.IntRange(1, 1 << 26), default=20_000, show_default=True,
              help="Messages in the synthetic stream (every rule of the contract).")  # fmt: skip
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=1, show_default=True)
def selftest(bitstream: Path, dma_name: str, regs_name: str, build_id: str | None,
             messages: int, seed: int, **params: int) -> None:  # fmt: skip
    """Stream a synthetic session through the board and compare every record with the mirror.

    Bytes 0..111 of each record must be equal, and so must the counters; exits 1 on the
    first difference (shown field by field) or without a board.
    """
    from hean.engine import Mirror
    from hean.feeds.adversarial import adversarial_stream

    with user_errors():
        engine = _open(bitstream, dma_name, regs_name, build_id, params)
        p = engine.params
        msgs = adversarial_stream(seed, messages, instruments=p.N, N=p.N)
        recs = np.empty(len(msgs), REC_DTYPE)
        step = engine.batch * 16
        from hean.engine.board import BoardError

        try:
            with progress_bar(len(msgs), "selftest") as tick:
                for start in range(0, len(msgs), step):
                    engine.process_into(msgs[start : start + step], recs[start:])
                    tick(min(start + step, len(msgs)))
            board_counts, framing = engine.counters(), engine.framing_errors()
        except BoardError as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            engine.close()
    mirror = Mirror(p)
    expected = mirror.process(msgs)
    i, fields = first_difference(recs, expected)
    problems = []
    if i >= 0:
        problems.append(f"record {i} (message seq {int(msgs[i]['seq'])}, instrument "
                        f"{int(msgs[i]['instrument'])}) differs: " + "; ".join(fields))  # fmt: skip
    if board_counts != mirror.counters():
        problems.append(f"counters differ: board {board_counts.as_dict()}, "
                        f"mirror {mirror.counters().as_dict()}")  # fmt: skip
    if framing:
        problems.append(f"{framing} framing errors (messages cut short by TLAST)")
    if problems:
        for line in problems:
            err.print(line, markup=False)
        raise click.ClickException(f"selftest FAILED on {bitstream}: {len(problems)} problem(s)")
    out.print(f"selftest OK: {len(msgs):,} messages, records equal to the mirror's (bytes "
              f"0..111), counters equal; build id {engine.identity['build_id']:#010x}",
              markup=False)  # fmt: skip
