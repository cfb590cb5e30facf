"""Node.js agent benchmark, run by hand (never a timed test): each workload plain, under the
Orionis agent in error and dev mode, and with one OpenTelemetry JS span per function call
(no-op exporter, otel-shim.js), interleaved run by run; medians of the workload's own time
(start-up excluded), wall and CPU (every thread of the process: on a machine shared with
other work, CPU time is what load disturbs least), trace bytes per event and peak RSS.

    cd benchmarks/node && npm ci && python bench.py [--runs 5] [--fib 25] [--requests 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REGISTER = HERE.parent.parent / "agents" / "node" / "lib" / "register.js"


def run_once(workload: str, size: int, variant: str, spool: Path) -> dict:
    env = {**os.environ, "ORION_SPOOL": str(spool)}
    command = ["node"]
    if variant in ("error", "dev"):
        env["ORION_MODE"] = variant
        command += ["--require", str(REGISTER)]
    elif variant == "otel":
        command += ["--require", str(HERE / "otel-shim.js")]
    done = subprocess.run(command + [f"workloads/{workload}.js", str(size)], cwd=HERE, env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def trace_figures(spool: Path) -> tuple[int, int]:
    """Bytes and events (every timed record) of the traces in `spool`."""
    from orion.format.summary import read_summary

    size = events = 0
    for path in spool.glob("*.otrace"):
        counts = read_summary(path)["counts"]
        size += path.stat().st_size
        events += sum(counts[k] for k in ("calls", "returns", "unwinds", "exceptions",
                                          "crashes", "stacks", "events"))
    return size, events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--fib", type=int, default=25)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    variants = ["plain", "error", "dev", "otel"]
    for workload, size in (("fib", args.fib), ("render", args.requests)):
        times: dict[str, list[float]] = {v: [] for v in variants}
        cpu: dict[str, list[float]] = {v: [] for v in variants}
        rss: dict[str, list[int]] = {v: [] for v in variants}
        per_event = None
        for _ in range(args.runs):
            for variant in variants:
                with tempfile.TemporaryDirectory() as spool:
                    result = run_once(workload, size, variant, Path(spool))
                    times[variant].append(result["ms"])
                    cpu[variant].append(result["cpu"])
                    rss[variant].append(result["rss"])
                    if variant == "dev" and per_event is None:
                        size_bytes, events = trace_figures(Path(spool))
                        per_event = (size_bytes / events, events)
        base = statistics.median(times["plain"])
        base_cpu = statistics.median(cpu["plain"])
        print(f"\n{workload} ({size}), medians of {args.runs} runs")
        print(f"{'variant':8} {'wall ms':>10} {'ratio':>7} {'CPU ms':>10} {'ratio':>7} {'peak RSS MiB':>13}")
        for variant in variants:
            ms, cpu_ms = statistics.median(times[variant]), statistics.median(cpu[variant])
            print(f"{variant:8} {ms:10.1f} {ms / base:7.2f} {cpu_ms:10.1f} {cpu_ms / base_cpu:7.2f} "
                  f"{statistics.median(rss[variant]) / 1024:13.1f}")
        for mode in ("error", "dev"):
            print(f"orion {mode} / otel: wall {statistics.median(times[mode]) / statistics.median(times['otel']):.2f}"
                  f", CPU {statistics.median(cpu[mode]) / statistics.median(cpu['otel']):.2f}")
        if per_event:
            print(f"dev trace: {per_event[0]:.2f} bytes/event over {per_event[1]} events")


if __name__ == "__main__":
    main()
