"""A binary rebuilt after its trace was recorded gives wrong names if read as the one the
trace saw. With a build id the reader tells (another id); without one, the module record's
size and mtime do: the addresses stay addresses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from .conftest import COMPILERS, assert_valid, orion, run_traced

PROGRAM = r"""
#include <stdio.h>
EXTRA
static int helper(int *p) { return *p; }
int work(int *p) { return helper(p) + 1; }
int main(void) { printf("%d\n", work(0)); return 0; }
"""


def build(tmp_path: Path, compiler: str, extra: str) -> Path:
    src = tmp_path / "prog.c"
    src.write_text(PROGRAM.replace("EXTRA", extra))
    exe = tmp_path / "prog"
    subprocess.run([compiler, "-g", "-O0", "-Wl,--build-id=none", str(src), "-o", str(exe)],
                   check=True)
    return exe


def failing_path(trace: Path) -> list[str]:
    result = orion("show", "--json", str(trace))
    assert result.returncode == 0, result.stderr
    return [frame["name"] for frame in json.loads(result.stdout)["failing_path"]]


@pytest.mark.parametrize("compiler", COMPILERS)
@pytest.mark.usefixtures("every_program")  # not instrumented: only its crash is recorded
def test_rebuilt_binary_without_build_id_is_not_used(tmp_path: Path, compiler: str) -> None:
    exe = build(tmp_path, compiler, "")
    status, (trace,) = run_traced(exe, spool=tmp_path / "spool")
    assert status == -signal.SIGSEGV
    assert_valid(trace)
    result = orion("cat", "-t", "module", str(trace))
    module = json.loads(result.stdout.splitlines()[0])
    assert module["build_id"] is None
    assert (module["size"], module["mtime"]) == (exe.stat().st_size, exe.stat().st_mtime_ns)
    assert failing_path(trace) == ["main", "work", "helper"]
    # the same source with a function more: every address now lies elsewhere
    build(tmp_path, compiler, "int padding(int x) { return x * 7 + 1; }")
    os.utime(exe, ns=(module["mtime"] + 10**9, module["mtime"] + 10**9))
    names = failing_path(trace)
    assert len(names) == 3 and all(name.startswith("0x") and "(prog)" in name
                                   for name in names)
