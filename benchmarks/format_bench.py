"""Format benchmarks for issue 2 (run by hand; figures go to benchmarks/RESULTS.md).

    python benchmarks/format_bench.py size      # bytes per call event, call-dense trace
    python benchmarks/format_bench.py decode    # reader API and `orion cat` throughput
    python benchmarks/format_bench.py list      # `orion list` over 10,000 traces
    python benchmarks/format_bench.py help      # `orion --help` start time
    python benchmarks/format_bench.py all

Each figure is the median of several runs. The call-dense trace is a real recursive
fib(N) whose call and return times were taken by a profile hook while it ran, so the
timestamps carry real jitter; it is then written with the real TraceWriter.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from orion.format import TraceReader, TraceWriter
from orion.spool import Spool

RUNS = 5


def fib(n: int) -> int:
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def record_fib(n: int) -> list[tuple[str, int]]:
    """Real call/return events of fib(n) with perf_counter_ns timestamps."""
    events: list[tuple[str, int]] = []
    clock = time.perf_counter_ns
    append = events.append

    def hook(frame, event, arg):
        if frame.f_code is fib.__code__ and event in ("call", "return"):
            append((event, clock()))

    sys.setprofile(hook)
    try:
        fib(n)
    finally:
        sys.setprofile(None)
    return events


def write_call_dense(path: Path, events: list[tuple[str, int]], level: int = 3) -> int:
    with open(path, "wb") as sink:
        w = TraceWriter(sink, language="python", mode="safe", level=level)
        lane = w.lane("MainThread")
        fn = w.function("fib", "__main__", "fib.py", 1)
        t0 = events[0][1]
        for kind, t in events:
            if kind == "call":
                w.call(t - t0, lane, fn)
            else:
                w.ret(t - t0, lane)
        w.close()
    return len(events)


FIB_PY = "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\nfib({n})\n"
FIB_C = """int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
int main(void) { return fib(%d) < 0; }
"""


def bench_size(n: int) -> None:
    events = record_fib(n)
    calls = len(events) // 2
    with tempfile.TemporaryDirectory() as tmp:
        for level in (3, 9):
            path = Path(tmp) / f"fib{level}.otrace"
            count = write_call_dense(path, events, level)
            size = path.stat().st_size
            print(f"size: orion .otrace, fib({n}), zstd level {level}: {size:,} bytes for "
                  f"{count:,} events = {size / count:.2f} bytes/event, "
                  f"{size / calls:.2f} bytes/call")
        peer_viztracer(Path(tmp), n, calls)
        peer_uftrace(Path(tmp), n, calls)


def peer_viztracer(tmp: Path, n: int, calls: int) -> None:
    """VizTracer's Chrome JSON for the same fib(n), one complete event per call."""
    script = tmp / "fib.py"
    script.write_text(FIB_PY.format(n=n))
    out = tmp / "viz.json"
    try:
        subprocess.run([sys.executable, "-m", "viztracer", "--quiet", "--tracer_entries",
                        str(4 * calls), "-o", str(out), str(script)], check=True,
                       stdout=subprocess.DEVNULL, cwd=tmp)
    except (OSError, subprocess.CalledProcessError):
        print("size: VizTracer not available (pip install viztracer)")
        return
    size = out.stat().st_size
    print(f"size: VizTracer JSON, fib({n}): {size:,} bytes = {size / calls:.1f} bytes/call, "
          f"{size / (2 * calls):.1f} bytes/event")


def peer_uftrace(tmp: Path, n: int, calls: int) -> None:
    """uftrace's binary records for a C fib(n) built with -pg (16 bytes per entry/exit)."""
    source = tmp / "fib.c"
    source.write_text(FIB_C % n)
    binary = tmp / "fib"
    try:
        subprocess.run(["gcc", "-O0", "-pg", "-o", str(binary), str(source)], check=True)
        subprocess.run(["uftrace", "record", "-d", str(tmp / "uftrace.data"), str(binary)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except (OSError, subprocess.CalledProcessError):
        print("size: uftrace not available (apt-get install uftrace)")
        return
    size = sum(p.stat().st_size for p in (tmp / "uftrace.data").glob("*.dat"))
    print(f"size: uftrace .dat, C fib({n}): {size:,} bytes = {size / calls:.1f} bytes/call, "
          f"{size / (2 * calls):.1f} bytes/event")


def make_big_trace(path: Path, events: int) -> None:
    with open(path, "wb") as sink:
        w = TraceWriter(sink, language="python")
        lane = w.lane("MainThread")
        fns = [w.function(f"f{i}", "m", "m.py", i) for i in range(50)]
        t = 0
        for i in range(events // 2):
            t += 37 + i % 11
            w.call(t, lane, fns[i % 50])
            t += 20 + i % 7
            w.ret(t, lane)
        w.close()


def bench_decode(events: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.otrace"
        make_big_trace(path, events)
        api = []
        for _ in range(RUNS):
            start = time.perf_counter()
            with TraceReader(path) as reader:
                count = sum(1 for _ in reader.records())
            api.append(time.perf_counter() - start)
        rate = count / statistics.median(api)
        print(f"decode: reader API, {count:,} records: median {statistics.median(api):.3f}s "
              f"= {rate / 1e6:.2f} M records/s")
        cat = []
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "orion", "cat", str(path)], check=True,
                           stdout=subprocess.DEVNULL)
            cat.append(time.perf_counter() - start)
        print(f"decode: `orion cat` to JSON lines, {count:,} records: median "
              f"{statistics.median(cat):.2f}s = {count / statistics.median(cat) / 1e6:.2f} M records/s")


def write_many(spool: Spool, traces: int) -> None:
    """`traces` one-call traces, one in ten failed: a spool to list."""
    for i in range(traces):
        w = spool.open_writer(language="python")
        lane = w.lane("MainThread")
        fn = w.function("main", "app", "app.py", 1)
        w.call(1, lane, fn)
        if i % 10 == 0:
            w.exception(2, lane, "ValueError", "boom")
            w.unwind(3, lane, 2)
            w.close(status="failed")
        else:
            w.ret(3, lane)
            w.close()


def bench_list(traces: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        spool = Spool(Path(tmp) / "spool")
        write_many(spool, traces)
        for fmt in ("ids", "table", "json"):
            times = []
            for _ in range(RUNS):
                start = time.perf_counter()
                subprocess.run([sys.executable, "-m", "orion", "list", "--spool", str(spool.path),
                                "--format", fmt], check=True, stdout=subprocess.DEVNULL)
                times.append(time.perf_counter() - start)
            print(f"list: {traces:,} traces, --format {fmt}: median {statistics.median(times):.3f}s")


def bench_help() -> None:
    exe = Path(sys.executable).with_name("orion")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "orion"]
    times = []
    for _ in range(RUNS * 2):
        start = time.perf_counter()
        subprocess.run(cmd + ["--help"], check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    print(f"help: `orion --help`: median {statistics.median(times):.3f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", choices=["size", "decode", "list", "help", "all"])
    parser.add_argument("--fib", type=int, default=25)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--traces", type=int, default=10_000)
    args = parser.parse_args()
    print(f"# {sys.version.split()[0]}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}")
    if args.which in ("size", "all"):
        bench_size(args.fib)
    if args.which in ("decode", "all"):
        bench_decode(args.events)
    if args.which in ("list", "all"):
        bench_list(args.traces)
    if args.which in ("help", "all"):
        bench_help()


if __name__ == "__main__":
    main()
