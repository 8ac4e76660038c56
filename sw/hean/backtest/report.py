"""The backtest report: five PNGs, an ``index.html`` that shows them, and a ``report.md``.

:func:`write_report` draws a :class:`~hean.backtest.trace.Trace` (see :mod:`hean.backtest.plots`
for the figures) and writes the run's metrics next to it. The HTML is self-contained: images
are referenced by relative file name and there is no external CSS or JS, so the folder can
be copied, zipped or opened from disk as it is. The Markdown file holds the same table for
people who read the report on a git host.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hean.backtest import plots
from hean.backtest.plots import decimate
from hean.backtest.trace import Trace

__all__ = ["IMAGES", "decimate", "format_value", "write_report"]

# file name and one-line caption of every figure, in the order the report shows them
IMAGES: tuple[tuple[str, str], ...] = (
    ("equity.png", "Equity marked to mid, and drawdown in % from its running peak."),
    ("price_fills.png", "Mid price per instrument with the fills; background: risk state."),
    ("slippage.png", "Slippage of the fills against the touch, maker and taker."),
    ("features.png", "Imbalances, order-flow imbalance, temperature, entropy and phase."),
    ("latency.png", "Feed latency, order latency and feature-engine time per message."),
)

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f1f3f5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: 0.9em; word-break: break-all; }
figure { margin: 2em 0; }
img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; margin-top: 0.3em; }
"""


