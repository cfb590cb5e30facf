"""Real crashing programs traced by `orion run`, shared by the export tests."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import run_orion

C_CRASH = """
#include <stdio.h>
int fault(int *p) { return *p; }
int middle(int *p) { return fault(p) + 1; }
int main(void) { printf("start\\n"); return middle(0); }
"""

PY_CRASH = """
import ctypes
def fault():
    return ctypes.string_at(0)
def middle():
    return fault()
middle()
"""


def crashed_trace(spool: Path) -> str:
    """The id of the one crashed trace in `spool`."""
    listed = run_orion("list", "--spool", str(spool), "--json")
    rows = [row for row in json.loads(listed.stdout) if row["status"] == "crashed"]
    assert len(rows) == 1, listed.stdout
    return rows[0]["trace_id"]


def c_program_crash(tmp_path_factory, name: str, *flags: str,
                    env: dict | None = None) -> tuple[Path, str]:
    """C_CRASH built with `flags` and run under `orion run`: its spool and crashed trace."""
    if shutil.which("gcc") is None:
        pytest.skip("needs gcc")
    work = tmp_path_factory.mktemp(name)
    (work / "crash.c").write_text(C_CRASH)
    subprocess.run(["gcc", "-g", "-O0", *flags, "crash.c", "-o", "crash"], cwd=work,
                   check=True)
    spool = work / "spool"
    result = run_orion("run", "--mode", "dev", "--spool", str(spool), "--", str(work / "crash"),
                       env=env)
    assert result.returncode in (139, -11), result.stderr  # -11: it died as the program did
    return spool, crashed_trace(spool)


@pytest.fixture(scope="session")
def c_crash(tmp_path_factory) -> tuple[Path, str]:
    """A C program built with -finstrument-functions that dereferences NULL two calls deep."""
    return c_program_crash(tmp_path_factory, "ccrash", "-finstrument-functions")


@pytest.fixture(scope="session")
def c_plain_crash(tmp_path_factory) -> tuple[Path, str]:
    """The same program built without instrumentation, crash capture asked for in every
    program: the agent records only the crash and the stack it unwinds."""
    return c_program_crash(tmp_path_factory, "cplaincrash", env={"ORION_NATIVE_CRASHES": "all"})


@pytest.fixture(scope="session")
def python_crash(tmp_path_factory) -> tuple[Path, str]:
    """A Python program that segfaults in ctypes: the agent's crash report holds only the
    crashing stack, no calls."""
    work = tmp_path_factory.mktemp("pycrash")
    (work / "crash.py").write_text(PY_CRASH)
    spool = work / "spool"
    result = run_orion("run", "--spool", str(spool), "--", sys.executable,
                       str(work / "crash.py"))
    assert result.returncode in (139, -11), result.stderr  # -11: it died as the program did
    return spool, crashed_trace(spool)
