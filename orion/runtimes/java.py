"""Java: detected by a Maven or Gradle build. Every JVM a command starts (the program's,
Maven's, the test JVMs Surefire forks) loads the agent (agents/java, a shaded jar built by
Maven on first use into the user's cache) through JAVA_TOOL_OPTIONS; it instruments the
application's own classes as they load and adds a listener to JUnit's launcher."""

from __future__ import annotations

import os
import sys

from ..cachedir import cache_dir as user_cache_dir
from ..cachedir import cache_root, sources_digest
from ..errors import OrionError
from ..lazyre import LazyPattern
from . import Capture, Runtime, Toolchain, subprocess_errors, which

# Not subprocess, shutil nor pathlib at the top (see orion.runtimes.which): every `orion run`
# looks for a built agent (ready_jar, str paths); building one is for a Java project.

TYPE_CHECKING = False  # not typing's: its import would cost every `orion run`
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Iterator

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


def _sources_digest(source: str) -> str:
    """A digest of the agent's build and main sources: a changed agent gets a jar of its own.
    (Files in pathlib's order, by path components, as they always were: a digest is a
    cache key, and a new one means a rebuild.)"""
    found = [os.path.join(directory, name)
             for directory, _, names in os.walk(os.path.join(source, "src", "main"))
             for name in names]
    files = [os.path.join(source, "pom.xml"), *sorted(found, key=lambda f: f.split(os.sep))]
    return sources_digest(source, [path for path in files if os.path.isfile(path)])


def _cached_jar() -> str:
    """Where the jar built from these sources is, or goes: one directory per build, as the
    jar's manifest puts it on the boot class path by this name."""
    from ..native.build import AGENT_SOURCES_ENV, agents_root

    source = os.path.join(agents_root(), "java")
    if not os.path.isfile(os.path.join(source, "pom.xml")):
        raise JavaAgentError(f"the Java agent's sources are not in {source} (set "
                             f"{AGENT_SOURCES_ENV} to an agents/ directory, or ORION_JAVA_AGENT "
                             f"to a built {_JAR})")
    return os.path.join(cache_root("java"), _sources_digest(source), _JAR)


def ready_jar() -> str | None:
    """The agent jar to load, without building one: ORION_JAVA_AGENT, else the one built
    from these sources into the cache, else None."""
    override = os.environ.get("ORION_JAVA_AGENT")
    if override:
        if not os.path.isfile(override):
            raise JavaAgentError(f"ORION_JAVA_AGENT names no file: {override}")
        return override
    jar = _cached_jar()
    return jar if os.path.isfile(jar) else None


def agent_jar(build: bool = True) -> Path | None:
    """The agent jar: ready_jar's, else (when `build`) the one Maven builds from agents/java
    into the cache now (on first use, and again when the sources change)."""
    from pathlib import Path

    ready = ready_jar()
    if ready is not None or not build:
        return None if ready is None else Path(ready)
    jar, source = Path(_cached_jar()), agent_source()
    import shutil
    import subprocess

    mvn = which("mvn")
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


_JVM_SIDECAR = LazyPattern(r"^\.([0-9a-f]{32})\.(\d+)\.jvm$")
_HS_SIGNAL = LazyPattern(r"(?m)^#\s+(SIG[A-Z]+) \(0x[0-9a-f]+\)")
_HS_THREAD = LazyPattern(r'(?m)^Current thread \(0x[0-9a-f]+\):\s+\w+ "([^"]*)"')
_HS_JAVA_FRAME = LazyPattern(r"^[jJ]\s+(?:\d+%?\s+c\d\s+)?([\w$.<>]+)\(")


def hs_err_trace(spool, trace_id: str, pid: int, report: Path) -> str:
    """A JVM's fatal error report (hs_err_pid<pid>.log) -> a `crashed` trace: the signal or
    error, the problematic frame, the Java frames of the crashing thread; the report's
    summary in the environment snapshot, its path in the crash's detail."""
    from .. import __version__

    text = report.read_text(errors="replace")
    lines = text.splitlines()
    summary = [line for line in lines[:40] if line.startswith("#")]  # the report's own summary
    signal = _HS_SIGNAL.search(text)
    reason = signal.group(1) if signal else "fatal error"
    problematic = next((lines[i + 1].lstrip("# ").strip() for i, line in enumerate(lines[:-1])
                        if line.startswith("# Problematic frame:")), "")
    thread = _HS_THREAD.search(text)
    writer = spool.open_writer(language="java", agent="orion-java", agent_version=__version__,
                               mode="error", process={"pid": pid, "argv": None, "cwd": None,
                                                      "executable": None, "host": None},
                               env={"hs_err": "\n".join(summary)})
    lane = writer.lane(thread.group(1) if thread else "main", "thread", None, None)
    frames = []
    java_frames = text.split("\nJava frames:", 1)[-1].splitlines()[1:] if "\nJava frames:" in text else []
    for line in java_frames:
        if not line.strip():
            break
        found = _HS_JAVA_FRAME.match(line)
        if found:
            module, _, method = found.group(1).rpartition(".")
            package, _, cls = module.rpartition(".")
            frames.append([writer.function(f"{cls}.{method}", package or None, None, None), None, None])
    frames.reverse()  # the report lists the innermost frame first
    writer.stack(0, lane, "signal", frames)
    writer.crash(0, lane, "signal" if signal else "fatal", reason,
                 problematic or "the JVM died of a fatal error",
                 {"pid": pid, "trace_id": trace_id, "report": str(report)})
    writer.close(status="crashed")
    writer.sink.close()
    return str(writer.path)


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


