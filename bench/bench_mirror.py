"""Throughput and latency of the software mirror (``make bench``).

Measures, on one core (the kernel is single-threaded):

1. batch throughput of the compiled kernel on a clean synthetic session, in memory,
   for K = 4, 16, 32, 64 (best of several runs, output buffer reused as in a real run);
2. per-message latency when fed one message at a time (the streaming path);
3. the CLI end to end, ``hean features IN.hl2 -o OUT.hlf``, file in and file out:
   the rate it prints and the wall time of the whole process.

Goals from the foundation issue: >= 5 M msg/s in memory for K = 32, >= 3 M msg/s
file to file. Figures are printed, and written as JSON to ``out/bench/mirror.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from hean.engine import Mirror
from hean.feeds.synth import SynthConfig, generate, write_session
from hean.wire import REC_DTYPE, Params

CHUNK = 1 << 18


def batch_rate(msgs: np.ndarray, params: Params, repeats: int) -> float:
    """Best messages/s over ``repeats`` full passes, chunked like the file path."""
    out = np.empty(CHUNK, dtype=REC_DTYPE)
    best = 0.0
    for _ in range(repeats):
        engine = Mirror(params)
        started = time.perf_counter()
        for start in range(0, len(msgs), CHUNK):
            engine.process_into(msgs[start : start + CHUNK], out)
        best = max(best, len(msgs) / (time.perf_counter() - started))
    return best


def single_latency(msgs: np.ndarray, params: Params, count: int) -> dict[str, float]:
    """Wall-clock ns per call when each message is its own batch (percentiles)."""
    engine = Mirror(params)
    out = np.empty(1, dtype=REC_DTYPE)
    samples = np.empty(count, dtype=np.int64)
    clock = time.perf_counter_ns
    for i in range(count):
        one = msgs[i : i + 1]
        t0 = clock()
        engine.process_into(one, out)
        samples[i] = clock() - t0
    return {f"p{q}": float(np.percentile(samples, q)) for q in (50, 90, 99, 99.9)} | {
        "max": float(samples.max())
    }


def cli_run(path: Path, workdir: Path) -> dict[str, float]:
    """Run ``hean features`` as a user would and read its summary line."""
    hean = Path(sys.executable).with_name("hean")
    started = time.perf_counter()
    done = subprocess.run(
        [str(hean), "features", str(path), "-o", str(workdir / "bench.hlf")],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - started
    match = re.search(r"([\d.]+) M msg/s", done.stdout)
    if match is None:
        raise RuntimeError(f"unexpected output from hean features: {done.stdout!r}")
    return {"reported_msgs_per_s": float(match.group(1)) * 1e6, "process_wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=4_000_000, help="in-memory stream")
    parser.add_argument("--file-messages", type=int, default=8_000_000, help="CLI stream")
    parser.add_argument("--instruments", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("out/bench"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    print(
        f"generating a clean synthetic session: {args.messages:,} messages, "
        f"{args.instruments} instruments ...",
        flush=True,
    )
    msgs, _ = generate(SynthConfig(instruments=args.instruments, messages=args.messages, seed=1))
    Mirror().warm_up()

    results: dict[str, object] = {
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
        "messages": args.messages,
        "instruments": args.instruments,
    }
    print(f"\n{'K':>4} {'M msg/s':>10} {'ns/msg':>8}")
    rates = {}
    for K in (4, 16, 32, 64):
        rate = batch_rate(msgs, Params(K=K, N=args.instruments), args.repeats)
        rates[K] = rate
        print(f"{K:>4} {rate / 1e6:>10.2f} {1e9 / rate:>8.1f}", flush=True)
    results["batch_msgs_per_s"] = rates

    lat = single_latency(msgs, Params(N=args.instruments), 200_000)
    results["single_message_ns"] = lat
    print("\none message per call (K=32): " + "  ".join(f"{k} {v:,.0f} ns" for k, v in lat.items()))

    hl2 = args.out / "bench.hl2"
    print(f"\nwriting {args.file_messages:,} messages to {hl2} for the CLI run ...", flush=True)
    write_session(hl2, SynthConfig(instruments=args.instruments, messages=args.file_messages))
    cli = [cli_run(hl2, args.out) for _ in range(3)]
    best = max(cli, key=lambda r: r["reported_msgs_per_s"])
    results["cli"] = best | {"messages": args.file_messages}
    print(
        f"hean features (file in, file out, K=32): {best['reported_msgs_per_s'] / 1e6:.2f} M msg/s "
        f"as printed; whole process {best['process_wall_s']:.2f} s = "
        f"{args.file_messages / best['process_wall_s'] / 1e6:.2f} M msg/s including start-up"
    )
    for name, got, goal in (
        ("mirror in memory, K=32", rates[32], 5e6),
        ("CLI file to file", best["reported_msgs_per_s"], 3e6),
    ):
        verdict = "meets" if got >= goal else "MISSES"
        print(f"goal {name}: >= {goal / 1e6:.0f} M msg/s -> {got / 1e6:.2f} ({verdict})")
    (args.out / "mirror.json").write_text(json.dumps(results, indent=2, default=str))
    for leftover in ("bench.hl2", "bench.hl2.json", "bench.hlf", "bench.hlf.json"):
        (args.out / leftover).unlink(missing_ok=True)
    print(f"\nwrote {args.out / 'mirror.json'}")


if __name__ == "__main__":
    main()
