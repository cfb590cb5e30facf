"""Orionis Python agent vs VizTracer: medians of several runs, as ratios to untraced.

    python benchmarks/python_agent/bench.py [--runs 5] [--hook auto|c|python]

Run it with each interpreter to compare (`~/.pyenv/versions/3.13.0/bin/python bench.py`):
the ratios are to the untraced run of that interpreter, in the same run.

Each configuration runs the workload in a fresh process; the workload times only its own
work (not interpreter start or trace saving) and reports its peak RSS. Configurations are
interleaved run by run, so that a slow spell of the shared machine hits them all alike.
"Events" are the calls, returns and unwinds each tracer recorded (VizTracer: two per
complete event); "ns/event" is the time added over untraced divided by them.
"nothing traced" installs the agent's hook with every function filtered out: the cost of
having the hook at all (on CPython 3.11 a profile function, which slows every call down
once set; on 3.12+ sys.monitoring callbacks, which disable filtered code at its first
event).
"sampled ring" is error mode without a call hook (a thread samples stacks every ~1 ms).
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
WORKLOAD = str(HERE / "workloads.py")
PY = sys.executable


def configs(tmp):
    def agent(name, *options):
        return [PY, "-m", "orion.agent", "--spool", str(Path(tmp) / name), *options]

    viz = [PY, "-m", "viztracer", "--quiet", "-o", str(Path(tmp) / "viz.json")]
    return {
        "untraced": [PY],
        "orion error, nothing traced (hook floor)": agent("floor", "--mode", "error",
                                                          "--exclude", "__main__"),
        "orion safe, sampling off": agent("safe", "--mode", "safe", "--sample", "off"),
        "orion safe, default 1% sampling": agent("sampled", "--mode", "safe"),
        "orion dev (args + returns)": agent("dev", "--mode", "dev"),
        "orion error": agent("error", "--mode", "error"),
        "orion error, sampled ring": agent("errsampled", "--mode", "error", "--ring", "sampled"),
        "viztracer (default)": viz,
        "viztracer --log_func_args --log_func_retval": [*viz, "--log_func_args",
                                                        "--log_func_retval"],
    }


def events(command, tmp, since: float) -> int | None:
    """Events the run of `command` that started at `since` recorded (None: no trace; a
    sampled-out run of `safe` writes none)."""
    if "viztracer" in command:  # in a child: loading the JSON would raise our peak RSS,
        script = ("import json,sys; print(2 * sum(e.get('ph') == 'X' for e in "  # which
                  "json.load(open(sys.argv[1]))['traceEvents']))")  # children inherit
        return int(subprocess.run([PY, "-c", script, str(Path(tmp) / "viz.json")],
                                  capture_output=True, text=True, check=True).stdout)
    if "--spool" not in command:
        return None
    from orion.format.summary import read_summary

    spool = Path(command[command.index("--spool") + 1])
    paths = sorted((p for p in spool.glob("*.otrace") if p.stat().st_mtime >= since),
                   key=lambda p: p.stat().st_mtime)
    if not paths:
        return None
    counts = read_summary(paths[-1])["counts"]
    return counts["calls"] + counts["returns"] + counts["unwinds"]


def run(command, workload, hook):
    env = dict(os.environ, ORION_HOOK=hook)
    out = subprocess.run([*command, WORKLOAD, workload], capture_output=True, text=True,
                         env=env, check=True).stdout.strip().splitlines()[-1]
    elapsed, peak = out.split()
    return float(elapsed), int(peak)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--hook", default="auto", choices=("auto", "c", "python"))
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for workload in ("fib", "render"):
            table = configs(tmp)
            times = {name: [] for name in table}
            peaks = {name: 0 for name in table}
            counted = {}
            for _ in range(opts.runs):
                for name, command in table.items():
                    since = time.time() - 0.01
                    seconds, peak = run(command, workload, opts.hook)
                    times[name].append(seconds)
                    peaks[name] = max(peaks[name], peak)
                    counted.setdefault(name, []).append(events(command, tmp, since))
            print(f"\n{workload} (median of {opts.runs}, hook={opts.hook}, "
                  f"CPython {platform.python_version()})")
            print(f"| configuration | seconds | ratio | events | ns/event | peak RSS MB |")
            print("|---|---:|---:|---:|---:|---:|")
            base = statistics.median(times["untraced"])
            for name in table:
                seconds = statistics.median(times[name])
                n = counted[name][-1] if None not in counted[name] else None  # every run
                per = f"{(seconds - base) / n * 1e9:.0f}" if n else "-"
                print(f"| {name} | {seconds:.4f} | {seconds / base:.2f} | {n or '-'} | {per} "
                      f"| {peaks[name] / 1024:.1f} |")


if __name__ == "__main__":
    main()