def gradle_options(existing: str) -> str:
    """GRADLE_OPTS that keep the build off a Gradle daemon (unless the user chose): a daemon
    already running, started without the agent, would run the build, and the test JVMs it
    forks would not get the command's JAVA_TOOL_OPTIONS."""
    if "-Dorg.gradle.daemon=" in existing:
        return existing
    return f"{existing} -Dorg.gradle.daemon=false".strip()


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
        return (f"`orion test -- {command}` writes a trace per failing test (JUnit, TestNG); "
                f"`orion run -- java ...` (or mvn exec:java) records a whole run (see docs/java.md)")

    def apply(self, capture: Capture, env: dict[str, str]) -> None:
        """Every JVM of the command loads the agent. It is built on first use only in a Java
        project, so that other commands never wait for Maven; a missing agent is doctor's
        to report."""
        if which("java", path=env.get("PATH")) is None:
            return
        in_project = bool(self.detect(os.getcwd()))
        try:
            jar = agent_jar() if in_project else ready_jar()
        except (OrionError, OSError, *subprocess_errors()) as exc:
            if in_project:  # elsewhere (any command of any project) no note is wanted
                sys.stderr.write(f"orion: Java code is not recorded: {exc}\n")
            return
        if jar is None:
            return
        env["JAVA_TOOL_OPTIONS"] = tool_options(env.get("JAVA_TOOL_OPTIONS", ""), jar)
        env["GRADLE_OPTS"] = gradle_options(env.get("GRADLE_OPTS", ""))
        if capture.include:
            env["ORION_JAVA_INCLUDE"] = ",".join(capture.include)

    def recover(self, reported: list[str]) -> tuple[list[str], list[str]]:
        """JVMs of the command that died of a fatal error: each left its sidecar (the agent's
        `.<trace id>.<pid>.jvm`, holding its working directory); its hs_err_pid<pid>.log
        becomes a `crashed` trace, next to the JVM's own trace when it left one."""
        sidecars = [path for path in reported
                    if path.endswith(".jvm") and _JVM_SIDECAR.match(os.path.basename(path))]
        written = []
        for name in sidecars:
            from pathlib import Path

            path = Path(name)
            trace_id, pid = _JVM_SIDECAR.match(path.name).groups()
            try:
                cwd = path.read_text().strip()
                path.unlink()
            except OSError:
                continue  # the JVM exited and removed it
            from ..spool import Spool

            spool = Spool(path.parent)
            own = spool.find(trace_id)
            if own is not None:
                written.append(str(own.path))
            for report in (Path(cwd) / f"hs_err_pid{pid}.log", Path("/tmp") / f"hs_err_pid{pid}.log"):
                if report.is_file():
                    written.append(hs_err_trace(spool, trace_id, int(pid), report))
                    break
        return written, sidecars

    def describe(self) -> str:
        return "Java agent loaded through JAVA_TOOL_OPTIONS (-javaagent)"

    def doctor_checks(self, used: set[str]) -> Iterator[Check]:
        from ..doctor import FAIL, OK, WARN, Check

        yield from super().doctor_checks(used)
        if which("java") is None:
            return
        for tool in ("mvn", "gradle"):
            found = which(tool)
            yield Check(f"java build tool {tool}", OK, found or "not found")
        try:
            jar = agent_jar(build="java" in used)
        except (OrionError, OSError, *subprocess_errors()) as exc:
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
        except (OrionError, OSError, *subprocess_errors()):
            return None
        if jar is None:
            return None
        return (f"Java processes once JAVA_TOOL_OPTIONS has the agent (add  export "
                f"JAVA_TOOL_OPTIONS='{tool_options('', jar)}'  and ORION_MODE={mode} to your "
                f"shell profile)")


RUNTIME = JavaRuntime()
