"""The Go agent's cost, by hand (never a timed test): `python benchmarks/go/bench.py`.

Builds benchmarks/go/workload plain and instrumented (as `orion run -- go build` does) and
benchmarks/go/otel (one OpenTelemetry span per call, SDK with a no-op exporter), runs each
workload in each mode several times and prints a Markdown table: median wall time, ratio
to the plain build of the same run, cost per call, peak RSS, bytes per event on disk.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

from orion.format.summary import read_summary
from orion.runtimes.go import instrument

HERE = Path(__file__).resolve().parent
MODES = [("safe", "calls only (safe mode: no values)"), ("dev", "dev, with arguments and results"),
         ("error", "error mode (ring, nothing written)")]


def build(module: Path, out: Path, goflags: str = "") -> Path:
    env = {k: v for k, v in os.environ.items() if k != "GOFLAGS"}
    if goflags:
        env["GOFLAGS"] = goflags
    subprocess.run(["go", "build", "-o", str(out), "."], cwd=module, env=env, check=True)
    return out


def run_once(exe: Path, args: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (KiB) of one run, measured by
    /usr/bin/time: CPU time is what other processes on a shared machine disturb least, and
    a child forked from this Python process would count Python's memory as its own."""
    with tempfile.NamedTemporaryFile("r") as out:
        done = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", "-o", out.name, str(exe),
                               *args], env=env, stdout=subprocess.DEVNULL)
        if done.returncode != 0:
            raise SystemExit(f"{exe} {args} failed")
        wall, user, system, rss = out.read().split()[-4:]
    return float(wall), float(user) + float(system), int(rss)


def measure(exe: Path, args: list[str], runs: int, mode: str | None, spool: Path) -> dict:
    walls, times, peaks, traces = [], [], [], []
    for i in range(runs):
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORION_")}
        env["ORION_MODE"] = mode or "off"
        env["ORION_SPOOL"] = str(spool / f"{mode}-{i}")
        wall, cpu, peak = run_once(exe, args, env)
        walls.append(wall)
        times.append(cpu)
        peaks.append(peak)
        traces += sorted((spool / f"{mode}-{i}").glob("*.otrace"))
    result = {"median": statistics.median(times), "wall": statistics.median(walls),
              "rss": max(peaks)}
    if traces:
        summary = read_summary(traces[-1])
        counts = summary["counts"]
        result["calls"] = counts["calls"]
        events = counts["calls"] + counts["returns"]
        result["bytes_per_event"] = traces[-1].stat().st_size / events
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--fib", type=int, default=30)
    parser.add_argument("--json-rounds", type=int, default=10)
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="orion-go-bench-"))
    try:
        plain = build(HERE / "workload", work / "plain")
        flags = instrument(str(HERE / "workload"))["GOFLAGS"]
        traced = build(HERE / "workload", work / "traced", flags)
        otel = build(HERE / "otel", work / "otel")
        workloads = [("fib", ["-w", "fib", "-n", str(options.fib)]),
                     ("json", ["-w", "json", "-n", str(options.json_rounds)])]
        print(f"{options.runs} runs each, medians of CPU time (user + system, the compressing "
              f"goroutine's included) and of wall time; per call = (time - plain's) / calls "
              f"(wall: what the program's own thread is held up, the compression running on "
              f"another core)\n")
        print("| workload | variant | CPU | ratio to plain | per call (CPU) | wall | "
              "per call (wall) | peak RSS | bytes/event |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for name, args in workloads:
            base = measure(plain, args, options.runs, None, work / "spool")
            dev = measure(traced, args, 1, "dev", work / "count")
            calls = dev["calls"]
            rows = [("plain build", base)]
            rows += [(label, measure(traced, args, options.runs, mode, work / "spool"))
                     for mode, label in MODES]
            rows.append(("OpenTelemetry span per call", measure(otel, args, options.runs, None,
                                                                  work / "spool")))
            for label, r in rows:
                per_call = (r["median"] - base["median"]) / calls * 1e9
                per_call_wall = (r["wall"] - base["wall"]) / calls * 1e9
                size = f"{r['bytes_per_event']:.2f}" if "bytes_per_event" in r else "-"
                ratio = (f"{r['median'] / base['median']:.2f}x" if base["median"] >= 0.05
                         else "-")  # CPU time is counted in 10 ms steps
                print(f"| {name} ({calls:,} calls) | {label} | {r['median']:.3f} s | "
                      f"{ratio} | {per_call:.0f} ns | {r['wall']:.2f} s | "
                      f"{per_call_wall:.0f} ns | {r['rss'] / 1024:.1f} MiB | {size} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
