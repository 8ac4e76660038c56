"""Fmax of each gateware unit alone on the ECP5-85 (synth_ecp5 + nextpnr-ecp5, speed 6).

Each unit sits in a harness that feeds every input from one long shift register (so
inputs come from flip-flops, as they do inside the core; ``en`` stays 1, as it does
there) and folds every output into one pin through a pipelined XOR tree (so no output
logic is optimized away and the tree never limits the clock). nextpnr then reports the
unit's own slowest register-to-register path. This is how the core's timing is worked
on: one unit at a time, in minutes, not the hour a whole top takes.

    python bench/fmax_units.py                       # every unit at the default sizes
    python bench/fmax_units.py book:8,2 iceberg:4    # chosen units and sizes
    python bench/fmax_units.py --list

Results print as a table (Fmax, the critical path's ends, logic cells); logs stay in
build/fmax/<unit>_<sizes>_seed<seed>/.
"""

from __future__ import annotations

import argparse
import functools
import operator
import sys
from collections.abc import Callable
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Cat, Elaboratable, Module, Signal, Value
from amaranth.lib import wiring

from hean.wire import Params
from hean_hw import toolflow as tf

ROOT = Path(__file__).resolve().parents[1]


def _units() -> dict[str, tuple[Callable[..., wiring.Component], tuple[int, ...]]]:
    from hean_hw.book import Book
    from hean_hw.core import FeatureCore
    from hean_hw.depth import SideSum
    from hean_hw.flow import Flow
    from hean_hw.iceberg import Iceberg
    from hean_hw.imbalance import Imbalance
    from hean_hw.ofi import Ofi
    from hean_hw.sequence import Sequence
    from hean_hw.validate import Validate

    return {
        "book": (lambda k, n: Book(k, n), (32, 4)),
        "iceberg": (lambda n: Iceberg(n, 3, 2), (4,)),
        "ofi": (lambda n: Ofi(n, 6), (4,)),
        "flow": (lambda n: Flow(n, 4), (4,)),
        "sequence": (lambda n: Sequence(n), (4,)),
        "validate": (lambda n: Validate(n), (4,)),
        "sidesum": (lambda k: SideSum(k), (32,)),
        "divider": (lambda w: Imbalance(w, 1), (37,)),
        "core": (lambda k, n: FeatureCore(Params(K=k, N=n)), (4, 1)),
    }


class Harness(Elaboratable):
    """``dut``'s inputs from a shift register, its outputs XOR-folded into one pin."""

    def __init__(self, dut: wiring.Component) -> None:
        self.dut = dut
        self.din = Signal()
        self.dout = Signal()

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.submodules.dut = dut = self.dut
        ins, outs = [], []
        for path, member, value in dut.signature.flatten(dut):
            if path == ("en",):
                # the core never stalls its units: ``en`` stays at its constant 1 there,
                # and a harness bit driving every clock enable would be the slowest net
                continue
            (ins if member.flow == wiring.In else outs).append(Value.cast(value))
        width = sum(len(v) for v in ins)
        chain = Signal(max(width, 1))
        m.d.sync += chain.eq(Cat(self.din, chain[:-1]))
        at = 0
        for v in ins:
            m.d.comb += v.eq(chain[at : at + len(v)])
            at += len(v)
        bits = [b for v in outs for b in v]
        while len(bits) > 1:  # four inputs per XOR, one register per level
            nxt = []
            for i in range(0, len(bits), 4):
                r = Signal()
                m.d.sync += r.eq(functools.reduce(operator.xor, bits[i : i + 4]))
                nxt.append(r)
            bits = nxt
        m.d.sync += self.dout.eq(bits[0] if bits else 0)
        return m


def measure(name: str, sizes: tuple[int, ...], freq: float, seed: int) -> dict:
    make, _ = _units()[name]
    tag = "_".join(map(str, sizes))
    d = ROOT / "build" / "fmax" / f"{name}_{tag}_seed{seed}"
    d.mkdir(parents=True, exist_ok=True)
    harness = Harness(make(*sizes))
    text = verilog.convert(harness, name="hl2_top", ports=[harness.din, harness.dout])
    (d / "hl2_top.v").write_text(text)

    def step(label: str):
        print(f"  {name} {tag}: {label} ...", file=sys.stderr, flush=True)
        return tf.Timer()(label)

    res = tf.ecp5_flow(d, step, speed=6, freq=freq, seed=seed, router="router2")
    return {"unit": f"{name}({', '.join(map(str, sizes))})", **res}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("units", nargs="*", help="UNIT[:SIZE,SIZE] (default: all)")
    parser.add_argument("--freq", type=float, default=125.0, help="target MHz (125)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--list", action="store_true", help="list units and default sizes")
    args = parser.parse_args()
    units = _units()
    if args.list:
        for name, (_, sizes) in units.items():
            print(f"{name}:{','.join(map(str, sizes))}")
        return
    todo = []
    for spec in args.units or list(units):
        name, _, sizes = spec.partition(":")
        if name not in units:
            parser.error(f"unknown unit {name!r}; --list shows them")
        todo.append((name, tuple(int(x) for x in sizes.split(",")) if sizes else units[name][1]))
    rows = []
    for name, sizes in todo:
        try:
            rows.append(measure(name, sizes, args.freq, args.seed))
        except tf.ToolError as exc:
            print(f"{name}: {exc}", file=sys.stderr)
            continue
        r = rows[-1]
        print(f"  {r['unit']}: {r['fmax_mhz']:.1f} MHz", file=sys.stderr, flush=True)
    print(f"| unit | Fmax MHz (target {args.freq:g}) | critical path | LUT4 | FF |")
    print("|---|---|---|---|---|")
    for r in rows:
        u, cp = r["utilization"], r["critical_path"] or {}
        path = f"{cp.get('from', '?')} -> {cp.get('to', '?')}"
        comb = u.get("TRELLIS_COMB", {}).get("used", 0)
        ff = u.get("TRELLIS_FF", {}).get("used", 0)
        print(f"| {r['unit']} | {r['fmax_mhz']:.1f} | {path} | {comb:g} | {ff:g} |")


if __name__ == "__main__":
    main()