def _plain(value: Any) -> Any:
    """numpy scalars and arrays as the Python values json and format() understand."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def _json_default(value: Any) -> Any:
    plain = _plain(value)
    if plain is value:  # not something _plain knows: say what it is rather than fail
        return repr(value)
    return plain


def format_value(value: Any) -> tuple[str, bool]:
    """Text of one metric for the report's table.

    Parameters
    ----------
    value : object
        A metric: a number, a string, or a nested dict/list/tuple/array.

    Returns
    -------
    text : str
        Unescaped text. Floats get six significant digits (``1.23457``, ``1.5e-07``),
        integers are written in full, containers are compact JSON.
    is_code : bool
        True for JSON, which the report sets in a ``<code>`` cell.
    """
    value = _plain(value)
    if isinstance(value, bool) or value is None:
        return str(value), False
    if isinstance(value, int):
        return str(value), False
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value), False
        return f"{value:.6g}", False
    if isinstance(value, Mapping | list | tuple | set | frozenset):
        if isinstance(value, set | frozenset):
            value = sorted(value, key=repr)
        text = json.dumps(value, separators=(",", ":"), default=_json_default)
        return text, True
    return str(value), False


def _is_number(value: Any) -> bool:
    value = _plain(value)
    return isinstance(value, int | float) and not isinstance(value, bool)


def _utc(ts_ns: int) -> str:
    if ts_ns < 10**17:  # not an epoch time (a synthetic or relative clock): no date
        return ""
    when = dt.datetime.fromtimestamp(int(ts_ns) // 10**9, tz=dt.UTC)
    return f"{when:%Y-%m-%d %H:%M:%S}.{(int(ts_ns) // 10**6) % 1000:03d} UTC"


def _time_text(ts_ns: int, clock: plots.Clock) -> str:
    offset = f"+{(int(ts_ns) - clock.t0_ns) / 1e9:.3f} s"
    utc = _utc(ts_ns)
    return f"{offset} ({utc})" if utc else offset


def _transitions(trace: Trace, clock: plots.Clock) -> list[tuple[str, str, str]]:
    ordered = sorted(trace.risk, key=lambda r: r[0])
    return [(_time_text(ts, clock), str(state), str(reason)) for ts, state, reason in ordered]


def _html(
    title: str,
    metrics: Mapping[str, Any],
    transitions: list[tuple[str, str, str]],
    span: str,
) -> str:
    esc = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{esc(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{esc(title)}</h1>",
        f"<p>{esc(span)}</p>",
        "<h2>Metrics</h2>",
    ]
    if metrics:
        out.append("<table>\n<tr><th>metric</th><th>value</th></tr>")
        for key, value in metrics.items():
            text, is_code = format_value(value)
            if is_code:
                cell = f"<td><code>{esc(text)}</code></td>"
            elif _is_number(value):
                cell = f'<td class="num">{esc(text)}</td>'
            else:
                cell = f"<td>{esc(text)}</td>"
            out.append(f"<tr><th>{esc(str(key))}</th>{cell}</tr>")
        out.append("</table>")
    else:
        out.append("<p>none</p>")
    out.append("<h2>Risk transitions</h2>")
    if transitions:
        out.append("<table>\n<tr><th>time</th><th>state</th><th>reason</th></tr>")
        for when, state, reason in transitions:
            out.append(f"<tr><td>{esc(when)}</td><td>{esc(state)}</td><td>{esc(reason)}</td></tr>")
        out.append("</table>")
    else:
        out.append("<p>none</p>")
    out.append("<h2>Figures</h2>")
    for name, caption in IMAGES:
        out.append(
            f'<figure><img src="{esc(name)}" alt="{esc(caption)}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>"
        )
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


def _md_cell(text: str) -> str:
    # backslash-escape what Markdown would read as markup (a pipe would end the cell), and
    # fold line breaks, which would end the row; an ampersand could start an entity
    text = re.sub(r"([\\`*_\[\]<>|])", r"\\\1", text)
    text = text.replace("&", "&amp;")  # so that a literal "&lt;" is not read as an entity
    return text.replace("\r", " ").replace("\n", " ")


def _md_code(text: str) -> str:
    # a code span is fenced by more backticks than it holds in a row; inside a table a pipe
    # still needs its backslash (GFM splits cells before it parses code spans)
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    body = text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")
    return f"{fence}{pad}{body}{pad}{fence}"


def _markdown(
    title: str,
    metrics: Mapping[str, Any],
    transitions: list[tuple[str, str, str]],
    span: str,
) -> str:
    out = [f"# {_md_cell(title)}", "", span, "", "## Metrics", ""]
    if metrics:
        out += ["| metric | value |", "| --- | --- |"]
        for key, value in metrics.items():
            text, is_code = format_value(value)
            cell = _md_code(text) if is_code else _md_cell(text)
            out.append(f"| {_md_cell(str(key))} | {cell} |")
    else:
        out.append("none")
    out += ["", "## Risk transitions", ""]
    if transitions:
        out += ["| time | state | reason |", "| --- | --- | --- |"]
        out += [f"| {_md_cell(w)} | {_md_cell(s)} | {_md_cell(r)} |" for w, s, r in transitions]
    else:
        out.append("none")
    out += ["", "## Figures", ""]
    for name, caption in IMAGES:
        out += [f"![{caption}]({name})", "", caption, ""]
    return "\n".join(out)


def _span_text(clock: plots.Clock) -> str:
    if clock.t1_ns <= clock.t0_ns:
        return "Session: no timestamps."
    seconds = (clock.t1_ns - clock.t0_ns) / 1e9
    utc = _utc(clock.t0_ns)
    start = f", from {utc}" if utc else ""
    return f"Session: {seconds:,.3f} s ({seconds / 60:,.2f} min){start}."


def write_report(
    trace: Trace,
    metrics: Mapping[str, Any],
    out_dir: str | Path,
    title: str = "HEAN backtest",
) -> Path:
    """Draw a backtest's trace and write its report.

    Writes ``equity.png``, ``price_fills.png``, ``slippage.png``, ``features.png`` and
    ``latency.png``, then ``index.html`` (metrics table, risk transitions, the figures) and
    ``report.md`` (the same, in Markdown) into ``out_dir``. Files of an earlier report in
    the same folder are overwritten.

    Parameters
    ----------
    trace : Trace
        What the backtest recorded. Any of its arrays may be empty.
    metrics : mapping of str to object
        Shown in insertion order. Numbers, strings, and nested dicts/lists/arrays (as JSON).
    out_dir : str or Path
        Created (with parents) when missing.
    title : str
        The page's title and heading.

    Returns
    -------
    Path
        The written ``index.html``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    clock = plots.session_clock(trace)
    plots.plot_equity(trace, clock, out / "equity.png")
    plots.plot_price_fills(trace, clock, out / "price_fills.png")
    plots.plot_slippage(trace, out / "slippage.png")
    plots.plot_features(trace, clock, out / "features.png")
    plots.plot_latency(trace, out / "latency.png")
    transitions = _transitions(trace, clock)
    span = _span_text(clock)
    index = out / "index.html"
    index.write_text(_html(title, metrics, transitions, span), encoding="utf-8")
    markdown = _markdown(title, metrics, transitions, span)
    (out / "report.md").write_text(markdown, encoding="utf-8")
    return index
