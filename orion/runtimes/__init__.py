"""The CLI's one home per language: each runtime module knows how to find its language in a
project, what environment makes its processes record, how its tests run, and what `orion
doctor` should check for it. Commands (`run`, `test`, `watch`, the git hooks, `start`,
`init`, `doctor`) loop over `RUNTIMES` and never name a language.

Adding a language is one new module here that defines a `Runtime` subclass instance named
`RUNTIME`, and its module name in `_MODULES`.
"""

from __future__ import annotations

import os
import sys
from collections import namedtuple
from functools import cache

TYPE_CHECKING = False  # not typing's: its import would cost every `orion run`
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Iterator

    from ..doctor import Check

# The order in which languages are listed (orion init, doctor) and tried (test command).
_MODULES = ("python", "native", "go", "rust", "node", "java")


class Capture:
    """What a command asks of every agent for the processes it starts. (A plain class, not
    a dataclass: dataclasses imports inspect, a tenth of `orion run`'s start-up.)"""

    def __init__(self, mode: str, spool: str, include: tuple[str, ...] = (),
                 exclude: tuple[str, ...] = (), include_funcs: tuple[str, ...] = (),
                 exclude_funcs: tuple[str, ...] = (), sample: float | None = None,
                 report: str | None = None, base: dict[str, str] | None = None) -> None:
        self.mode = mode
        self.spool = spool  # absolute
        self.include = include  # modules / packages the runtime should trace as well
        self.exclude = exclude
        self.include_funcs = include_funcs  # function-name globs (runtimes that filter by name)
        self.exclude_funcs = exclude_funcs
        self.sample = sample  # safe mode's rate, None: what the environment says
        self.report = report  # file every agent appends the paths of its traces to
        self.base = {} if base is None else base  # the environment to start from


class Toolchain(namedtuple("Toolchain", ["programs", "install"])):
    """The programs a language needs (a tuple), any one of which will do, and how to install
    them. (collections' namedtuple: typing's would cost every `orion run` its import.)"""

    __slots__ = ()


class Runtime:
    """One language runtime (or family: C and C++ share the native agent).

    The defaults suit a runtime whose agent is still to come: detected by marker files,
    tested with its usual command, checked for its toolchain, and no environment of its own.
    """

    name: str = ""
    languages: tuple[str, ...] = ()
    title: dict[str, str] = {}  # language -> how people write it ("Node.js")
    markers: dict[str, tuple[str, ...]] = {}  # language -> files at the root that name it
    toolchains: dict[str, Toolchain] = {}
    recorded: str = ""  # what `orion run` records of this runtime, for its messages

    def detect(self, root: str | Path) -> set[str]:
        """The languages of this runtime that the project at `root` uses."""
        return {lang for lang, names in self.markers.items()
                if any(os.path.isfile(os.path.join(root, name)) for name in names)}

    def test_command(self, root: Path, language: str) -> list[str] | None:
        """How the project at `root` runs its `language` tests; None when there is no way."""
        return None

    def next_step(self, root: Path, language: str) -> str:
        """What `orion init` suggests doing next for `language`."""
        command = " ".join(self.test_command(root, language) or [])
        return (f"`orion test -- {command}` once the {self.title.get(language, language)} "
                f"agent is installed")

    def apply(self, capture: Capture, env: dict[str, str]) -> None:
        """Add to `env` what makes this runtime's processes record as `capture` says."""

    def recover(self, reported: list[str]) -> tuple[list[str], list[str]]:
        """Of the paths agents reported, (traces of this runtime's processes that died
        before closing them, the reports this runtime consumed); none by default."""
        return [], []

    def describe(self) -> str | None:
        """One phrase for `orion run --verbose`: how this runtime records, if it does."""
        return None

    def doctor_checks(self, used: set[str]) -> Iterator[Check]:
        """Checks of this runtime's installation; a missing toolchain fails only for a
        language the project uses."""
        import shutil

        from ..doctor import FAIL, OK, Check

        for lang, toolchain in self.toolchains.items():
            found = [shutil.which(p) for p in toolchain.programs if shutil.which(p)]
            if found:
                yield Check(f"toolchain {lang}", OK, ", ".join(found))
            elif lang in used:
                yield Check(f"toolchain {lang}", FAIL,
                            f"none of {', '.join(toolchain.programs)} found; this project "
                            f"uses {lang}", toolchain.install)
            else:
                yield Check(f"toolchain {lang}", OK, "not found (not used by this project)")

    def switch(self, on: bool, mode: str, spool: str | None, ring: str | None,
               site: str | None) -> str | None:
        """Zero-config capture for every new process of the user (`orion start`/`stop`);
        returns what was changed, or None when this runtime has no such switch."""
        return None


