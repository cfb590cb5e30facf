"""Go: detected by go.mod. Go has no run-time hook, so its processes record when they are
built under `orion run` / `orion test`: GOFLAGS gives every `go build`, `go run` and `go
test` an overlay of the module's sources rewritten by the agent's instrumenting tool, and a
module file that requires the agent (agents/go); the user's files are never written."""

from __future__ import annotations

import os
import sys

from ..cachedir import cache_dir as user_cache_dir
from ..cachedir import sources_digest
from ..errors import OrionError
from ..lazyre import LazyPattern
from . import Capture, Runtime, Toolchain, find_upwards, which

# Not subprocess, shutil nor pathlib at the top (see orion.runtimes.which): in the functions
# that build or instrument Go code, which only a command run in a Go module calls.
TYPE_CHECKING = False  # not typing's: its import would cost every `orion run`
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Iterator

    from ..doctor import Check

_TOOL = "orion-go-instrument"
_BUILD_TIMEOUT = 600  # a cold build fetches the agent's dependencies from the module proxy


class GoAgentError(OrionError):
    """The Go agent cannot be built or cannot instrument a module."""


def agent_dir() -> Path:
    """The agent's Go module (agents/go in a checkout or editable install)."""
    from ..native.build import agents_dir

    return agents_dir() / "go"


def cache_dir() -> Path:
    return user_cache_dir("go")


def _sources_digest(agent: Path) -> str:
    """A digest of the agent's sources: a changed agent gets a tool of its own."""
    return sources_digest(agent, sorted(
        path for path in agent.rglob("*") if path.is_file()
        and (path.suffix in (".go", ".s") or path.name in ("go.mod", "go.sum"))))


def instrumenting_tool() -> Path:
    """The instrumenting tool, built into the cache on first use (and again when the agent's
    sources change)."""
    agent = agent_dir()
    if not (agent / "go.mod").is_file():
        from ..native.build import AGENT_SOURCES_ENV

        raise GoAgentError(f"the Go agent's sources are not in {agent} (set "
                           f"{AGENT_SOURCES_ENV} to an agents/ directory)")
    import subprocess

    go = which("go")
    if go is None:
        raise GoAgentError("the go command is not on PATH; install Go (https://go.dev/dl/)")
    tool = cache_dir() / "bin" / f"{_TOOL}-{_sources_digest(agent)}"
    if tool.is_file():
        return tool
    tool.parent.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("GOFLAGS", "GOWORK")}
    env["CGO_ENABLED"] = "0"
    partial = tool.with_name(tool.name + f".{os.getpid()}.tmp")
    try:
        done = subprocess.run([go, "build", "-o", str(partial), f"./cmd/{_TOOL}"], cwd=agent,
                              env=env, capture_output=True, text=True, timeout=_BUILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise GoAgentError(f"building the Go agent took over {_BUILD_TIMEOUT} s") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["go build failed"])[-1]
        raise GoAgentError(f"the Go agent does not build: {last}")
    partial.replace(tool)
    return tool


def workspace_file(start: str) -> str | None:
    """The go.work the go command uses in `start`: $GOWORK (none when off), else the
    nearest go.work upwards."""
    chosen = os.environ.get("GOWORK", "")
    if chosen == "off":
        return None
    if chosen:
        return chosen
    found = find_upwards(start, "go.work")
    return None if found is None else os.path.join(found, "go.work")


def instrument(root: str, include: tuple[str, ...] = (),
               workspace: str | None = None) -> dict[str, str]:
    """Instrument the module at `root`, or every module of the go.work `workspace` (and
    the packages of their dependencies `include` names) into the cache; the environment
    (GOFLAGS, and GOWORK for a workspace) that builds it so."""
    import hashlib
    import subprocess

    tool = instrumenting_tool()
    where = ["-work", workspace] if workspace else ["-root", root]
    out = cache_dir() / "builds" / hashlib.sha256(where[1].encode()).hexdigest()[:16]
    out.mkdir(parents=True, exist_ok=True)
    command = [str(tool), *where, "-out", str(out), "-agent", str(agent_dir())]
    if include:
        command += ["-include", ",".join(include)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        last = (done.stderr.strip() or f"{_TOOL} failed").splitlines()[-1]
        raise GoAgentError(last.removeprefix(f"{_TOOL}: "))
    return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)


_GOROUTINE = LazyPattern(r"^goroutine (\d+) \[")
_CALL = LazyPattern(r"^(?P<name>\S.*)\(.*\)$")
_AT = LazyPattern(r"^\t(?P<file>.+):(?P<line>\d+)(?: \+0x[0-9a-f]+)?$")


