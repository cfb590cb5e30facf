"""Diff of two 100,000-call traces (target < 2 s) and fingerprint of a 1,000,000-event
trace (target < 3 s), each including reading the files. Run: python benchmarks/analysis_bench.py"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from orion.analysis.diff import diff_traces
from orion.analysis.fingerprint import fingerprints
from orion.model import load_trace
from orion.spool import Spool


def write(spool: Spool, calls: int, changed_at: int | None = None) -> Path:
    """A main() looping over 20 functions, each calling another: `calls` calls in all."""
    w = spool.open_writer(language="python")
    lane = w.lane("MainThread")
    main = w.function("main", "app", "app.py", 1)
    fns = [w.function(f"f{i}", "app", "app.py", 10 + i) for i in range(20)]
    t = 0
    w.call(t, lane, main, w.encode_pairs({}))
    for i in range((calls - 1) // 2):
        t += 10
        w.call(t, lane, fns[i % 20], w.encode_pairs({"i": i % 7}))
        t += 10
        w.call(t, lane, fns[(i + 1) % 20], w.encode_pairs({"x": "abc"}))
        t += 10
        w.ret(t, lane, -1 if i == changed_at else i)
        t += 10
        w.ret(t, lane, None)
    w.ret(t + 10, lane, 0)
    w.close(status="ok")
    return w.path


def timed(label: str, target: float, fn) -> bool:
    start = time.perf_counter()
    fn()
    took = time.perf_counter() - start
    print(f"{label}: {took:.2f} s (target < {target} s)")
    return took < target


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        spool = Spool(tmp)
        a, b = write(spool, 100_000), write(spool, 100_000, changed_at=30_000)
        big = write(spool, 500_000)  # 500,000 calls + returns = 1,000,000 events
        ok = timed("diff 2 x 100,000 calls", 2.0,
                   lambda: diff_traces(load_trace(a), load_trace(b)))
        ok &= timed("fingerprint 1,000,000 events", 3.0, lambda: fingerprints(load_trace(big)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