# What `apply` needs, in str paths and without shutil: every `orion run` applies every runtime,
# and shutil, subprocess and pathlib together would cost it more than the rest of its start.

def which(program: str, path: str | None = None) -> str | None:
    """shutil.which(program, path=path) on POSIX: the first executable file of that name
    on `path` (default $PATH), or `program` itself when it names a path."""
    def runnable(candidate: str) -> bool:
        return os.access(candidate, os.X_OK) and not os.path.isdir(candidate)

    if os.path.dirname(program):
        return program if runnable(program) else None
    directories = os.environ.get("PATH", os.defpath) if path is None else path
    for directory in directories.split(os.pathsep):
        candidate = os.path.join(directory, program)
        if runnable(candidate):
            return candidate
    return None


def subprocess_errors() -> tuple[type[Exception], ...]:
    """subprocess's own errors (a build that timed out), for an `except` clause that must
    not import subprocess: when it is not imported, nothing can have raised them."""
    module = sys.modules.get("subprocess")
    return (module.SubprocessError,) if module is not None else ()


def find_upwards(start: str, name: str) -> str | None:
    """The nearest directory at or above `start` that holds a file `name` (a go.mod, a
    Cargo.toml), or None."""
    from ..spooldir import self_and_parents

    for directory in self_and_parents(os.path.abspath(start)):
        if os.path.isfile(os.path.join(directory, name)):
            return directory
    return None


@cache
def runtimes() -> tuple[Runtime, ...]:
    """Every runtime, in listing order (imported on first use: `orion --help` stays fast)."""
    import importlib

    return tuple(importlib.import_module(f"{__name__}.{module}").RUNTIME for module in _MODULES)


def languages() -> tuple[str, ...]:
    """Every language a project can use, in listing order."""
    return tuple(lang for runtime in runtimes() for lang in runtime.languages)


def runtime_of(language: str) -> Runtime:
    for runtime in runtimes():
        if language in runtime.languages:
            return runtime
    raise KeyError(language)


def detect_languages(root: Path) -> list[str]:
    """The languages of the project at `root`, in listing order."""
    found = set().union(*(runtime.detect(root) for runtime in runtimes()))
    return [lang for lang in languages() if lang in found]


def test_command(root: Path, language: str) -> list[str] | None:
    """How the project at `root` runs its `language` tests; None when there is no known way."""
    return runtime_of(language).test_command(root, language)


def capture_environ(capture: Capture) -> dict[str, str]:
    """The environment of a command run with capture on: `capture.base` plus what every
    runtime adds for its own processes."""
    env = dict(capture.base)
    env.update({"ORION_MODE": capture.mode, "ORION_SPOOL": capture.spool})
    if capture.report:
        env["ORION_REPORT"] = capture.report
    for runtime in runtimes():
        runtime.apply(capture, env)
    return env


def recover(reported: list[str]) -> list[str]:
    """The traces reported by a finished command's agents, with those each runtime rebuilds
    for processes that died before closing their trace."""
    consumed: set[str] = set()
    written: list[str] = []
    for runtime in runtimes():
        traces, used = runtime.recover(reported)
        written += traces
        consumed.update(used)
    return [path for path in reported if path not in consumed] + written


def recorded() -> str:
    """What `orion run` records, for the message of a run that recorded nothing."""
    kinds = [runtime.recorded for runtime in runtimes() if runtime.recorded]
    return ", ".join(kinds[:-1]) + (" and " if len(kinds) > 1 else "") + kinds[-1]
