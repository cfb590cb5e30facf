"""Java: detected by a Maven or Gradle build. Every JVM a command starts (the program's,
Maven's, the test JVMs Surefire forks) loads the agent (agents/java, a shaded jar built by
Maven on first use into the user's cache) through JAVA_TOOL_OPTIONS; it instruments the
application's own classes as they load and adds a listener to JUnit's launcher."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from ..cachedir import cache_dir as user_cache_dir
from ..cachedir import sources_digest
from ..errors import OrionError
from . import Capture, Runtime, Toolchain

if TYPE_CHECKING:
    from ..doctor import Check

_GRADLE_BUILD = ("build.gradle", "build.gradle.kts")
_JAR = "orion-agent.jar"
_BUILD_TIMEOUT = 600  # a cold build resolves the agent's dependencies from Maven Central


class JavaAgentError(OrionError):
    """The Java agent cannot be built."""


def agent_source() -> Path:
    """The agent's Maven project (agents/java in a checkout or editable install)."""
    from ..native.build import agents_dir

    return agents_dir() / "java"


def cache_dir() -> Path:
    return user_cache_dir("java")


def _sources_digest(source: Path) -> str:
    """A digest of the agent's build and main sources: a changed agent gets a jar of its own."""
    files = [source / "pom.xml", *sorted((source / "src" / "main").rglob("*"))]
    return sources_digest(source, [path for path in files if path.is_file()])


def agent_jar(build: bool = True) -> Path | None:
    """The agent jar: ORION_JAVA_AGENT, else the one built from agents/java into the cache
    (by Maven, on first use and again when the sources change; None when not built yet and
    not `build`)."""
    override = os.environ.get("ORION_JAVA_AGENT")
    if override:
        if not Path(override).is_file():
            raise JavaAgentError(f"ORION_JAVA_AGENT names no file: {override}")
        return Path(override)
    source = agent_source()
    if not (source / "pom.xml").is_file():
        from ..native.build import AGENT_SOURCES_ENV

        raise JavaAgentError(f"the Java agent's sources are not in {source} (set "
                             f"{AGENT_SOURCES_ENV} to an agents/ directory, or ORION_JAVA_AGENT "
                             f"to a built {_JAR})")
    # one directory per build: the jar's manifest puts it on the boot class path by this name
    jar = cache_dir() / _sources_digest(source) / _JAR
    if jar.is_file() or not build:
        return jar if jar.is_file() else None
    mvn = shutil.which("mvn")
    if mvn is None:
        raise JavaAgentError("building the Java agent needs Maven (mvn) once; install it "
                             "(Debian: apt-get install maven)")
    print(f"orion: building the Java agent into {jar} (first use)", file=sys.stderr, flush=True)
    staging = cache_dir() / f"build-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging, ignore=shutil.ignore_patterns("target"))
    env = {k: v for k, v in os.environ.items() if k not in ("JAVA_TOOL_OPTIONS", "MAVEN_OPTS")}
    try:
        done = subprocess.run([mvn, "-q", "-B", "package", "-DskipTests"], cwd=staging, env=env,
                              capture_output=True, text=True, timeout=_BUILD_TIMEOUT)
        if done.returncode != 0:
            lines = [line for line in (done.stdout + done.stderr).splitlines() if "ERROR" in line]
            raise JavaAgentError(f"the Java agent does not build: "
                                 f"{(lines or ['mvn package failed'])[0].strip()}")
        jar.parent.mkdir(parents=True, exist_ok=True)
        partial = jar.with_name(jar.name + f".{os.getpid()}.tmp")
        shutil.copyfile(staging / "target" / _JAR, partial)
        partial.replace(jar)
    except subprocess.TimeoutExpired:
        raise JavaAgentError(f"building the Java agent took over {_BUILD_TIMEOUT} s") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return jar


def tool_options(existing: str, jar: Path) -> str:
    """JAVA_TOOL_OPTIONS with the agent first (once), keeping what the user had; the JVM
    splits the variable at blanks, so a path with one is quoted."""
    path = str(jar)
    option = f"-javaagent:{path}"
    if any(c.isspace() for c in path):
        option = f'"{option}"'
    if option in existing:
        return existing
    return f"{option} {existing}".strip()


class JavaRuntime(Runtime):
    name = "java"
    languages = ("java",)
    title = {"java": "Java"}
    markers = {"java": ("pom.xml", *_GRADLE_BUILD)}
    toolchains = {"java": Toolchain(("java",), "install a JDK (Debian: apt-get install "
                                               "default-jdk maven)")}
    recorded = ("Java (its agent is built by the first run in a Maven or Gradle project, "
                "or by orion doctor there)")

    def test_command(self, root: Path, language: str) -> list[str]:
        """Maven's, or Gradle's (its wrapper first) when the project builds with Gradle."""
        if any((root / name).is_file() for name in _GRADLE_BUILD):
            return ["./gradlew", "test"] if (root / "gradlew").is_file() else ["gradle", "test"]
        return ["mvn", "-q", "test"]

    def next_step(self, root: Path, language: str) -> str:
        command = " ".join(self.test_command(root, language))
        return (f"`orion test -- {command}` writes a trace per failing JUnit test; "
                f"`orion run -- java ...` (or mvn exec:java) records a whole run (see docs/java.md)")

    def apply(self, capture: Capture, env: dict[str, str]) -> None:
        """Every JVM of the command loads the agent. It is built on first use only in a Java
        project, so that other commands never wait for Maven; a missing agent is doctor's
        to report."""
        if shutil.which("java", path=env.get("PATH")) is None:
            return
        in_project = bool(self.detect(Path.cwd()))
        try:
            jar = agent_jar(build=in_project)
        except (OrionError, OSError, subprocess.SubprocessError) as exc:
            if in_project:  # elsewhere (any command of any project) no note is wanted
                sys.stderr.write(f"orion: Java code is not recorded: {exc}\n")
            return
        if jar is None:
            return
        env["JAVA_TOOL_OPTIONS"] = tool_options(env.get("JAVA_TOOL_OPTIONS", ""), jar)
        if capture.include:
            env["ORION_JAVA_INCLUDE"] = ",".join(capture.include)

    def describe(self) -> str:
        return "Java agent loaded through JAVA_TOOL_OPTIONS (-javaagent)"

    def doctor_checks(self, used: set[str]) -> Iterator[Check]:
        from ..doctor import FAIL, OK, WARN, Check

        yield from super().doctor_checks(used)
        if shutil.which("java") is None:
            return
        for tool in ("mvn", "gradle"):
            found = shutil.which(tool)
            yield Check(f"java build tool {tool}", OK, found or "not found")
        try:
            jar = agent_jar(build="java" in used)
        except (OrionError, OSError, subprocess.SubprocessError) as exc:
            yield Check("java agent", FAIL if "java" in used else WARN, str(exc),
                        "install Maven and check that Maven Central is reachable")
            return
        yield Check("java agent", OK, str(jar) if jar else
                    "built on the first `orion run` in a Java project")

    def switch(self, on: bool, mode: str, spool: str | None, ring: str | None,
               site: str | None) -> str | None:
        """The JVM has no per-user start-up file: `orion start` says what to export."""
        if not on:
            return None
        try:
            jar = agent_jar()
        except (OrionError, OSError, subprocess.SubprocessError):
            return None
        if jar is None:
            return None
        return (f"Java processes once JAVA_TOOL_OPTIONS has the agent (add  export "
                f"JAVA_TOOL_OPTIONS='{tool_options('', jar)}'  and ORION_MODE={mode} to your "
                f"shell profile)")


RUNTIME = JavaRuntime()
