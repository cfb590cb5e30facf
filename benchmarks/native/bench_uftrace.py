"""liborion against uftrace: the whole process as a user runs it, then the cost per call.

One recursive fib is compiled three ways with gcc -O2 -g: with -finstrument-functions
(what liborion traces; uftrace traces it through the same hooks), with -pg (uftrace's
native mode: mcount at each entry, return addresses patched for the exits), and with
neither (the program as it would run untraced). All three with -fno-optimize-sibling-calls:
otherwise gcc turns one of the two recursive calls of the -pg and plain builds into a loop
(the hooks of -finstrument-functions prevent that), and they would make half the calls.

Whole process, first: wall clock from the command's start to its end, start-up and the
final flush included, exactly as typed:

    orion run --mode dev --spool S -- ./fib-finstrument N
    uftrace record -d D ./fib-pg N
    uftrace record -d D ./fib-finstrument N

`orion run` pays for a Python interpreter and the CLI's imports before the program starts
and reads the trace's end after; uftrace is a C program. At a small N that start-up is most
of the figure; at a large one the per-call cost is.

Per call: the agent alone, preloaded into the program as `orion run` does (no CLI), and
uftrace's two modes, each minus the same binary run plain, divided by the calls. Two more
liborion runs price the function filters (a pattern that matches nothing: every call kept
through the filter lookup; `fib`: every call dropped in the hooks). Bytes per event are
what each left on disk.

Runs are interleaved (drifts in machine load hit every variant alike); medians are shown.

    python benchmarks/native/bench_uftrace.py [--n 20,30] [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIB = r"""
#include <stdio.h>
#include <stdlib.h>
__attribute__((noinline)) static long fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
int main(int argc, char **argv) { printf("%ld\n", fib(argc > 1 ? atoi(argv[1]) : 27)); return 0; }
"""
BUILDS = {"plain": [], "finstrument": ["-finstrument-functions"], "pg": ["-pg"]}
PER_CALL_MIN = 1_000_000  # calls below which start-up swamps the per-call figure


def fib_calls(n: int) -> int:
    """Calls of fib(n) (each makes one call and one return event), plus main."""
    a, b = 0, 1
    for _ in range(n + 1):
        a, b = b, a + b
    return 2 * a - 1 + 1


def timed(command: list[str], env: dict | None = None,
          cwd: Path | None = None) -> tuple[float, float]:
    """Wall-clock seconds, and CPU seconds of every process the command waited for (less
    swayed by other work on a shared machine)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def dir_bytes(path: Path, pattern: str) -> int:
    return sum(p.stat().st_size for p in path.glob(pattern))


def orion_command() -> list[str]:
    """The `orion` console script next to this Python, as a user types it."""
    script = Path(sys.executable).with_name("orion")
    return [str(script)] if script.exists() else [sys.executable, "-m", "orion"]


def measure(work: Path, exes: dict[str, Path], n: int, runs: int,
            preload: dict[str, str]) -> dict:
    """Every variant `runs` times, interleaved; medians of wall and CPU seconds, and of
    bytes on disk."""
    spool, data = work / "spool", work / "uftrace.data"
    arg = str(n)
    variants = {
        "plain": ([str(exes["plain"]), arg], None, None),
        "plain_finstrument": ([str(exes["finstrument"]), arg], None, None),
        "plain_pg": ([str(exes["pg"]), arg], None, None),
        "orion_run": ([*orion_command(), "run", "--mode", "dev", "--spool", str(spool), "--",
                       str(exes["finstrument"]), arg], None, spool),
        "uftrace_pg": (["uftrace", "record", "-d", str(data), str(exes["pg"]), arg], None, data),
        "uftrace_finstrument": (["uftrace", "record", "-d", str(data),
                                 str(exes["finstrument"]), arg], None, data),
        "liborion": ([str(exes["finstrument"]), arg], preload, spool),
        "liborion_filter_kept": ([str(exes["finstrument"]), arg],
                                 dict(preload, ORION_EXCLUDE_FUNCS="nomatch_*"), None),
        "liborion_filter_dropped": ([str(exes["finstrument"]), arg],
                                    dict(preload, ORION_EXCLUDE_FUNCS="fib"), None),
    }
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    size: dict[str, list[int]] = {name: [] for name, v in variants.items() if v[2]}
    for _ in range(runs):
        for name, (command, env, output) in variants.items():
            shutil.rmtree(spool, ignore_errors=True)
            shutil.rmtree(data, ignore_errors=True)
            wall, used = timed(command, env, cwd=work)  # -pg writes gmon.out here
            seconds[name].append(wall)
            cpu[name].append(used)
            if output is spool:
                size[name].append(dir_bytes(spool, "*.otrace"))
            elif output is data:
                size[name].append(dir_bytes(data, "*.dat"))
    return {"seconds": {k: statistics.median(v) for k, v in seconds.items()},
            "cpu": {k: statistics.median(v) for k, v in cpu.items()},
            "bytes": {k: statistics.median(v) for k, v in size.items()}}


