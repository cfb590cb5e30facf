"""The Go agent's tests: real programs built with the real go toolchain, instrumented by
`orion run` / `orion test` exactly as a user runs them (skipped when Go is absent)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from ...trace_records import by_type, decoded  # noqa: F401 (the tests import them from here)


GO = shutil.which("go")
SAMPLE = Path(__file__).resolve().parent / "sample"
AGENT = Path(__file__).resolve().parents[3] / "agents" / "go"
BUILD_TIMEOUT = 300

# Every test module here sets `pytestmark = requires_go` (a conftest's own pytestmark
# applies to no test).
requires_go = pytest.mark.skipif(GO is None, reason="the go toolchain is not installed")


def plain_env(**extra: str) -> dict[str, str]:
    """The environment without anything of orion's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORION_") and k != "GOFLAGS"}
    env.update(extra)
    return env


def orion(*args: str, cwd: Path, env: dict[str, str] | None = None,
          timeout: int = BUILD_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "orion", *args], cwd=cwd, capture_output=True,
                          text=True, env=env or plain_env(), timeout=timeout)


def line_of(text: str, source: str = "main.go") -> int:
    """The line of the sample's `source` that holds `text`."""
    for number, line in enumerate((SAMPLE / source).read_text().splitlines(), 1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} is not in {source}")


def stack_lines(stderr: str) -> list[str]:
    """A Go panic report's frames as function and file:line, without the argument words and
    pc offsets (instrumented functions are no longer inlined, so those differ)."""
    frames = []
    for line in stderr.splitlines():
        if line.startswith("\t"):
            frames.append(re.sub(r" \+0x[0-9a-f]+$", "", line.strip()))
        elif re.match(r"^[\w./*()-]+\(.*\)$", line):
            frames.append(line[: line.rindex("(")])
    return frames


@dataclass
class Built:
    """The sample module copied into a temporary directory, built under `orion run` (the
    instrumented program) and by plain `go build`."""

    module: Path
    traced: Path
    plain: Path


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Built:
    module = tmp_path_factory.mktemp("go") / "sample"
    shutil.copytree(SAMPLE, module)
    spool = module.parent / "build-spool"
    done = orion("run", "--spool", str(spool), "--", "go", "build", "-o", "prog-traced", ".",
                 cwd=module)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([GO, "build", "-o", "prog-plain", "."], cwd=module, env=plain_env(),
                          capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    assert done.returncode == 0, done.stderr
    return Built(module, module / "prog-traced", module / "prog-plain")


def run_traced(built: Built, *args: str, spool: Path, mode: str = "dev",
               env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess, list[Path]]:
    """`orion run` the instrumented sample; the run and the traces it left."""
    done = orion("run", "--mode", mode, "--spool", str(spool), "--", str(built.traced), *args,
                 cwd=built.module, env=env)
    return done, sorted(spool.glob("*.otrace"))
