"""Orionis Python agent vs VizTracer: medians of several runs, as ratios to untraced.

    python benchmarks/python_agent/bench.py [--runs 5]

Each configuration runs the workload in a fresh process; the workload times only its own
work (not interpreter start or trace saving) and reports its peak RSS.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
WORKLOAD = str(HERE / "workloads.py")
PY = sys.executable


def configs(tmp):
    agent = [PY, "-m", "orion.agent", "--spool", str(Path(tmp) / "spool")]
    viz = [PY, "-m", "viztracer", "--quiet", "-o", str(Path(tmp) / "viz.json")]
    return {
        "untraced": [PY],
        "orion safe, sampling off": [*agent, "--mode", "safe", "--sample", "off"],
        "orion safe, default 1% sampling": [*agent, "--mode", "safe"],
        "orion dev (args + returns)": [*agent, "--mode", "dev"],
        "orion error": [*agent, "--mode", "error"],
        "viztracer (default)": viz,
        "viztracer --log_func_args --log_func_retval": [*viz, "--log_func_args",
                                                        "--log_func_retval"],
    }


def measure(command, workload, runs, hook):
    times, peaks = [], []
    env = dict(os.environ, ORION_HOOK=hook)
    for _ in range(runs):
        out = subprocess.run([*command, WORKLOAD, workload], capture_output=True, text=True,
                             env=env, check=True).stdout.strip().splitlines()[-1]
        elapsed, peak = out.split()
        times.append(float(elapsed))
        peaks.append(int(peak))
    return statistics.median(times), max(peaks)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--hook", default="auto", choices=("auto", "c", "python"))
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for workload in ("fib", "render"):
            print(f"\n{workload} (median of {opts.runs}, hook={opts.hook})")
            print(f"{'configuration':46} {'seconds':>9} {'ratio':>7} {'peak RSS MB':>12}")
            base = None
            for name, command in configs(tmp).items():
                seconds, peak = measure(command, workload, opts.runs, opts.hook)
                base = base or seconds
                print(f"{name:46} {seconds:9.4f} {seconds / base:7.2f} {peak / 1024:12.1f}")


if __name__ == "__main__":
    main()
