"""liborion against uftrace, same run, same binary: per-call overhead and bytes on disk.

One recursive fib, compiled once with -O2 -finstrument-functions, is run three ways:
plain (glibc's empty __cyg_profile hooks: the baseline), under liborion (dev mode: every
call and return, preloaded as `orion run` does), and under `uftrace record` (which traces
-finstrument-functions binaries through the same hooks). Each is timed wall-clock, end to
end (start-up and the final flush included), several times; medians are reported. Two
more liborion runs price the function filters: an exclude pattern that matches nothing
(every call still recorded, through the hooks' filter lookup) and one that excludes fib
(every call dropped in the hooks).

    python benchmarks/native/bench_uftrace.py [--n 27] [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
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


def fib_calls(n: int) -> int:
    """Calls of fib(n) (each makes one call and one return event), plus main."""
    a, b = 0, 1
    for _ in range(n + 1):
        a, b = b, a + b
    return 2 * a - 1 + 1


def timed(command: list[str], env: dict | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def dir_bytes(path: Path, pattern: str) -> int:
    return sum(p.stat().st_size for p in path.glob(pattern))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=27)
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
        exe = work / "fib"
        subprocess.run(["gcc", "-O2", "-g", "-finstrument-functions", str(src), "-o", str(exe)],
                       check=True)
        calls = fib_calls(args.n)
        events = 2 * calls
        native = dict(os.environ, **prepare_env("dev", work / "spool"))
        native["LD_PRELOAD"] = native["LD_PRELOAD"].split()[0]  # C program: liborion only
        plain, ours, theirs, our_bytes, their_bytes = [], [], [], [], []
        filters = {"nomatch_*": [], "fib": []}
        for run in range(args.runs):  # interleaved, so drifts in machine load hit all three
            plain.append(timed([str(exe), str(args.n)]))
            spool = work / "spool"
            shutil.rmtree(spool, ignore_errors=True)
            native["ORION_SPOOL"] = str(spool)
            ours.append(timed([str(exe), str(args.n)], native))
            our_bytes.append(dir_bytes(spool, "*.otrace"))
            data = work / f"uftrace.data"
            shutil.rmtree(data, ignore_errors=True)
            theirs.append(timed(["uftrace", "record", "-d", str(data), str(exe), str(args.n)]))
            their_bytes.append(dir_bytes(data, "*.dat"))
            for pattern, times in filters.items():
                times.append(timed([str(exe), str(args.n)],
                                   dict(native, ORION_EXCLUDE_FUNCS=pattern)))
        base = statistics.median(plain)
        result = {
            "n": args.n, "calls": calls, "events": events, "runs": args.runs,
            "plain_s": round(base, 4),
            "orion_s": round(statistics.median(ours), 4),
            "uftrace_s": round(statistics.median(theirs), 4),
            "orion_ns_per_call": round((statistics.median(ours) - base) * 1e9 / calls, 1),
            "uftrace_ns_per_call": round((statistics.median(theirs) - base) * 1e9 / calls, 1),
            "orion_filter_kept_ns_per_call":
                round((statistics.median(filters["nomatch_*"]) - base) * 1e9 / calls, 1),
            "orion_filter_dropped_ns_per_call":
                round((statistics.median(filters["fib"]) - base) * 1e9 / calls, 1),
            "orion_bytes_per_event": round(statistics.median(our_bytes) / events, 3),
            "uftrace_bytes_per_event": round(statistics.median(their_bytes) / events, 3),
        }
        result["overhead_ratio"] = round(result["orion_ns_per_call"]
                                         / max(result["uftrace_ns_per_call"], 1e-9), 3)
        result["bytes_ratio"] = round(result["orion_bytes_per_event"]
                                      / result["uftrace_bytes_per_event"], 4)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:34} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
