"""`orion show` (and `orion replay`) on a 2.7 M-call dev trace: wall time and peak RSS of
the real command in a subprocess, as a user runs it.

    python benchmarks/show_bench.py [--calls N] [--checkout DIR] [--replay] [--json]
    python benchmarks/show_bench.py --big [--calls 8500000 --payload 180 --limit-mb 1024]

`--checkout DIR` runs the `orion` of another checkout (e.g. a `git worktree` of an older
commit) on the same trace, for before/after figures. The trace is the one the tests use
(tests/sample_traces.py: write_large_trace): a loop of handle → parse, store calls with
arguments and return values, a caught exception every 1000th row, a failure at the end.

`--big` writes instead a trace as big as the real dev trace of issue 10 (a pytest run of
835 MB, 17 M records): `main` runs `test_case(i, data)` → `check(i)` with `data` random
(base64 of --payload bytes, hardly compressible), the last case failing; then `list`
(table: fingerprints too), `show` and `replay` (to the last event, twice: the second
takes the index from the cache) each run under an address-space limit (--limit-mb).
"""

from __future__ import annotations

import argparse
import base64
import os
import random
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


def write_big_trace(spool: Spool, calls: int, payload: int) -> str:
    """A dev trace of `calls` calls (half test_case with `payload` random bytes as base64,
    half check), the last test_case failing."""
    w = spool.open_writer(language="python", agent="orion-big", mode="dev")
    lane = w.lane("MainThread", "thread")
    main = w.function("main", "app", "app.py", 1)
    test = w.function("test_case", "app", "app.py", 10)
    check = w.function("check", "app", "app.py", 20)
    noise = random.Random(1)
    t = 0
    w.call(t, lane, main, w.encode_pairs({}))
    for i in range(calls // 2):
        data = base64.b64encode(noise.randbytes(payload)).decode()
        w.call(t + 1, lane, test, w.encode_pairs({"i": i, "data": data}))
        w.call(t + 2, lane, check, w.encode_pairs({"i": i}))
        w.ret(t + 3, lane, True)
        w.ret(t + 4, lane, None)
        t += 5
    w.call(t + 1, lane, test, w.encode_pairs({"i": -1, "data": ""}))
    w.exception(t + 2, lane, "AssertionError", "last case", line=12)
    w.unwind(t + 3, lane, 12, w.encode_pairs({"i": -1}))
    w.unwind(t + 4, lane, 3, w.encode_pairs({}))
    w.crash(t + 5, lane, "uncaught", "AssertionError", "last case")
    w.close(status="failed", exit_code=1,
            exception={"type": "AssertionError", "message": "last case"})
    return str(w.path)


def measure(args: list[str], checkout: Path, stdin: str | None = None,
            limit: int | None = None) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system: less swayed by a busy machine) and peak
    RSS (MB) of `python -m orion ARGS` run from `checkout`'s code (its output dropped),
    under an address-space `limit` (bytes) if given."""
    env = dict(os.environ, PYTHONPATH=str(checkout))

    def cap() -> None:
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    before, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "orion", *args], input=stdin, env=env,
                            cwd=checkout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, preexec_fn=cap)
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
    parser.add_argument("--big", action="store_true",
                        help="a trace of issue 10's size, commands under --limit-mb")
    parser.add_argument("--payload", type=int, default=180)
    parser.add_argument("--limit-mb", type=int, default=1024)
    options = parser.parse_args()
    if options.big:
        return bench_big(options)
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


def bench_big(options: argparse.Namespace) -> int:
    calls = options.calls if options.calls != 2_700_000 else 8_500_000
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")  # the index cache: ours
        start = time.perf_counter()
        path = str(Path(write_big_trace(Spool(Path(tmp) / "spool"), calls,
                                        options.payload)).resolve())
        print(f"trace: {calls:,} calls, {os.path.getsize(path) / 1e6:.0f} MB (written in "
              f"{time.perf_counter() - start:.0f} s); limit {options.limit_mb} MB of "
              "address space")
        limit = options.limit_mb * 1024 * 1024
        runs = [("list (table)", ["list", "--spool", str(Path(path).parent), "-f", "table"]),
                ("show", ["show", path, "--no-env"]),
                ("replay (index built)", ["replay", path]),
                ("replay (index from the cache)", ["replay", path])]
        for label, args in runs:
            took, cpu, rss = measure(args, options.checkout, stdin="goto -1\nwhere\n",
                                     limit=limit)
            print(f"orion {label}: {took:.1f} s ({cpu:.1f} s CPU), peak RSS {rss:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
