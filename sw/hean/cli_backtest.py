"""``hean backtest``: a recorded session through the whole stack, scored and drawn.

Registers itself on :data:`hean.cli.main` when imported, like the other command modules.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from hean.cli import engine_params, err, main, out, progress_bar, user_errors
from hean.wire import Params


def _engines() -> list[str]:
    from hean.engine import ENGINES

    return [*ENGINES, "auto"]  # auto: a board when one answers, else the mirror


@main.command()
@click.argument("data", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML settings of strategy, exits, risk, execution, fees, latency and the replay; "
    "every key is checked (defaults for what is left out).",
)
@click.option(
    "--engine",
    type=click.Choice(_engines()),
    default="mirror",
    show_default=True,
    help="Feature engine that turns messages into records.",
)
@engine_params
@click.option(
    "--journal",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the order journal here (a new file; check it with `hean journal verify`). "
    "By default a temporary journal is used and removed.",
)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write PNG plots and index.html / report.md into this folder.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the metrics as JSON (METRICS.json).",
)
@click.option(
    "--seed",
    type=click.IntRange(0, 2**63 - 1),
    help="Override backtest.seed (latency draws, slicer jitter).",
)
def backtest(
    data: Path,
    config_path: Path | None,
    engine: str,
    journal: Path | None,
    report_dir: Path | None,
    json_path: Path | None,
    seed: int | None,
    **params: int,
) -> None:
    """Replay DATA (.hl2) through features, strategy, risk, execution and the paper exchange.

    Time is the session's own: each record reaches the strategy at its message's
    receive time, orders leave after the decision latency and reach the paper
    exchange after the entry latency; reports come back after the response latency
    ([latency] in the config). Instrument symbols and steps come from DATA's sidecar
    (DATA.json); without one the run goes on with default steps and a warning.

    Prints the metrics table; --json, --report and --journal keep the results. The
    same data, config and seed give the same metrics (all but wall_s and msgs_per_s).
    """
    import dataclasses

    from hean.backtest.engine import Backtest
    from hean.backtest.metrics import compute
    from hean.backtest.session import load_session
    from hean.config import ConfigError, HeanConfig, load
    from hean.execution.journal import JournalError

    with user_errors():
        try:
            cfg = load(config_path) if config_path is not None else HeanConfig()
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        if seed is not None:
            cfg = dataclasses.replace(cfg, backtest=dataclasses.replace(cfg.backtest, seed=seed))
        if journal is not None and journal.exists():
            raise click.BadParameter(f"{journal} exists; a backtest writes a new journal",
                                     param_hint="--journal")  # fmt: skip
        p = Params(**params)
        try:
            session = load_session(data, max_instruments=p.N)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        for warning in session.warnings:
            err.print(f"[yellow]warning:[/] {warning}")
        chosen = engine  # a name for open_engine, or with auto the engine picked
        if engine == "auto":
            from hean.engine.board import choose_engine

            chosen, why = choose_engine(engine, p)
            err.print(f"engine: {chosen.name} ({why})", markup=False)
        try:
            bt = Backtest(session.instruments, cfg, engine=chosen, params=p, journal=journal)
        except (ValueError, JournalError) as exc:
            raise click.ClickException(str(exc)) from None
        try:
            with progress_bar(len(session.messages), "backtest") as tick:
                done = [0]

                def step(n: int) -> None:
                    done[0] += n
                    tick(done[0])

                result = bt.run(session.messages, progress=step)
            metrics = compute(result)
            if bt.no_recv_ts:
                err.print(
                    f"[yellow]warning:[/] {bt.no_recv_ts:,} messages have no receive time "
                    f"(recv_ts_ns 0): the strategy saw them at their exchange time"
                )
            metrics["data"] = str(data)
            if json_path is not None:
                json_path.parent.mkdir(parents=True, exist_ok=True)
                json_path.write_text(json.dumps(metrics, indent=1) + "\n")
            _print_metrics(metrics)
            if report_dir is not None:
                from hean.backtest.report import write_report

                with progress_bar(1, "report"):
                    index = write_report(result.trace, metrics, report_dir,
                                         title=f"HEAN backtest of {data.name}")  # fmt: skip
                out.print(f"report: {index}")
            if json_path is not None:
                out.print(f"metrics: {json_path}")
            if journal is not None:
                out.print(f"journal: {journal} (check it with `hean journal verify {journal}`)")
        finally:
            bt.close()


def _print_metrics(m: dict) -> None:
    table = Table(title="backtest", show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = [
        ("messages", f"{m['messages']:,}"),
        ("throughput", f"{m['msgs_per_s']:,} msg/s in {m['wall_s']:.2f} s"),
        ("engine", f"{m['engine']['name']} K={m['engine']['params']['K']} "
                   f"N={m['engine']['params']['N']}"),
        ("orders / fills", f"{m['orders']:,} / {m['fills']:,}"),
        ("maker ratio", f"{m['maker_ratio']:.1%}"),
        ("round trips / win rate", f"{m['round_trips']:,} / {m['win_rate']:.1%}"),
        ("PnL", f"{m['pnl']:+,.2f} ({m['return_pct']:+.3f} %)"),
        ("fees", f"{m['fees']:,.2f}"),
        ("Sharpe (annualized)", f"{m['sharpe']:.2f}"),
        ("max drawdown", f"{m['max_drawdown_pct']:.3f} %"),
        ("avg slippage", f"{m['avg_slippage_bps']:+.2f} bps"),
        ("exits", ", ".join(f"{k} {v}" for k, v in m["exits"].items()) or "-"),
        ("open at the end", ", ".join(f"{k} {v:+}" for k, v in m["open_positions"].items())
                            or "flat"),
        ("risk transitions", str(len(m["risk_transitions"]))),
    ]  # fmt: skip
    for name, value in rows:
        table.add_row(name, value)
    out.print(table)
    for t in m["risk_transitions"]:
        out.print(f"  risk: {t['from']} -> {t['to']} at {t['ts_ns']}: {t['reason']}")