def summarize(n: int, runs: int, measured: dict) -> dict:
    s, c, size = measured["seconds"], measured["cpu"], measured["bytes"]
    calls = fib_calls(n)
    events = 2 * calls
    whole = ("orion_run", "uftrace_pg", "uftrace_finstrument", "liborion", "plain",
             "plain_finstrument", "plain_pg")

    def per_call(variant: str, baseline: str, times: dict = s) -> float:
        return round((times[variant] - times[baseline]) * 1e9 / calls, 1)

    return {
        "n": n, "calls": calls, "runs": runs,
        "whole_process_s": {name: round(s[name], 4) for name in whole},
        "whole_process_cpu_s": {name: round(c[name], 4) for name in whole},
        "orion_cli_s": round(s["orion_run"] - s["liborion"], 4),
        "whole_ratio_orion_run_to_uftrace_pg": round(s["orion_run"] / s["uftrace_pg"], 2),
        "whole_ratio_orion_run_to_uftrace_finstrument":
            round(s["orion_run"] / s["uftrace_finstrument"], 2),
        "whole_cpu_ratio_orion_run_to_uftrace_pg": round(c["orion_run"] / c["uftrace_pg"], 2),
        "whole_cpu_ratio_orion_run_to_uftrace_finstrument":
            round(c["orion_run"] / c["uftrace_finstrument"], 2),
        "ns_per_call": {
            "liborion": per_call("liborion", "plain_finstrument"),
            "uftrace_pg": per_call("uftrace_pg", "plain_pg"),
            "uftrace_finstrument": per_call("uftrace_finstrument", "plain_finstrument"),
            "liborion_filter_kept": per_call("liborion_filter_kept", "plain_finstrument"),
            "liborion_filter_dropped": per_call("liborion_filter_dropped", "plain_finstrument"),
        },
        "cpu_ns_per_call": {
            "liborion": per_call("liborion", "plain_finstrument", c),
            "uftrace_pg": per_call("uftrace_pg", "plain_pg", c),
            "uftrace_finstrument": per_call("uftrace_finstrument", "plain_finstrument", c),
        },
        "bytes_per_event": {name: round(b / events, 3) for name, b in size.items()},
    }


def render(result: dict) -> str:
    w, u = result["whole_process_s"], result["whole_process_cpu_s"]
    c, cu, b = result["ns_per_call"], result["cpu_ns_per_call"], result["bytes_per_event"]
    lines = [
        f"fib({result['n']}): {result['calls']:,} calls, medians of {result['runs']} runs",
        "whole process, start-up and final flush included     wall s   CPU s",
    ]
    for label, key in (("orion run -- ./fib-finstrument", "orion_run"),
                       ("uftrace record ./fib-pg", "uftrace_pg"),
                       ("uftrace record ./fib-finstrument", "uftrace_finstrument"),
                       ("the agent preloaded, no CLI", "liborion"),
                       ("plain, no instrumentation", "plain"),
                       ("plain -finstrument-functions", "plain_finstrument"),
                       ("plain -pg", "plain_pg")):
        lines.append(f"  {label:50} {w[key]:7.3f} {u[key]:7.3f}")
    lines += [
        f"  ratio orion run / uftrace -pg                      "
        f"{result['whole_ratio_orion_run_to_uftrace_pg']:7} "
        f"{result['whole_cpu_ratio_orion_run_to_uftrace_pg']:7}",
        f"  ratio orion run / uftrace -finstrument-functions   "
        f"{result['whole_ratio_orion_run_to_uftrace_finstrument']:7} "
        f"{result['whole_cpu_ratio_orion_run_to_uftrace_finstrument']:7}",
    ]
    if result["calls"] < PER_CALL_MIN:
        lines.append("per call: start-up dominates at this size (see a larger --n)")
        return "\n".join(lines)
    lines.append("per call, minus the same binary run plain      wall ns  CPU ns  bytes/event")
    for label, key in (("liborion preloaded (no CLI)", "liborion"),
                       ("uftrace -pg", "uftrace_pg"),
                       ("uftrace -finstrument-functions", "uftrace_finstrument")):
        lines.append(f"  {label:44} {c[key]:7} {cu[key]:7}  {b[key]}")
    lines.append(f"  liborion, filter kept all / dropped all      {c['liborion_filter_kept']} / "
                 f"{c['liborion_filter_dropped']}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", default="20,30", help="fib arguments, comma-separated")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not shutil.which("uftrace"):
        print("uftrace is not installed (Debian: apt-get install uftrace)", file=sys.stderr)
        return 2
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from orion.native.launch import prepare_env

    work = Path(tempfile.mkdtemp(prefix="orion-bench-"))
    try:
        src = work / "fib.c"
        src.write_text(FIB)
        exes = {}
        for name, flags in BUILDS.items():
            exes[name] = work / f"fib-{name}"
            subprocess.run(["gcc", "-O2", "-g", "-fno-optimize-sibling-calls", *flags,
                            str(src), "-o", str(exes[name])], check=True)
        preload = dict(os.environ, **prepare_env("dev", work / "spool"))
        preload["LD_PRELOAD"] = preload["LD_PRELOAD"].split()[0]  # C program: liborion only
        results = [summarize(n, args.runs, measure(work, exes, n, args.runs, preload))
                   for n in map(int, args.n.split(","))]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print("\n\n".join(render(result) for result in results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
