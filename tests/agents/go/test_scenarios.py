"""The shared scenarios (tests/agents/scenarios.py) in Go: tests/agents/go/scenarios/ built
and run under `orion run` / `orion test` as a user runs them, each trace held to the
language-neutral checks."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from .. import scenarios
from .conftest import orion, plain_env, requires_go

pytestmark = requires_go

SCENARIOS = Path(__file__).resolve().parent / "scenarios"


@pytest.fixture(scope="module")
def program(tmp_path_factory) -> Path:
    """The scenarios module copied and built under `orion run -- go build`."""
    module = tmp_path_factory.mktemp("scenarios") / "scenarios"
    shutil.copytree(SCENARIOS, module)
    done = orion("run", "--spool", str(module.parent / "build-spool"), "--", "go", "build",
                 "-o", "scenarios", ".", cwd=module)
    assert done.returncode == 0, done.stderr
    return module / "scenarios"


def run(program: Path, spool: Path, *args: str, **env: str) -> tuple[int, Path]:
    done = orion("run", "--mode", "dev", "--spool", str(spool), "--", str(program), *args,
                 cwd=program.parent, env=plain_env(**env))
    [trace] = sorted(spool.glob("*.otrace"))
    assert orion("validate", str(trace), cwd=spool).returncode == 0
    return done.returncode, trace


def test_nested_calls(program: Path, tmp_path: Path) -> None:
    status, trace = run(program, tmp_path, "nested")
    assert status == 0
    scenarios.check_nested(trace)


def test_an_error_several_calls_deep(program: Path, tmp_path: Path) -> None:
    status, trace = run(program, tmp_path, "error")
    assert status == 0
    scenarios.check_error(trace)


def test_a_crash(program: Path, tmp_path: Path) -> None:
    status, trace = run(program, tmp_path, "crash")
    assert status == 2
    scenarios.check_crash(trace, exit_code=2)


def test_threads(program: Path, tmp_path: Path) -> None:
    status, trace = run(program, tmp_path, "threads")
    assert status == 0
    scenarios.check_threads(trace)


def test_a_secret(program: Path, tmp_path: Path) -> None:
    password, token = "pw-scenario-5Gh6", "tok-scenario-7Jk8"
    status, trace = run(program, tmp_path, "secret", SCENARIO_PASSWORD=password,
                        SCENARIO_TOKEN=token, ORION_ENV_ALLOW="SCENARIO_*")
    assert status == 2
    raw = subprocess.run(["zstd", "-dcq", str(trace)], capture_output=True, check=True).stdout
    scenarios.check_secret(trace, raw, password, token)


def test_a_failing_test(tmp_path: Path) -> None:
    module = tmp_path / "scenarios"
    shutil.copytree(SCENARIOS, module)
    done = orion("test", "--json", "--output", str(tmp_path / "summary.json"), "--spool",
                 str(tmp_path / "spool"), "--", "go", "test", ".", cwd=module)
    assert done.returncode == 1
    scenarios.check_failing_test(json.loads((tmp_path / "summary.json").read_text()), "TestFails")
