"""The latency comparison run (``hean bench latency``): the mirror against the RTL core.

For one stream of HL2 messages it measures

* the software mirror's wall-clock latency per :meth:`Mirror.process_into` call when fed
  one message at a time, and its cost per message when fed in batches (with the wait of a
  batch's first message, which is the whole call);
* the RTL core under Verilator (:class:`hean.engine.verilator.VerilatorEngine`): latency
  in clocks (``engine_t_out - engine_t_in`` of every record) and the initiation interval
  (consecutive ``engine_t_in`` within a batch), turned into nanoseconds at the ECP5 Fmax
  that nextpnr reported (``bitstreams/manifest.json``) and at stated Zynq and Alveo target
  clocks, which are targets, not measurements;
* the board's DMA round trip when a board answers (batches through the board engine,
  wall clock, with its records compared with the mirror's).

:func:`run` returns a :class:`LatencyRun`; :func:`render_table` and :func:`write_plot`
present it.
"""

from __future__ import annotations

import gc
import math
import os
import platform
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hean.wire import REC_DTYPE, Params

#: Batch sizes of the batched mirror run.
BATCH_SIZES = (64, 1024, 65536)
#: Default target clocks (MHz). The PYNQ-Z2 shell clocks its fabric from FCLK_CLK0 at
#: 50 MHz (``hean_hw.shell_pynq.DEFAULT_FCLK_MHZ``, kept equal by a test); 300 MHz is a
#: common Alveo user-kernel clock. Both are targets, not results.
ZYNQ_MHZ = 50.0
ALVEO_MHZ = 300.0
ECP5_TARGET = "ecp5-85f"
MANIFEST = Path(__file__).resolve().parents[2] / "bitstreams" / "manifest.json"
WARMUP = 2_000  # one-message calls before the clock starts: caches and branch predictors
MIN_BATCHES = 16  # batches timed per size at least (passes over the stream are repeated)
RTL_CHUNK = 1 << 16  # messages per Verilator call: back to back within one
CONTRACT = slice(0, 112)  # record bytes the core and the mirror must agree on

Progress = Callable[[int], None] | None


@dataclass
class LatencyRun:
    """A run's figures (``doc``, what the JSON holds) and the raw one-message samples."""

    doc: dict
    single_ns: np.ndarray = field(repr=False)
    rtl_error: str | None = None  # why the RTL was not measured when it was asked for


def stats(samples: np.ndarray) -> dict[str, float]:
    """p50, p99, max and mean of ``samples`` (floats, in the samples' unit)."""
    s = np.asarray(samples, dtype=np.float64)
    return {"p50": float(np.percentile(s, 50)), "p99": float(np.percentile(s, 99)),
            "max": float(s.max()), "mean": float(s.mean())}  # fmt: skip


