"""`replay`'s stack gives each native frame the line it was at (where it made the call
open below it, from the call sites the agent records), not its function's first line."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import COMPILERS, assert_valid, compile_program, orion, run_traced

PROGRAM = r"""
#include <stdio.h>
int total(int *p) {
    return *p * 2;                   /* line 4 */
}
int checkout(int *p) {
    int t = total(p);                /* line 7 */
    return t + 1;
}
int main(void) {
    int x = 2;
    printf("%d\n", checkout(&x));    /* line 12 */
    return checkout(0);              /* line 13 */
}
"""


@pytest.mark.parametrize("compiler", COMPILERS)
def test_where_gives_the_call_lines(tmp_path: Path, compiler: str) -> None:
    exe = compile_program(tmp_path, compiler, PROGRAM)
    status, (trace,) = run_traced(exe, spool=tmp_path / "spool")
    assert status == -signal.SIGSEGV
    assert_valid(trace)

    def stack(at: int) -> list[tuple[str, int | None, int | None]]:
        result = orion("replay", "--at", str(at), "--json", str(trace))
        assert result.returncode == 0, result.stderr
        return [(f["function"], f["line"], f["def_line"])
                for f in json.loads(result.stdout)["stack"]]

    # events: call main, call checkout, call total (the first, which returns) ...
    assert stack(2) == [("main", 12, 10), ("checkout", 7, 6), ("total", None, 3)]
    # the second checkout, from line 13, crashes in total
    crash = orion("replay", "--exception", "--json", str(trace))
    frames = json.loads(crash.stdout)["stack"]
    assert [(f["function"], f["line"]) for f in frames] == [("main", 13), ("checkout", 7),
                                                            ("total", 4)]
    text = subprocess.run([sys.executable, "-m", "orion", "replay", "--at", "2", str(trace)],
                          input="where\n", capture_output=True, text=True).stdout
    assert "checkout()  at prog.c:7" in text and "main()  at prog.c:12" in text


LOOP = r"""
int step(int x) { return x + 1; }
int run(int n) {
    int v = 0;
    for (int i = 0; i < n; i++)
        v = step(v);                 /* line 6: one call site, three calls */
    return v;
}
int main(void) { return run(3) - 3; }  /* line 9 */
"""


@pytest.mark.parametrize("compiler", COMPILERS)
def test_calls_from_one_site_all_have_its_line(tmp_path: Path, compiler: str) -> None:
    exe = compile_program(tmp_path, compiler, LOOP)
    status, (trace,) = run_traced(exe, spool=tmp_path / "spool")
    assert status == 0
    # the agent writes the site of the first step() call only; the others repeat it
    listed = orion("cat", "-t", "call", str(trace)).stdout
    calls = [json.loads(line) for line in listed.splitlines()]
    assert len(calls) == 5 and "site" not in calls[3] and "site" not in calls[4]
    for at in (2, 4, 6):  # the call of each step()
        result = orion("replay", "--at", str(at), "--json", str(trace))
        stack = [(f["function"], f["line"]) for f in json.loads(result.stdout)["stack"]]
        assert stack == [("main", 9), ("run", 6), ("step", None)], at
