"""Crash stacks of programs built without -finstrument-functions, under `orion run` with
ORION_NATIVE_CRASHES=all (crash capture in programs the agent does not trace): the frames
the agent unwinds are named by the function that made each call (a return address
after a call that does not return is the next function's first byte), and a failed
assert() keeps the text the C library prints."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from .conftest import COMPILERS, assert_valid, compile_program, orion, run_traced

PROGRAM = r"""
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
__attribute__((noreturn)) void die(const char *why) {
    fprintf(stderr, "fatal: %s\n", why);
    abort();                                     /* line 8 */
}
int innocent(int x) { return x * 3; }            /* right after die in the binary */
int check(int v) {
    if (v < 0) die("negative");                  /* line 12 */
    return innocent(v);
}
int verify(int v) {
    assert(v > 0 && "v must be positive");       /* line 16 */
    return v;
}
int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "assert")) return verify(-1);   /* line 20 */
    return check(-1);                                                 /* line 21 */
}
"""


def _crash(tmp_path: Path, compiler: str, *args: str) -> dict:
    """Build the program (no instrumentation), run it under `orion run`, `show --json`."""
    src = tmp_path / "prog.c"
    src.write_text(PROGRAM)
    exe = tmp_path / "prog"
    subprocess.run([compiler, "-g", "-O0", str(src), "-o", str(exe)], check=True)
    status, traces = run_traced(exe, *args, spool=tmp_path / "spool")
    assert status == -signal.SIGABRT  # orion run dies of the same signal
    (trace,) = traces
    assert_valid(trace)
    show = orion("show", "--json", str(trace))
    assert show.returncode == 0, show.stderr
    return json.loads(show.stdout)


@pytest.mark.parametrize("compiler", COMPILERS)
@pytest.mark.usefixtures("every_program")
def test_abort_after_a_no_return_call_names_the_caller(tmp_path: Path, compiler: str) -> None:
    shown = _crash(tmp_path, compiler)
    path = [(frame["name"], frame["line"]) for frame in shown["failing_path"]]
    names = [name for name, _ in path]
    assert "innocent" not in names
    assert path[:3] == [("main", 21), ("check", 12), ("die", 8)]
    assert names[3] == "abort"  # the C library's, from its dynamic symbols
    assert "raise" in names and "gsignal" not in names  # an alias: its global name


@pytest.mark.parametrize("compiler", COMPILERS)
def test_instrumented_frame_that_called_abort_has_its_line(tmp_path: Path,
                                                          compiler: str) -> None:
    exe = compile_program(tmp_path, compiler, PROGRAM)
    status, (trace,) = run_traced(exe, spool=tmp_path / "spool")
    assert status == -signal.SIGABRT
    show = orion("show", "--json", str(trace))
    path = [(frame["name"], frame["line"]) for frame in json.loads(show.stdout)["failing_path"]]
    # the traced calls, the innermost on the line of its call into the C library
    assert path == [("main", 21), ("check", 12), ("die", 8)]


@pytest.mark.parametrize("compiler", COMPILERS)
@pytest.mark.usefixtures("every_program")
def test_failed_assert_keeps_its_text(tmp_path: Path, compiler: str) -> None:
    shown = _crash(tmp_path, compiler, "assert")
    exception = shown["summary"]["exception"]
    assert exception["type"] == "SIGABRT"
    message = exception["message"]  # what the C library printed (clang: "int verify(int)")
    assert "prog.c:16: " in message and "verify" in message
    assert message.endswith("Assertion `v > 0 && \"v must be positive\"' failed.")
    names = [frame["name"] for frame in shown["failing_path"]]
    # the C library's __assert_fail, named from its dynamic symbols, not the agent's hook
    assert names[:3] == ["main", "verify", "__assert_fail"]
    assert names.count("__assert_fail") == 1
    assert [frame["line"] for frame in shown["failing_path"][:2]] == [20, 16]
