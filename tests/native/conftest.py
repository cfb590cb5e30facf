"""Fixtures for native tests: compilers, building small C/C++ programs, running them under
the agent (through `orion run`, or with the preload environment directly)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from orion.format.decode import decode_records
from orion.format.reader import TraceReader
from orion.native.symbols import resolve_records

COMPILERS = [c for c in ("gcc", "clang") if shutil.which(c)]
CXX_COMPILERS = [c for c in ("g++", "clang++") if shutil.which(c)]
CFLAGS = ["-g", "-O0", "-finstrument-functions", "-pthread"]
# g++ can leave the standard library's inline functions uninstrumented; clang has no such
# flag (users leave them out by name at run time: --exclude-func 'std::*').
CXXFLAGS = {"g++": CFLAGS + ["-finstrument-functions-exclude-file-list=/usr/include"],
            "clang++": CFLAGS}

if not COMPILERS or not shutil.which("make"):
    pytest.skip("needs a C compiler and make", allow_module_level=True)


def compile_program(tmp_path: Path, compiler: str, source: str, name: str = "prog",
                    extra: list[str] | None = None) -> Path:
    """Write `source` and compile it with the tracing flags; returns the executable."""
    cxx = "++" in compiler
    src = tmp_path / (name + (".cpp" if cxx else ".c"))
    src.write_text(source)
    exe = tmp_path / name
    subprocess.run([compiler, *(CXXFLAGS[compiler] if cxx else CFLAGS), str(src), "-o", str(exe),
                    *(extra or [])], check=True, cwd=tmp_path)
    return exe


def orion(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "orion", *args], capture_output=True,
                          text=True, cwd=cwd)


def run_traced(exe: Path, *args: str, spool: Path, mode: str = "dev") -> tuple[int, list[Path]]:
    """`orion run` the program; its exit status and the traces it left."""
    result = orion("run", "--mode", mode, "--spool", str(spool), "--", str(exe), *args,
                   cwd=exe.parent)
    return result.returncode, sorted(spool.glob("*.otrace"))


def decoded(path: Path) -> list[dict]:
    """Every record of a trace, decoded, with native functions resolved."""
    with TraceReader(path) as reader:
        return list(resolve_records(decode_records(reader.records())))


def by_type(records: list[dict], kind: str) -> list[dict]:
    return [r for r in records if r["type"] == kind]


def function_names(records: list[dict]) -> dict[int, dict]:
    return {f["id"]: f for f in by_type(records, "function")}


def assert_valid(path: Path) -> None:
    result = orion("validate", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def every_program(monkeypatch: pytest.MonkeyPatch) -> None:
    """`orion run` (and the programs it starts) arm crash capture in untraced programs too."""
    monkeypatch.setenv("ORION_NATIVE_CRASHES", "all")


@pytest.fixture(scope="session")
def preload_env(tmp_path_factory) -> dict[str, str]:
    """The environment of `orion run` for native programs (builds the agent once)."""
    from orion.native.launch import prepare_env

    env = dict(os.environ)
    env.update(prepare_env("dev"))
    return env
