"""``hean bench``: benchmarks that print their figures (and write them as JSON)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from hean.cli import engine_params, err, main, out, progress_bar, user_errors
from hean.latency_bench import ALVEO_MHZ, ZYNQ_MHZ
from hean.wire import Params


@main.group()
def bench() -> None:
    """Benchmarks of HEAN's hot paths; each prints its figures."""


@bench.command("fastpath")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Also write the figures to this JSON file.")  # fmt: skip
@click.option("--decisions", type=click.IntRange(100_000, 10_000_000), default=200_000,
              show_default=True, help="Feature records timed, one decision each.")  # fmt: skip
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=1, show_default=True)
def fastpath(json_path: Path | None, decisions: int, seed: int) -> None:
    """Feature record in -> order request out, in process, timed per decision.

    Records of a synthetic 4-instrument session go one by one through physics, the
    impulse engine and its filters, the risk governor and the sizer; then 20,000
    records built to pass every filter run the whole path to an order request. Prints
    p50, p99 and max in microseconds for both.
    """
    from hean.fastpath_bench import run

    with progress_bar(decisions, "fastpath") as tick:
        r = run(decisions, seed, progress=tick)
    out.print(
        f"{r.n:,} decisions of a session: p50 {r.p50_us:.2f} us, p99 {r.p99_us:.2f} us, "
        f"max {r.max_us:.1f} us; {r.orders:,} decisions ending in an order request: "
        f"p50 {r.order_p50_us:.1f} us, p99 {r.order_p99_us:.1f} us"
    )
    if json_path is not None:
        json_path.write_text(json.dumps(r.as_dict(), indent=2) + "\n")
        out.print(f"figures written to {json_path}")


@bench.command("latency")
@click.argument("data", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Also write the figures to this JSON file.")  # fmt: skip
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Also draw a CDF and a bar chart into this PNG.")  # fmt: skip
@engine_params
@click.option(
    "--messages",
    type=click.IntRange(1, 1 << 31),
    default=200_000,
    show_default=True,
    help="Time the first MESSAGES of DATA (all if fewer).",
)
@click.option("--rtl/--no-rtl", default=True, show_default=True,
              help="Run the RTL core under Verilator (built once per K,N, cached); --no-rtl "
              "reports only its elaborated latency and the manifest's Fmax.")  # fmt: skip
@click.option(
    "--zynq-mhz",
    type=click.FloatRange(1, 1000),
    default=ZYNQ_MHZ,
    show_default=True,
    help="Zynq target clock in MHz (a target, not measured).",
)
@click.option(
    "--alveo-mhz",
    type=click.FloatRange(1, 1000),
    default=ALVEO_MHZ,
    show_default=True,
    help="Alveo target clock in MHz (a target, not measured).",
)
def latency(data: Path, json_path: Path | None, plot_path: Path | None, messages: int,
            rtl: bool, zynq_mhz: float, alveo_mhz: float, **params: int) -> None:  # fmt: skip
    """Latency per message of the mirror and of the RTL core, on the stream in DATA (.hl2).

    The mirror is timed on the wall clock fed one message per call and in batches of
    64, 1,024 and 65,536; the RTL core runs the same messages back to back under
    Verilator, and its latency in clocks becomes nanoseconds at the ECP5 Fmax of
    bitstreams/manifest.json and at the Zynq and Alveo target clocks. Prints a table.

    When Verilator cannot run, the mirror's figures are still printed and written, the
    RTL part holds only the elaborated latency, and the exit status is 1 (pass --no-rtl
    to leave the RTL out on purpose, with status 0).
    """
    from hean.latency_bench import render_table, run, summary_lines, write_plot
    from hean.wire import FileKind, open_file

    with user_errors():
        infile = open_file(data, expect=FileKind.HL2)
        if len(infile) == 0:
            raise click.ClickException(f"{data}: holds no messages")
        p = Params(**params)
        if infile.params.N > p.N:
            err.print(f"[yellow]warning:[/] {data} was written for N={infile.params.N}; with "
                      f"--N {p.N} messages for instruments >= {p.N} are bad messages")  # fmt: skip
        msgs = np.array(infile.items[:messages])  # in memory: no page faults in the timing
        result = run(data, msgs, p, rtl=rtl, zynq_mhz=zynq_mhz, alveo_mhz=alveo_mhz,
                     progress=lambda label, total: progress_bar(total, label))  # fmt: skip
    out.print(render_table(result))
    for line in summary_lines(result):
        out.print(line)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result.doc, indent=2) + "\n")
        out.print(f"figures written to {json_path}")
    if plot_path is not None:
        write_plot(result, plot_path)
        out.print(f"plot written to {plot_path}")
    if result.rtl_error is not None:
        err.print(f"[red]error:[/] the RTL was not measured: {result.rtl_error}")
        err.print("pass --no-rtl to leave it out on purpose")
        raise SystemExit(1)
