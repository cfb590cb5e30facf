"""Lanes of a multi-threaded program: numbered in creation order with the main thread
first, and named so that two runs of the same program pair thread for thread."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import COMPILERS, assert_valid, by_type, compile_program, decoded, orion, run_traced

# Each thread does different work, so pairing the wrong threads shows up as a difference;
# the first thread created starts last, so creation order is not the order of first calls.
WORKERS = r"""
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
static int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
static void *worker(void *arg) {
    long i = (long)arg;
    if (i == 0) usleep(20000);
    return (void *)(long)fib(6 + (int)i);
}
int main(void) {
    pthread_t t[3];
    for (long i = 0; i < 3; i++) pthread_create(&t[i], 0, worker, (void *)i);
    for (int i = 0; i < 3; i++) pthread_join(t[i], 0);
    printf("%d\n", fib(10));
    return 0;
}
"""


@pytest.mark.parametrize("compiler", COMPILERS)
def test_lanes_follow_creation_order_and_runs_diff_clean(tmp_path: Path, compiler: str) -> None:
    exe = compile_program(tmp_path, compiler, WORKERS)
    runs = []
    for k in range(2):
        status, traces = run_traced(exe, spool=tmp_path / f"spool{k}")
        assert status == 0 and len(traces) == 1
        assert_valid(traces[0])
        runs.append(traces[0])
    records = decoded(runs[0])
    lanes = sorted(by_type(records, "lane"), key=lambda lane: lane["id"])
    assert [lane["name"] for lane in lanes] == ["main", "thread 1", "thread 2", "thread 3"]
    assert len({lane["native_id"] for lane in lanes}) == 4  # the tid is kept
    functions = {f["id"]: f["name"] for f in by_type(records, "function")}
    # thread 1 ran fib(6): 25 calls of fib under worker
    fibs = [c for c in by_type(records, "call") if c["lane"] == 1 and functions[c["fn"]] == "fib"]
    assert len(fibs) == 25
    result = orion("diff", "--no-timing", str(runs[0]), str(runs[1]))
    assert result.returncode == 0, result.stdout + result.stderr
