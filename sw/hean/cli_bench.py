"""``hean bench``: benchmarks that print their figures (and write them as JSON)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hean.cli import main, out, progress_bar


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
