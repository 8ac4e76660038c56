"""Reports of the FPGA tools and the build manifest (``bitstreams/manifest.json``).

Pure functions on report data (no tools run here, no Amaranth), so they are tested on
small handmade reports.

Figures
-------
ECP5 (nextpnr ``--report``): ``TRELLIS_COMB`` counts LUT4 slots (logic, carry halves and
distributed RAM), ``TRELLIS_FF`` flip-flops and ``DP16KD`` 18-kbit block RAMs of the
LFE5U-85F.

Zynq-7020 (Yosys ``synth_xilinx``, before packing): LUTs are LUT1..LUT6 and ``INV`` plus
the LUTs inside LUT-RAM and shift-register cells; flip-flops are the ``FD*`` cells; BRAM
is counted in RAMB36 tiles (``RAMB36E1`` + ``RAMB18E1`` / 2). Vivado packs and optimizes
differently, so these are estimates, not Vivado's figures.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

ECP5_TARGET = "ecp5-85f"
XC7_TARGET = "xc7z020"
ECP5_BOARD = "none (timing build)"
XC7_BOARD = "PYNQ-Z2 (utilization only)"
XC7_PART = "xc7z020clg400-1"
#: nextpnr's package name and the part's package letters: the 234 I/O of the top do not
#: fit the 197 user I/O of CABGA381; CABGA756 is the same LFE5U-85F die.
ECP5_PACKAGE = "CABGA756"


def ecp5_part(speed: int) -> str:
    """Lattice part number of the timing build, e.g. ``LFE5U-85F-6BG756C``."""
    return f"LFE5U-85F-{speed}BG756C"


#: nextpnr resources kept in the manifest (others only when used).
ECP5_RESOURCES = ("TRELLIS_COMB", "TRELLIS_FF", "DP16KD", "MULT18X18D", "TRELLIS_IO")

#: Zynq-7020 (xc7z020clg400-1) capacity.
XC7_CAPACITY = {
    "LUT": 53_200,
    "FF": 106_400,
    "BRAM36": 140,
    "DSP48E1": 220,
    "LUTRAM": 17_400,
    "CARRY4": 13_300,
}

#: LUTs taken by each LUT-RAM / shift-register primitive.
XC7_LUTRAM_CELLS = {
    "RAM32M": 4,
    "RAM64M": 4,
    "RAM32X1D": 2,
    "RAM64X1D": 2,
    "RAM128X1D": 4,
    "RAM32X1S": 1,
    "RAM64X1S": 1,
    "RAM128X1S": 2,
    "RAM256X1S": 4,
    "SRL16E": 1,
    "SRLC16E": 1,
    "SRLC32E": 1,
}

#: Which resource each table column shows, per target.
TABLE_COLUMNS = {
    ECP5_TARGET: {"LUT": "TRELLIS_COMB", "FF": "TRELLIS_FF", "BRAM": "DP16KD"},
    XC7_TARGET: {"LUT": "LUT", "FF": "FF", "BRAM": "BRAM36"},
}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- reports -------------------------------------------------------------------------


def resource(used: float, available: int) -> dict:
    """``{"used", "available", "percent"}`` with the percent to two decimals."""
    percent = round(100.0 * used / available, 2) if available else None
    return {"used": used, "available": available, "percent": percent}


def nextpnr_fmax(report: dict) -> tuple[float | None, float | None]:
    """(achieved, constraint) in MHz of the slowest clock in a nextpnr report."""
    clocks = report.get("fmax") or {}
    if not clocks:
        return None, None
    worst = min(clocks.values(), key=lambda c: c.get("achieved", float("inf")))
    achieved, constraint = worst.get("achieved"), worst.get("constraint")
    return (
        round(achieved, 2) if achieved is not None else None,
        round(constraint, 2) if constraint is not None else None,
    )


def nextpnr_utilization(report: dict) -> dict[str, dict]:
    """The main ECP5 resources, and any other that is used, from a nextpnr report."""
    out = {}
    for name, figures in (report.get("utilization") or {}).items():
        if name in ECP5_RESOURCES or figures.get("used", 0):
            out[name] = resource(figures.get("used", 0), figures.get("available", 0))
    return out


def nextpnr_critical_path(report: dict) -> dict | None:
    """Start and end cell, delay (ns) and logic levels of the first critical path."""
    paths = report.get("critical_paths") or []
    if not paths or not paths[0].get("path"):
        return None
    steps = paths[0]["path"]

    def where(end: dict) -> str:
        return f"{end.get('cell', '?')}.{end.get('port', '?')}"

    return {
        "from": where(steps[0].get("from", {})),
        "to": where(steps[-1].get("to", {})),
        "delay_ns": round(sum(step.get("delay", 0.0) for step in steps), 3),
        "logic_levels": sum(1 for step in steps if step.get("type") == "logic"),
    }


def yosys_cell_counts(stat: dict) -> dict[str, int]:
    """Cells by type for the whole design from Yosys ``stat -json`` output."""
    if "design" in stat:
        cells = stat["design"].get("num_cells_by_type", {})
    else:  # one module: take the one with most cells
        modules = stat.get("modules", {}).values()
        cells = max(modules, key=lambda m: m.get("num_cells", 0), default={}).get(
            "num_cells_by_type", {}
        )
    return {name.lstrip("\\$"): int(n) for name, n in cells.items()}


def xc7_utilization(cells: dict[str, int]) -> dict[str, dict]:
    """Zynq-7020 use from ``synth_xilinx`` cell counts (before packing)."""
    lutram = sum(n * XC7_LUTRAM_CELLS.get(name, 0) for name, n in cells.items())
    logic = sum(n for name, n in cells.items() if name in {f"LUT{i}" for i in range(1, 7)})
    logic += cells.get("INV", 0)  # Yosys' INV is a LUT1
    used = {
        "LUT": logic + lutram,
        "FF": sum(n for name, n in cells.items() if name.startswith("FD")),
        "BRAM36": cells.get("RAMB36E1", 0) + cells.get("RAMB18E1", 0) / 2,  # RAMB36 tiles
        "DSP48E1": cells.get("DSP48E1", 0),
        "LUTRAM": lutram,
        "CARRY4": cells.get("CARRY4", 0),
    }
    if float(used["BRAM36"]).is_integer():
        used["BRAM36"] = int(used["BRAM36"])
    return {name: resource(used[name], XC7_CAPACITY[name]) for name in XC7_CAPACITY}


def fits(utilization: dict[str, dict]) -> bool:
    return all(r["used"] <= r["available"] for r in utilization.values() if r["available"])


# --- manifest ------------------------------------------------------------------------


def manifest_key(entry: dict) -> tuple:
    return (entry["target"], *sorted(entry["params"].items()))


def load_manifest(path: Path) -> dict:
    """The manifest, or an empty one when the file does not exist yet."""
    if not path.exists():
        return {"builds": []}
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("builds"), list):
        raise ValueError(f'{path}: not a build manifest (expected {{"builds": [...]}})')
    return data


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def update_manifest(path: Path, entry: dict) -> dict:
    """Add ``entry``, replacing one for the same target and parameters; write atomically."""
    manifest = load_manifest(path)
    key = manifest_key(entry)
    builds = [b for b in manifest["builds"] if manifest_key(b) != key] + [entry]
    builds.sort(key=lambda b: (b["target"], b["params"]["K"], b["params"]["N"], manifest_key(b)))
    manifest["builds"] = builds
    write_atomic(path, json.dumps(manifest, indent=2) + "\n")
    return manifest


def _use(entry: dict, column: str) -> str:
    name = TABLE_COLUMNS.get(entry["target"], {}).get(column)
    figures = entry.get("utilization", {}).get(name) if name else None
    if not figures:
        return "-"
    used = figures["used"]
    shown = f"{used:,.1f}" if isinstance(used, float) and not used.is_integer() else f"{used:,.0f}"
    return f"{shown} ({figures['percent']:.1f}%)"


def _fmax(entry: dict) -> str:
    if entry.get("fmax_mhz") is None:
        return "n/a" if entry.get("target_mhz") is None else f"? / {entry['target_mhz']:g}"
    mark = "met" if entry.get("timing_met") else "not met"
    return f"{entry['fmax_mhz']:.1f} / {entry['target_mhz']:g} ({mark})"


def markdown_table(manifest: dict) -> str:
    """The manifest as a Markdown table (one row per build)."""
    rows = [
        "| target | board / part | K | N | Fmax / target (MHz) | LUTs | FFs | BRAM "
        "| latency (cycles) | revision |",
        "|---|---|--:|--:|---|--:|--:|--:|--:|---|",
    ]
    for e in manifest["builds"]:
        p = e["params"]
        rows.append(
            f"| {e['target']} | {e['board']} / {e['part']} | {p['K']} | {p['N']} | {_fmax(e)} "
            f"| {_use(e, 'LUT')} | {_use(e, 'FF')} | {_use(e, 'BRAM')} "
            f"| {e['latency_cycles']} (top {e['top_latency_cycles']}) "
            f"| {e['source_revision']} |"
        )
    notes = [
        "",
        "ECP5: nextpnr after routing; LUTs are LUT4 slots (TRELLIS_COMB), BRAM 18-kbit DP16KD.",
        "xc7z020: Yosys synth_xilinx cell counts before packing (Vivado packs differently), no",
        "timing; LUTs are LUT1..LUT6 incl. LUT-RAM, BRAM in RAMB36 tiles. Latency: core (top).",
    ]
    return "\n".join(rows + notes)
