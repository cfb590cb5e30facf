"""`orion test -- gradle test` on a project whose build knows nothing of Orionis (JUnit 4,
run by Gradle's own JUnit runner): one trace per failing test, the exit status Gradle's, and
no trace of Gradle itself (its compiled build script is not the application's), even with
a Gradle daemon already running that was started without the agent. Debian's gradle 4.4.1
is the Gradle to be had here (docs/java.md); skipped without it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import TIMEOUT, by_type, decoded, orion, plain_env, requires_jdk

GRADLE = shutil.which("gradle")
pytestmark = [requires_jdk, pytest.mark.skipif(GRADLE is None, reason="Gradle is needed")]

CLASS = "com.example.ledger.LedgerTest"


def test_one_trace_per_failing_test_under_gradle(tmp_path: Path) -> None:
    root = tmp_path / "ledger"
    shutil.copytree(Path(__file__).resolve().parent / "junit4", root, ignore=shutil.ignore_patterns("target"))
    env = plain_env(GRADLE_USER_HOME=str(tmp_path / "gradle-home"))
    # a plain build first: it leaves a daemon running, started without the agent
    plain = subprocess.run([GRADLE, "-q", "test"], cwd=root, capture_output=True, text=True, env=env,
                           timeout=TIMEOUT)
    try:
        assert plain.returncode == 1, plain.stdout + plain.stderr  # two of the three tests fail
        spool, summary = tmp_path / "spool", tmp_path / "summary.json"
        done = orion("test", "--spool", str(spool), "--json", "--output", str(summary), "--",
                     "gradle", "-q", "test", cwd=root, env=env)
        assert done.returncode == plain.returncode, done.stderr
        rows = {row["test"]: row for row in json.loads(summary.read_text())["traces"]}
        assert set(rows) == {f"{CLASS}.depositsAddUp", f"{CLASS}.transfersMoveMoney"}
        assert rows[f"{CLASS}.depositsAddUp"]["exception"] == (
            "java.lang.AssertionError: ann's balance expected:<5> but was:<4>")
        assert rows[f"{CLASS}.transfersMoveMoney"]["exception"] == (
            "java.lang.IllegalStateException: overdrawn ann by 4")
        for row in rows.values():
            trace = Path(row["path"])
            assert orion("validate", str(trace), cwd=tmp_path).returncode == 0
            [end] = by_type(decoded(trace), "end")
            assert end["test"] == {"id": row["test"], "outcome": "failed"}
        assert len(list(spool.glob("*.otrace"))) == 2  # nothing of Gradle's own JVMs
    finally:
        subprocess.run([GRADLE, "--stop"], cwd=root, capture_output=True, env=env, timeout=TIMEOUT)
