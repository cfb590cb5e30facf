"""`orion test -- gradle test` on a project whose build knows nothing of Orionis (JUnit 4,
run by Gradle's own JUnit runner; JUnit 5 and JUnit 4 through the vintage engine, run by
JUnit's own Gradle plugin; TestNG, by Gradle's TestNG runner): one trace per failing test, the exit status Gradle's, and no
trace of Gradle itself (its compiled build script is not the application's), even with a
Gradle daemon already running that was started without the agent. Debian's gradle 4.4.1 is
the Gradle to be had here (docs/java.md); skipped without it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import SAMPLE, TIMEOUT, by_type, decoded, orion, plain_env, requires_jdk

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


# Gradle 4.4.1 has no useJUnitPlatform() (4.6 and later): JUnit's own plugin (the last,
# 1.2.0, with JUnit 5.2) runs the JUnit Platform's ConsoleLauncher in a JVM of its own.
JUNIT_PLATFORM_BUILD = """\
buildscript {
    repositories { mavenCentral() }
    dependencies { classpath 'org.junit.platform:junit-platform-gradle-plugin:1.2.0' }
}
apply plugin: 'java'
apply plugin: 'org.junit.platform.gradle.plugin'
repositories { mavenCentral() }
dependencies {
    testImplementation 'org.junit.jupiter:junit-jupiter-api:5.2.0'
    testRuntimeOnly 'org.junit.jupiter:junit-jupiter-engine:5.2.0'
    testImplementation 'junit:junit:4.12'
    testRuntimeOnly 'org.junit.vintage:junit-vintage-engine:5.2.0'
}
"""


def run_failing_tests(tmp_path: Path, sources: Path, build: str) -> dict[str, dict]:
    """`orion test -- gradle -q test` on `sources`' src/ with `build` as build.gradle, after
    a plain run: the summary's rows by test, each trace validated and named for its test."""
    root = tmp_path / "project"
    shutil.copytree(sources / "src", root / "src")
    (root / "build.gradle").write_text(build)
    env = plain_env(GRADLE_USER_HOME=str(tmp_path / "gradle-home"))
    try:
        plain = subprocess.run([GRADLE, "-q", "test"], cwd=root, capture_output=True, text=True, env=env,
                               timeout=TIMEOUT)
        assert plain.returncode == 1, plain.stdout + plain.stderr
        spool, summary = tmp_path / "spool", tmp_path / "summary.json"
        done = orion("test", "--spool", str(spool), "--json", "--output", str(summary), "--",
                     "gradle", "-q", "test", cwd=root, env=env)
        assert done.returncode == plain.returncode, done.stderr
        rows = {row["test"]: row for row in json.loads(summary.read_text())["traces"]}
        for row in rows.values():
            trace = Path(row["path"])
            assert orion("validate", str(trace), cwd=tmp_path).returncode == 0
            [end] = by_type(decoded(trace), "end")
            assert end["test"] == {"id": row["test"], "outcome": "failed"}
        assert len(list(spool.glob("*.otrace"))) == len(rows)  # nothing of Gradle's own JVMs
        return rows
    finally:
        subprocess.run([GRADLE, "--stop"], cwd=root, capture_output=True, env=env, timeout=TIMEOUT)


def test_junit5_under_gradle_with_junits_plugin(tmp_path: Path) -> None:
    """The sample's JUnit 5 and JUnit 4 tests: a trace for each failing one, and none for the
    launcher's own exit status 1 (the tests' failure, already reported)."""
    rows = run_failing_tests(tmp_path, SAMPLE, JUNIT_PLATFORM_BUILD)
    orders, legacy = "com.example.inventory.OrdersTest", "com.example.inventory.LegacyStockTest"
    assert set(rows) == {f"{orders}.refusesAnOrderItCannotServe", f"{orders}.countsWhatIsLeft", f"{legacy}.addsUp"}
    assert rows[f"{legacy}.addsUp"]["exception"] == "java.lang.AssertionError: kiwis expected:<5> but was:<4>"


def test_testng_under_gradle(tmp_path: Path) -> None:
    """Gradle's own TestNG runner (useTestNG()) calls TestNG.run, where the agent's listener joins."""
    build = ("apply plugin: 'java'\nrepositories { mavenCentral() }\n"
             "dependencies { testImplementation 'org.testng:testng:7.5.1' }\ntest { useTestNG() }\n")
    rows = run_failing_tests(tmp_path, Path(__file__).resolve().parent / "testng", build)
    assert set(rows) == {f"{CLASS}.depositsAddUp", f"{CLASS}.transfersMoveMoney"}
    assert rows[f"{CLASS}.transfersMoveMoney"]["exception"] == "java.lang.IllegalStateException: overdrawn ann by 4"
