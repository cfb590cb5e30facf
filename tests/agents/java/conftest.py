"""The Java agent's tests: a real Maven project (sample/) built and tested with the real mvn,
run with the real java, recorded by `orion run` / `orion test` exactly as a user runs them
(skipped without a JDK and Maven)."""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from ...trace_records import by_type, decoded  # noqa: F401 (the tests import them from here)


JAVA, MVN = shutil.which("java"), shutil.which("mvn")
SAMPLE = Path(__file__).resolve().parent / "sample"
TIMEOUT = 600  # a cold run resolves the sample's and the agent's dependencies
MAIN = "com.example.inventory.App"

# Every test module here sets `pytestmark = requires_jdk` (a conftest's own pytestmark
# applies to no test).
requires_jdk = pytest.mark.skipif(JAVA is None or MVN is None, reason="a JDK and Maven are needed")


def newest_jdk() -> Path | None:
    """The bin directory of a JDK 24 or later under /usr/lib/jvm, the newest first."""
    found = []
    for home in glob.glob("/usr/lib/jvm/*"):
        release = Path(home) / "release"
        version = re.search(r'JAVA_VERSION="(\d+)', release.read_text()) if release.is_file() else None
        if version and int(version.group(1)) >= 24 and (Path(home) / "bin" / "javac").is_file():
            found.append((int(version.group(1)), Path(home) / "bin"))
    return max(found)[1] if found else None


NEWEST_JDK = newest_jdk()


def plain_env(**extra: str) -> dict[str, str]:
    """The environment without anything of orion's (nor a JAVA_TOOL_OPTIONS of the caller)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ORION_") and k not in ("JAVA_TOOL_OPTIONS", "LD_PRELOAD")}
    env.update(extra)
    return env


def orion(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "orion", *args], cwd=cwd, capture_output=True,
                          text=True, env=env or plain_env(), timeout=TIMEOUT)


def line_of(text: str, source: str) -> int:
    """The line of the sample's `source` (a path under src/) that holds `text`."""
    for number, line in enumerate((SAMPLE / "src" / source).read_text().splitlines(), 1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} is not in {source}")


def without_jvm_notice(stderr: str) -> str:
    """stderr less the JVM's own "Picked up JAVA_TOOL_OPTIONS" line and orion's lines."""
    return "".join(line for line in stderr.splitlines(keepends=True)
                   if not line.startswith(("Picked up JAVA_TOOL_OPTIONS:", "orion: ")))


@dataclass
class Project:
    """The sample copied into a temporary directory, its tests run once by plain Maven."""

    root: Path
    plain_test: subprocess.CompletedProcess

    def java(self, *args: str) -> list[str]:
        return ["java", "-cp", str(self.root / "target" / "classes"), MAIN, *args]


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    if JAVA is None or MVN is None:
        pytest.skip("a JDK and Maven are needed")
    root = tmp_path_factory.mktemp("java") / "sample"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns("target"))
    plain = subprocess.run([MVN, "-q", "-B", "test"], cwd=root, capture_output=True, text=True,
                           env=plain_env(), timeout=TIMEOUT)
    assert (root / "target" / "classes" / "com" / "example" / "inventory" / "App.class").is_file(), \
        plain.stdout + plain.stderr
    return Project(root, plain)
