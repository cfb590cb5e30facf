"""Side-by-side runs of Go workload builds, by hand (never a timed test):

    python benchmarks/go/alternate.py --runs 7 --calls 7049155 \
        --builds ./plain:off ./traced:safe ./traced:error -- -n 32

Runs each `binary:mode` (ORION_MODE) in turn, so that the machine's load falls alike on
all, and prints each one's median CPU time (user + system, from the kernel's accounting of
children), its ratio to the first, and the CPU per call over the first when `--calls` is
given; bytes per event of the trace it left, if any.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path


def cpu_of(command: list[str], env: dict[str, str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--calls", type=int, help="calls a run makes (per-call figures)")
    parser.add_argument("--builds", nargs="+", required=True, help="binary:mode, the first the base")
    parser.add_argument("args", nargs="*", help="the workload's arguments, after --")
    options = parser.parse_args()
    args, builds = options.args, options.builds
    spool = Path(tempfile.mkdtemp(prefix="orion-go-alternate-"))
    times: dict[str, list[float]] = {build: [] for build in builds}
    sizes: dict[str, float] = {}
    try:
        for _ in range(options.runs):
            for build in builds:
                exe, _, mode = build.partition(":")
                shutil.rmtree(spool, ignore_errors=True)
                env = {**os.environ, "ORION_MODE": mode or "off", "ORION_SPOOL": str(spool)}
                times[build].append(cpu_of([exe, *args], env))
                traces = list(spool.glob("*.otrace"))
                if traces and options.calls:
                    sizes[build] = traces[0].stat().st_size / (2 * options.calls)
    finally:
        shutil.rmtree(spool, ignore_errors=True)
    base = statistics.median(times[builds[0]])
    for build in builds:
        median = statistics.median(times[build])
        line = f"{build}: median CPU {median:.3f} s, {median / base:.2f}x"
        if options.calls:
            line += f", {(median - base) / options.calls * 1e9:.0f} ns a call over {builds[0]}"
        if build in sizes:
            line += f", {sizes[build]:.2f} bytes an event"
        print(f"{line} (runs: {', '.join(f'{t:.2f}' for t in sorted(times[build]))})")
    print("load average", " ".join(f"{x:.1f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
