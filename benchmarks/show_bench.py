"""`orion show` (and `orion replay`) on a 2.7 M-call dev trace: wall time and peak RSS of
the real command in a subprocess, as a user runs it.

    python benchmarks/show_bench.py [--calls N] [--checkout DIR] [--replay] [--json]

`--checkout DIR` runs the `orion` of another checkout (e.g. a `git worktree` of an older
commit) on the same trace, for before/after figures. The trace is the one the tests use
(tests/sample_traces.py: write_large_trace): a loop of handle → parse, store calls with
arguments and return values, a caught exception every 1000th row, a failure at the end.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orion.spool import Spool  # noqa: E402
from tests.sample_traces import write_large_trace  # noqa: E402


def measure(args: list[str], checkout: Path, stdin: str | None = None
            ) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system: less swayed by a busy machine) and peak
    RSS (MB) of `python -m orion ARGS` run from `checkout`'s code (its output dropped)."""
    env = dict(os.environ, PYTHONPATH=str(checkout))
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    before, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "orion", *args], input=stdin, env=env,
                            cwd=checkout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    took = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"orion {' '.join(args)} failed: {result.stderr.strip()}")
    # ru_maxrss of children is the largest so far: measure the smaller command first.
    return took, usage.ru_utime + usage.ru_stime - cpu, max(usage.ru_maxrss, before) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2_700_000)
    parser.add_argument("--checkout", type=Path, default=ROOT)
    parser.add_argument("--replay", action="store_true",
                        help="also time `orion replay` to its last event")
    parser.add_argument("--json", action="store_true", help="also time `orion show --json`")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        path = str(Path(write_large_trace(Spool(tmp), options.calls)).resolve())
        print(f"trace: {options.calls:,} calls, {os.path.getsize(path) / 1e6:.1f} MB "
              f"(written in {time.perf_counter() - start:.1f} s)")
        took, cpu, rss = measure(["show", path, "--no-env"], options.checkout)
        print(f"orion show:   {took:.2f} s ({cpu:.2f} s CPU), peak RSS {rss:.0f} MB")
        if options.json:
            took, cpu, rss = measure(["show", path, "--json"], options.checkout)
            print(f"orion show --json: {took:.2f} s ({cpu:.2f} s CPU), peak RSS {rss:.0f} MB")
        if options.replay:
            took, cpu, rss = measure(["replay", path], options.checkout,
                                     stdin="goto -1\nwhere\n")
            print(f"orion replay: {took:.2f} s ({cpu:.2f} s CPU), peak RSS {rss:.0f} MB "
                  "(to the last event)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
