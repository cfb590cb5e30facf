"""Fixtures for the Node.js agent's tests: the sample project copied into a temporary
directory, run with and without `orion` (real node, real npm, real subprocesses)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from orion.format.decode import decode_records
from orion.format.reader import TraceReader

SAMPLE = Path(__file__).resolve().parent / "sample"

if shutil.which("node") is None or shutil.which("npm") is None:
    pytest.skip("needs Node.js and npm", allow_module_level=True)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh copy of the sample project (CommonJS, ES modules, node:test tests)."""
    target = tmp_path / "project"
    shutil.copytree(SAMPLE, target)
    return target


def orion(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`orion ARGS...` as a user types it, in `cwd`."""
    return subprocess.run([sys.executable, "-m", "orion", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=180, env={**os.environ, **(env or {})})


def plain(*command: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The same command without orion."""
    return subprocess.run(list(command), cwd=cwd, capture_output=True, text=True, timeout=180,
                          env={**os.environ, **(env or {})})


def traces(spool: Path) -> list[Path]:
    return sorted(spool.glob("*.otrace"))


def records(path: Path) -> list[dict]:
    with TraceReader(path) as reader:
        return list(decode_records(reader.records()))


def validate(paths: list[Path], cwd: Path) -> None:
    done = orion("validate", *map(str, paths), cwd=cwd)
    assert done.returncode == 0, done.stdout + done.stderr
