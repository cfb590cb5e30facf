"""A child forked without exec starts a trace of its own, linked to its parent's: its crash
or failing exit is recorded, and the parent's trace and exit status are its own."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from .conftest import COMPILERS, assert_valid, by_type, compile_program, decoded, run_traced

FORKS = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
struct order { int qty; };
static int total(struct order *o) { return o->qty * 2; }     /* the child crashes here */
static int child_work(int how) {
    if (how == 1) exit(3);
    if (how == 2) execl("/bin/true", "true", (char *)0);
    return total(NULL);
}
static int spawn(int how) {
    pid_t pid = fork();
    if (pid == 0) return child_work(how);
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}
int main(int argc, char **argv) {
    int how = argc < 2 ? 0 : !strcmp(argv[1], "exit") ? 1 : !strcmp(argv[1], "exec") ? 2 : 0;
    int status = spawn(how);
    printf("child status %d\n", status);
    return 0;
}
"""


def _traces(spool: Path) -> tuple[list[dict], list[dict]]:
    """The decoded records of the parent's trace and of the child's."""
    parent, child = None, None
    for path in sorted(spool.glob("*.otrace")):
        assert_valid(path)
        records = decoded(path)
        if records[0].get("parent"):
            child = records
        else:
            parent = records
    return parent, child


@pytest.mark.parametrize("compiler", COMPILERS)
def test_forked_child_that_crashes_has_its_own_trace(tmp_path: Path, compiler: str) -> None:
    exe = compile_program(tmp_path, compiler, FORKS)
    status, traces = run_traced(exe, spool=tmp_path / "spool")
    assert status == 0 and len(traces) == 2
    parent, child = _traces(tmp_path / "spool")
    assert parent is not None and child is not None
    # the child's trace is a new one, linked to the parent's
    assert child[0]["trace_id"] != parent[0]["trace_id"]
    assert child[0]["parent"]["trace_id"] == parent[0]["trace_id"]
    assert len(child[0]["parent"]["span_id"]) == 16
    assert child[0]["process"]["pid"] != parent[0]["process"]["pid"]
    (crash,) = by_type(child, "crash")
    assert crash["reason"] == "SIGSEGV" and crash["detail"]["signal"] == signal.SIGSEGV
    functions = {f["id"]: f["name"] for f in by_type(child, "function")}
    (stack,) = by_type(child, "stack")
    assert [functions[f["fn"]] for f in stack["frames"]] == ["main", "spawn", "child_work", "total"]
    assert [lane["name"] for lane in by_type(child, "lane")] == ["main"]
    child_end = by_type(child, "end")[0]
    assert child_end["status"] == "crashed" and child_end["parent"] == child[0]["parent"]
    # the parent's trace: its own calls only, and its exit status unchanged
    parent_end = by_type(parent, "end")[0]
    assert parent_end["status"] == "ok" and parent_end["exit_code"] == 0
    assert not by_type(parent, "crash")
    functions = {f["id"]: f["name"] for f in by_type(parent, "function")}
    assert [functions[c["fn"]] for c in by_type(parent, "call")] == ["main", "spawn"]


@pytest.mark.parametrize("compiler", COMPILERS[:1])
def test_forked_child_that_execs_leaves_no_trace(tmp_path: Path, compiler: str) -> None:
    exe = compile_program(tmp_path, compiler, FORKS)
    status, traces = run_traced(exe, "exec", spool=tmp_path / "spool")
    assert status == 0 and len(traces) == 1  # the parent's: the child became /bin/true
    parent, child = _traces(tmp_path / "spool")
    assert child is None and by_type(parent, "end")[0]["status"] == "ok"


@pytest.mark.parametrize("compiler", COMPILERS[:1])
def test_forked_child_in_error_mode(tmp_path: Path, compiler: str) -> None:
    exe = compile_program(tmp_path, compiler, FORKS)
    # error mode: only the failing child writes; the parent exits 0 and writes nothing
    status, traces = run_traced(exe, spool=tmp_path / "crash", mode="error")
    assert status == 0 and len(traces) == 1
    parent, child = _traces(tmp_path / "crash")
    assert parent is None and by_type(child, "end")[0]["status"] == "crashed"
    status, traces = run_traced(exe, "exit", spool=tmp_path / "exit", mode="error")
    assert status == 0 and len(traces) == 1
    _, child = _traces(tmp_path / "exit")
    end = by_type(child, "end")[0]
    assert end["status"] == "failed" and end["exit_code"] == 3