def machine() -> dict[str, object]:
    """The machine the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "system": platform.platform(),
            "python": platform.python_version()}  # fmt: skip


def mirror_single(msgs: np.ndarray, params: Params, progress: Progress = None) -> dict:
    """ns per ``process_into`` call of one message, over every message of ``msgs``."""
    from hean.engine import Mirror  # here: the CLI imports this module to start up

    engine = Mirror(params)
    engine.warm_up()
    out = np.empty(1, dtype=REC_DTYPE)
    for i in range(min(WARMUP, len(msgs))):
        engine.process_into(msgs[i : i + 1], out)
    engine.reset()  # the timed run starts from power-up, as the stream does
    took = np.empty(len(msgs), dtype=np.int64)
    clock = time.perf_counter_ns
    gc.disable()  # a collection inside one call would time the collector, not the mirror
    try:
        for i in range(len(msgs)):
            one = msgs[i : i + 1]
            t0 = clock()
            engine.process_into(one, out)
            took[i] = clock() - t0
            if progress is not None and i % 10_000 == 0:
                progress(i)
    finally:
        gc.enable()
    return {"messages": len(msgs), "ns": stats(took)} | {"_samples": took}


def mirror_batched(msgs: np.ndarray, params: Params, size: int) -> dict:
    """ns per message of batches of ``size`` (and each batch's whole wait), per batch."""
    from hean.engine import Mirror

    engine = Mirror(params)
    engine.warm_up()
    out = np.empty(size, dtype=REC_DTYPE)
    per_pass = len(msgs) // size
    passes = math.ceil(MIN_BATCHES / per_pass)
    took: list[int] = []
    clock = time.perf_counter_ns
    engine.process_into(msgs[:size], out)  # warm the caches with one untimed batch
    gc.disable()
    try:
        for _ in range(passes):
            engine.reset()  # each pass is the stream from the start, books and all
            for start in range(0, per_pass * size, size):
                batch = msgs[start : start + size]
                t0 = clock()
                engine.process_into(batch, out)
                took.append(clock() - t0)
    finally:
        gc.enable()
    ns = np.array(took, dtype=np.int64)
    return {"batch": size, "batches": len(ns), "ns_per_msg": stats(ns / size),
            "batch_latency_ns": stats(ns)}  # fmt: skip


def manifest_fmax(params: Params, path: Path = MANIFEST) -> dict:
    """The ECP5 Fmax for ``params`` from the build manifest, saying which entry gave it.

    An entry of the same K and N is used when there is one; else the nearest one, by K
    (on a log scale, as the book's depth is what sets the clock) and then by N, the lower
    Fmax winning a tie so the figure errs slow. ``fmax_mhz`` is None, with a ``note``, when
    the manifest is missing, unreadable or has no ECP5 entry with an Fmax.
    """
    import json

    found = {"fmax_mhz": None, "entry": None, "match": None, "manifest": str(path)}
    try:
        builds = json.loads(path.read_text())["builds"]
        entries = [b for b in builds if b.get("target") == ECP5_TARGET and b.get("fmax_mhz")]
    except FileNotFoundError:
        return found | {"note": f"{path}: no such file (run `make bitstream`)"}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return found | {"note": f"{path}: not a build manifest ({exc})"}
    if not entries:
        return found | {"note": f"{path} has no {ECP5_TARGET} build with an Fmax"}

    def distance(b: dict) -> tuple[float, int, float]:
        p = b["params"]
        return (abs(math.log2(p["K"] / params.K)), abs(p["N"] - params.N), b["fmax_mhz"])

    best = min(entries, key=distance)
    p = best["params"]
    exact = p["K"] == params.K and p["N"] == params.N
    keys = ("target", "part", "fmax_mhz", "target_mhz", "timing_met", "latency_cycles",
            "source_revision")  # fmt: skip
    entry = {k: best.get(k) for k in keys}
    entry["K"], entry["N"] = p["K"], p["N"]
    note = (f"{ECP5_TARGET} build K={p['K']} N={p['N']}" if exact else
            f"no {ECP5_TARGET} build at K={params.K} N={params.N}; nearest used: "
            f"K={p['K']} N={p['N']}")  # fmt: skip
    if best.get("timing_met") is False:
        note += f" (nextpnr Fmax; its {best.get('target_mhz')} MHz target was not met)"
    match = "exact" if exact else "nearest"
    return {"fmax_mhz": float(best["fmax_mhz"]), "entry": entry, "match": match,
            "manifest": str(path), "note": note}  # fmt: skip


def elaborated_latency(params: Params) -> int:
    """The core's latency in clocks from elaborating :class:`hean_hw.core.FeatureCore`."""
    from hean_hw.core import FeatureCore

    core = FeatureCore(params)
    core._MustUse__silence = True  # built only to read its latency: never elaborated
    return int(core.latency)


def rtl_measure(msgs: np.ndarray, params: Params, progress: Progress = None) -> dict:
    """Stream ``msgs`` through the Verilator engine; cycle latency and II from the stamps.

    Raises
    ------
    hean.engine.verilator.VerilatorError
        If Verilator is missing, the build fails or the harness dies.
    """
    from hean.engine import Mirror
    from hean.engine.verilator import VerilatorEngine, build

    built = build(params)  # cached after the first time; the engine then finds it
    lat = np.empty(len(msgs), dtype=np.int64)
    ii_max, ii_sum, ii_n = 0, 0, 0
    match = True
    mirror = Mirror(params)
    out = np.empty(RTL_CHUNK, dtype=REC_DTYPE)
    ref = np.empty(RTL_CHUNK, dtype=REC_DTYPE)
    sim_s = 0.0
    with VerilatorEngine(params) as engine:
        engine.warm_up()
        for start in range(0, len(msgs), RTL_CHUNK):
            batch = msgs[start : start + RTL_CHUNK]
            n = len(batch)
            t0 = time.perf_counter()
            engine.process_into(batch, out)
            sim_s += time.perf_counter() - t0
            t_in = out["engine_t_in"][:n].astype(np.int64)
            lat[start : start + n] = out["engine_t_out"][:n].astype(np.int64) - t_in
            if n > 1:
                gaps = np.diff(t_in)
                ii_max = max(ii_max, int(gaps.max()))
                ii_sum, ii_n = ii_sum + int(gaps.sum()), ii_n + n - 1
            mirror.process_into(batch, ref)
            raw, want = out[:n].view(np.uint8), ref[:n].view(np.uint8)
            match &= bool(np.array_equal(raw.reshape(n, -1)[:, CONTRACT],
                                         want.reshape(n, -1)[:, CONTRACT]))  # fmt: skip
            if progress is not None:
                progress(start + n)
        counters = engine.counters()
    cycles = stats(lat)
    return {
        "source": "verilator",
        "latency_cycles": int(np.median(lat)),
        "latency_cycles_min": int(lat.min()),
        "latency_cycles_p50": float(cycles["p50"]),
        "latency_cycles_max": int(lat.max()),
        "core_latency": built.latency,
        "ii": ii_max if ii_n else None,
        "ii_mean": ii_sum / ii_n if ii_n else None,
        "messages": len(msgs),
        "batch": RTL_CHUNK,
        "records_match_mirror": match,
        "bad": counters.bad,
        "sim_msgs_per_s": len(msgs) / sim_s if sim_s else None,
        "build_s": round(built.built_s, 1),
    }


def clocks(cycles: int, ii: float | None, fmax: dict, zynq_mhz: float, alveo_mhz: float) -> list:
    """The RTL's latency (and ns per message at its II) at each clock."""
    rows = [("ECP5-85F at nextpnr Fmax", fmax["fmax_mhz"], "measured Fmax (manifest)"),
            ("Zynq-7020 target clock", zynq_mhz, "target, not measured"),
            ("Alveo target clock", alveo_mhz, "target, not measured")]  # fmt: skip
    result = []
    for name, mhz, kind in rows:
        if mhz is None:
            result.append({"name": name, "mhz": None, "kind": fmax.get("note"),
                           "latency_ns": None, "ns_per_msg": None})  # fmt: skip
            continue
        result.append({"name": name, "mhz": mhz, "kind": kind,
                       "latency_ns": cycles * 1000.0 / mhz,
                       "ns_per_msg": (ii or 1) * 1000.0 / mhz})  # fmt: skip
    return result


def find_board(msgs: np.ndarray, params: Params) -> tuple[dict | None, str]:
    """The board's DMA round trip on ``msgs`` and a note; ``(None, why)`` when no board
    answers or none takes a bitstream for ``params``."""
    try:
        from hean.engine import board as boards_module
    except ImportError:
        return None, "no board found"
    try:
        boards, why = boards_module.probe_boards()
    except Exception as exc:  # a probe that fails is no board, said plainly
        return None, f"no board found ({exc})"
    if not boards:
        return None, f"no board found ({why})" if why else "no board found"
    engine, reason = boards_module.choose_engine("auto", params)
    if getattr(engine, "name", "mirror") == "mirror":
        return None, reason
    try:
        return board_measure(engine, msgs, params), reason
    finally:
        close = getattr(engine, "close", None)
        if close is not None:
            close()


def board_measure(engine: object, msgs: np.ndarray, params: Params) -> dict:
    """Wall-clock round trip of batches through a board engine (host to card and back:
    the copy in, the DMA both ways, the copy out), and whether the records are the
    mirror's (bytes 0..111)."""
    from hean.engine import Mirror

    want = Mirror(params).process(msgs)
    out = np.empty(len(msgs), dtype=REC_DTYPE)
    figures = []
    same = True
    clock = time.perf_counter_ns
    for size in BATCH_SIZES:
        if size > len(msgs):
            continue
        engine.reset()  # type: ignore[attr-defined]  # the stream from the start, books and all
        took = []
        for start in range(0, len(msgs) - len(msgs) % size, size):
            t0 = clock()
            engine.process_into(msgs[start : start + size], out[start : start + size])  # type: ignore[attr-defined]
            took.append(clock() - t0)
        done = len(took) * size
        contract = out[:done].view(np.uint8).reshape(done, -1)[:, :112]
        same &= bool(
            np.array_equal(contract, want[:done].view(np.uint8).reshape(done, -1)[:, :112])
        )
        ns = np.array(took, dtype=np.int64)
        figures.append({"batch": size, "batches": len(ns), "round_trip_ns": stats(ns),
                        "ns_per_msg": stats(ns / size)})  # fmt: skip
    return {"engine": getattr(engine, "name", "board"), "batched": figures,
            "records_match_mirror": same}  # fmt: skip


def run(
    data: Path,
    msgs: np.ndarray,
    params: Params,
    *,
    rtl: bool = True,
    zynq_mhz: float = ZYNQ_MHZ,
    alveo_mhz: float = ALVEO_MHZ,
    manifest: Path = MANIFEST,
    progress: Callable[[str, int], AbstractContextManager[Callable[[int], None]]] | None = None,
) -> LatencyRun:
    """Measure the mirror (and the RTL when ``rtl``) on ``msgs`` and gather the figures.

    Parameters
    ----------
    data : Path
        The file ``msgs`` came from (for the record).
    msgs : numpy.ndarray
        The messages (``MSG_DTYPE``), in memory.
    params : Params
        Build parameters of both engines.
    rtl : bool
        Run the Verilator engine; without it the RTL figures are the core's elaborated
        latency and the manifest's Fmax only. A Verilator failure does not raise: the RTL
        part is then the static figures, and ``rtl_error`` says why.
    progress : callable, optional
        ``progress(label, total)``: a context manager giving a tick function, around each
        long step (one bar at a time).
    """

    def bar(label: str, total: int) -> AbstractContextManager[Progress]:
        return progress(label, total) if progress is not None else nullcontext(None)

    with bar("mirror, one at a time", len(msgs)) as tick:
        single = mirror_single(msgs, params, tick)
    samples = single.pop("_samples")
    batched = [mirror_batched(msgs, params, b) for b in BATCH_SIZES if b <= len(msgs)]
    error = None
    part: dict
    if rtl:
        from hean.engine.verilator import VerilatorError

        try:
            # the build (once per K,N) happens before the bar: it prints its own lines
            from hean.engine.verilator import build

            build(params)
            with bar("RTL under Verilator", len(msgs)) as tick:
                part = rtl_measure(msgs, params, tick)
        except VerilatorError as exc:
            error = str(exc)
    if not rtl or error is not None:
        why = "--no-rtl" if not rtl else f"Verilator run failed: {error.splitlines()[-1]}"
        part = {"source": "elaboration", "latency_cycles": elaborated_latency(params),
                "ii": None, "ii_mean": None, "skipped": why}  # fmt: skip
    fmax = manifest_fmax(params, manifest)
    part["fmax_mhz"] = fmax["fmax_mhz"]
    part["fmax"] = fmax
    part["zynq_mhz"], part["alveo_mhz"] = zynq_mhz, alveo_mhz
    part["clocks"] = clocks(part["latency_cycles"], part["ii"], fmax, zynq_mhz, alveo_mhz)
    part["latency_ns"] = part["clocks"][0]["latency_ns"]
    board, board_note = find_board(msgs, params)
    doc = {
        "data": str(data),
        "messages": len(msgs),
        "params": params.as_dict(),
        "machine": machine(),
        "mirror": {"single": single, "batched": batched},
        "rtl": part,
        "board": board,
        "board_note": board_note,
    }
    return LatencyRun(doc, samples, error)


def _ns(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100_000:
        return f"{value / 1000:,.0f} us"
    return f"{value:,.0f} ns" if value >= 100 else f"{value:.1f} ns"


def render_table(result: LatencyRun):  # -> rich.table.Table
    """The comparison as a rich table: one row per path (and per clock for the RTL)."""
    from rich.table import Table

    doc = result.doc
    table = Table(title=f"Latency per message: {doc['data']}, {doc['messages']:,} messages, "
                  f"K={doc['params']['K']} N={doc['params']['N']}")  # fmt: skip
    for name in ("path", "ns/msg", "latency p50", "p99", "max", "note"):
        table.add_column(name, justify="left" if name in ("path", "note") else "right")
    single = doc["mirror"]["single"]["ns"]
    table.add_row("mirror, one message per call", _ns(single["p50"]), _ns(single["p50"]),
                  _ns(single["p99"]), _ns(single["max"]), "wall clock per call")  # fmt: skip
    for b in doc["mirror"]["batched"]:
        per, wait = b["ns_per_msg"], b["batch_latency_ns"]
        note = f"latency: the whole batch (its first message's wait); {b['batches']} batches"
        table.add_row(f"mirror, batches of {b['batch']:,}", _ns(per["p50"]), _ns(wait["p50"]),
                      _ns(wait["p99"]), _ns(wait["max"]), note)  # fmt: skip
    rtl = doc["rtl"]
    for c in rtl["clocks"]:
        mhz = f" {c['mhz']:g} MHz" if c["mhz"] is not None else ""
        lat = _ns(c["latency_ns"])
        table.add_row(f"RTL, {c['name']}{mhz}", _ns(c["ns_per_msg"]), lat, lat, lat,
                      f"{rtl['latency_cycles']} clocks; {c['kind']}")  # fmt: skip
    board = doc["board"]
    if board is None:
        note = doc["board_note"].split(" (")[0]  # the whole reason is printed below
        table.add_row("board, DMA round trip", "-", "-", "-", "-", note)
    for b in (board or {}).get("batched", []):
        per, trip = b["ns_per_msg"], b["round_trip_ns"]
        same = "records = mirror" if board["records_match_mirror"] else "RECORDS DIFFER"
        table.add_row(f"board ({board['engine']}), batches of {b['batch']:,}", _ns(per["p50"]),
                      _ns(trip["p50"]), _ns(trip["p99"]), _ns(trip["max"]),
                      f"round trip of a batch, wall clock; {same}")  # fmt: skip
    return table


def summary_lines(result: LatencyRun) -> list[str]:
    """Lines under the table: what the RTL figures rest on."""
    rtl = result.doc["rtl"]
    lines = []
    if rtl["source"] == "verilator":
        lines.append(
            f"RTL under Verilator: latency {rtl['latency_cycles_min']}..{rtl['latency_cycles_max']}"
            f" clocks over {rtl['messages']:,} records (core: {rtl['core_latency']}), II max "
            f"{rtl['ii']} mean {rtl['ii_mean']:.3f} within batches of {rtl['batch']:,}; records "
            f"{'match' if rtl['records_match_mirror'] else 'DO NOT match'} the mirror's; "
            f"simulation ran at {rtl['sim_msgs_per_s'] / 1e3:,.0f} k msg/s"
        )
    else:
        lines.append(f"RTL not simulated ({rtl['skipped']}): {rtl['latency_cycles']} clocks from "
                     "elaborating the core, II not measured")  # fmt: skip
    lines.append(f"Fmax: {rtl['fmax']['note']}")
    lines.append(f"Board: {result.doc['board_note']}")
    return lines


def write_plot(result: LatencyRun, path: Path) -> None:
    """A CDF of the mirror's one-message latency with the RTL's at each clock, and bars of
    ns per message per path (log axes: the paths lie orders of magnitude apart)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    doc = result.doc
    fig = Figure(figsize=(12, 4.8), layout="constrained")
    FigureCanvasAgg(fig)
    cdf, bars = fig.subplots(1, 2)
    s = np.sort(result.single_ns)
    cdf.plot(s, np.arange(1, len(s) + 1) / len(s), label="mirror, one message per call")
    colours = ("tab:red", "tab:green", "tab:purple")
    for c, colour in zip(doc["rtl"]["clocks"], colours, strict=False):
        if c["latency_ns"] is not None:
            label = f"RTL {c['name']} {c['mhz']:g} MHz: {c['latency_ns']:.0f} ns"
            cdf.axvline(c["latency_ns"], color=colour, linestyle="--", label=label)
    cdf.set_xscale("log")
    cdf.set_xlabel("latency per message (ns, log)")
    cdf.set_ylabel("fraction of messages")
    cdf.set_title(f"{doc['messages']:,} messages, K={doc['params']['K']} N={doc['params']['N']}")
    cdf.legend(fontsize=8, loc="lower right")
    cdf.grid(True, which="both", alpha=0.3)

    names = ["mirror 1/call"] + [f"mirror x{b['batch']}" for b in doc["mirror"]["batched"]]
    values = [doc["mirror"]["single"]["ns"]["p50"]]
    values += [b["ns_per_msg"]["p50"] for b in doc["mirror"]["batched"]]
    for c in doc["rtl"]["clocks"]:
        if c["ns_per_msg"] is not None:
            names.append(f"RTL {c['mhz']:g} MHz")
            values.append(c["ns_per_msg"])
    bars.bar(names, values, color=["tab:blue"] * (len(doc["mirror"]["batched"]) + 1)
             + list(colours[: len(values) - len(doc["mirror"]["batched"]) - 1]))  # fmt: skip
    bars.set_yscale("log")
    bars.set_ylabel("ns per message (p50; RTL: II / clock)")
    bars.set_title("cost per message by path")
    bars.tick_params(axis="x", labelrotation=30, labelsize=8)
    for x, v in enumerate(values):
        bars.annotate(f"{v:.1f}", (x, v), ha="center", va="bottom", fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


__all__ = ["LatencyRun", "manifest_fmax", "render_table", "run", "summary_lines", "write_plot"]
