"""A program built without -finstrument-functions, preloaded with ORION_NATIVE_CRASHES=all
(crash capture in programs the agent does not trace): at a crash the agent unwinds the
stack itself, and `orion` names the frames (and, with -g, their lines) at read time."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from .conftest import COMPILERS, assert_valid, by_type, decoded, orion

PLAIN = r"""
#include <stdio.h>
struct order { int qty; };
int deref(struct order *o) {
    return o->qty * 2;               /* line 5: o is NULL */
}
int middle(struct order *o) {
    int r = deref(o);                /* line 8 */
    return r + 1;
}
int main(void) {
    int r = middle(NULL);            /* line 12 */
    printf("%d\n", r);
    return 0;
}
"""


@pytest.mark.parametrize("debug", [True, False], ids=["g", "no-g"])
@pytest.mark.parametrize("compiler", COMPILERS)
def test_uninstrumented_crash_has_its_callers(tmp_path: Path, compiler: str, debug: bool,
                                              preload_env: dict) -> None:
    src = tmp_path / "plain.c"
    src.write_text(PLAIN)
    exe = tmp_path / "plain"
    subprocess.run([compiler, *(["-g"] if debug else []), "-O0", str(src), "-o", str(exe)],
                   check=True)
    env = dict(preload_env, ORION_SPOOL=str(tmp_path / "spool"), ORION_NATIVE_CRASHES="all")
    assert subprocess.run([str(exe)], env=env).returncode == -signal.SIGSEGV
    (trace,) = (tmp_path / "spool").glob("*.otrace")
    assert_valid(trace)
    records = decoded(trace)
    functions = {f["id"]: f["name"] for f in by_type(records, "function")}
    (stack,) = by_type(records, "stack")
    # from main inwards: neither the agent's frames nor the C library's start-up code
    assert [functions[f["fn"]] for f in stack["frames"]] == ["main", "middle", "deref"]
    show = orion("show", "--json", str(trace))
    assert show.returncode == 0, show.stderr
    path = json.loads(show.stdout)["failing_path"]
    assert [f["name"] for f in path] == ["main", "middle", "deref"]
    assert [f["line"] for f in path] == ([12, 8, 5] if debug else [None, None, None])