def crash_trace(sidecar: Path) -> str | None:
    """The trace of a Go program that the runtime ended (`fatal error: ...`, or a panic no
    instrumented frame saw): its report as the runtime wrote it to the crash output, the
    failing goroutine's stack, and the process's own trace as parent. None when the
    program ended otherwise (the agent emptied or removed the file)."""
    import json

    from ..spool import Spool

    try:
        about_line, _, report = sidecar.read_text(errors="replace").partition("\n")
        sidecar.unlink()
        about = json.loads(about_line)
    except (OSError, ValueError):
        return None
    if not report.strip() or not isinstance(about, dict):
        return None
    first = report.strip().splitlines()[0]
    what, _, message = first.partition(": ")
    if what not in ("panic", "fatal error"):  # the runtime's fatal() prints its first line
        what, message = "fatal error", "the Go runtime ended the program (see its stderr)"
    goroutine = next((int(m.group(1)) for line in report.splitlines()
                      if (m := _GOROUTINE.match(line))), 1)
    writer = Spool(sidecar.parent).open_writer(
        language="go", agent="orion-go", mode=str(about.get("mode") or "error"),
        process={"pid": about.get("pid"), "argv": about.get("argv"), "cwd": None,
                 "executable": None, "host": about.get("host")},
        env={"crash_output": report[:20000]},
        parent={"trace_id": str(about.get("trace_id")),
                "span_id": f"{int(about.get('pid') or 1):016x}"})  # the process (spec 8)
    lane = writer.lane(f"goroutine {goroutine}", "goroutine", None, None)
    frames: list[list] = []
    lines = report.split(f"goroutine {goroutine} [", 1)[-1].splitlines()[1:]
    for call, at in zip(lines, lines[1:]):
        if not call.strip():
            break
        named, placed = _CALL.match(call), _AT.match(at)
        if named and placed:
            module, _, name = named["name"].rpartition("/")[2].partition(".")
            fid = writer.function(name or named["name"], module or None, placed["file"], None)
            frames.append([fid, int(placed["line"]), None])
    frames.reverse()  # the runtime prints the innermost frame first
    kind = "panic" if what == "panic" else "abort"
    writer.stack(0, lane, kind, frames)
    writer.crash(0, lane, kind, what, message, {"goroutine": goroutine})
    writer.close(status="crashed", exit_code=2)
    writer.sink.close()
    return str(writer.path)


class GoRuntime(Runtime):
    name = "go"
    languages = ("go",)
    title = {"go": "Go"}
    markers = {"go": ("go.mod",)}
    toolchains = {"go": Toolchain(("go",), "install Go (https://go.dev/dl/)")}
    recorded = "Go built by go build/run/test under orion"

    def test_command(self, root: Path, language: str) -> list[str]:
        return ["go", "test", "./..."]

    def next_step(self, root: Path, language: str) -> str:
        return ("`orion run -- go run .` records the program's calls, goroutines and "
                "panics; `orion test -- go test ./...` writes a trace per failing test "
                "(see docs/go.md)")

    def apply(self, capture: Capture, env: dict[str, str]) -> None:
        """Give the go command of the module around the working directory an instrumented
        build; a module that cannot be instrumented runs as it is, with a one-line note."""
        here = os.getcwd()
        workspace, root = workspace_file(here), find_upwards(here, "go.mod")
        if (workspace is None and root is None) or which("go") is None:
            return
        from subprocess import TimeoutExpired

        try:
            build_env = instrument(root or here, capture.include, workspace)
        except (GoAgentError, OSError, TimeoutExpired) as exc:
            sys.stderr.write(f"orion: Go code in {workspace or root} is not instrumented: "
                             f"{exc}\n")
            return
        theirs = env.get("GOFLAGS", "")
        if "-toolexec" in theirs:  # theirs runs the tools; vet then reads the overlay's copies
            build_env["GOFLAGS"] = " ".join(flag for flag in build_env["GOFLAGS"].split()
                                            if not flag.startswith("-toolexec="))
        build_env["GOFLAGS"] = f"{theirs} {build_env['GOFLAGS']}".strip()
        env.update(build_env)

    def recover(self, reported: list[str]) -> tuple[list[str], list[str]]:
        """The crash output files Go agents report (debug.SetCrashOutput) are theirs: one
        that holds a fatal runtime error's report becomes a crashed trace."""
        sidecars = [path for path in reported if path.endswith(".crash")]
        if not sidecars:
            return [], []
        from pathlib import Path

        return [trace for path in sidecars if (trace := crash_trace(Path(path)))], sidecars

    def describe(self) -> str:
        return "Go module instrumented through GOFLAGS (-overlay, -modfile)"

    def doctor_checks(self, used: set[str]) -> Iterator[Check]:
        from ..doctor import FAIL, OK, WARN, Check

        yield from super().doctor_checks(used)
        if which("go") is None:
            return
        try:
            tool = instrumenting_tool()
        except GoAgentError as exc:
            yield Check("go agent", FAIL if "go" in used else WARN, str(exc),
                        "check that the module proxy is reachable (go env GOPROXY)")
        else:
            yield Check("go agent", OK, str(tool))

    def switch(self, on: bool, mode: str, spool: str | None, ring: str | None,
               site: str | None) -> None:
        if on and which("go"):
            sys.stderr.write("orion: Go is not covered by `orion start`: a Go binary records "
                             "only when built under `orion run -- go build|run|test ...`\n")
        return None


RUNTIME = GoRuntime()
