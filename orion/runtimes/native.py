"""C and C++: programs built with -finstrument-functions record through the agent library,
preloaded into every process of the command (passive in those that never call it); names
are resolved when the trace is read."""

from __future__ import annotations

import os

from . import Capture, Runtime, Toolchain

TYPE_CHECKING = False  # not typing's: its import would cost every `orion run`
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Iterator

    from ..doctor import Check

# Build files that mean C or C++ only when sources of that language are there too.
_BUILD_FILES = ("CMakeLists.txt", "Makefile", "makefile", "GNUmakefile", "meson.build")
_SUFFIXES = {".c": "c", ".cpp": "cpp", ".cc": "cpp", ".cxx": "cpp", ".c++": "cpp",
             ".hpp": "cpp", ".hh": "cpp", ".hxx": "cpp"}
_SKIP_DIRS = frozenset({".git", ".hg", ".svn", ".orion", "node_modules", "target", "build",
                        "dist", "venv", ".venv", "__pycache__", ".tox", "vendor"})
_SCAN_DEPTH = 3
_SCAN_FILES = 5000


def _native_sources(root: Path) -> set[str]:
    """"c" and/or "cpp" when such source files are near the top of the tree (bounded walk)."""
    found: set[str] = set()
    seen = 0
    for directory, dirs, files in os.walk(root):
        relative = os.path.relpath(directory, root)
        depth = 0 if relative == os.curdir else relative.count(os.sep) + 1
        dirs[:] = [] if depth >= _SCAN_DEPTH else sorted(d for d in dirs if d not in _SKIP_DIRS)
        for name in files:
            language = _SUFFIXES.get(os.path.splitext(name)[1].lower())
            if language:
                found.add(language)
            seen += 1
        if len(found) == 2 or seen > _SCAN_FILES:
            break
    return found


class NativeRuntime(Runtime):
    name = "native"
    languages = ("c", "cpp")
    title = {"c": "C", "cpp": "C++"}
    toolchains = {
        "c": Toolchain(("gcc", "cc", "clang"), "install a C compiler (Debian: apt-get install gcc)"),
        "cpp": Toolchain(("g++", "c++", "clang++"),
                         "install a C++ compiler (Debian: apt-get install g++)"),
    }
    recorded = "C/C++ built with -finstrument-functions"

    def detect(self, root: Path) -> set[str]:
        if any(os.path.isfile(os.path.join(root, name)) for name in _BUILD_FILES):
            return _native_sources(root)
        return set()

    def next_step(self, root: Path, language: str) -> str:
        from ..native.launch import flags_text

        return flags_text().rstrip("\n")

    def apply(self, capture: Capture, env: dict[str, str]) -> None:
        from ..native.launch import native_env

        env.update(native_env(capture.mode, capture.spool, capture.include_funcs,
                              capture.exclude_funcs))

    def describe(self) -> str:
        return "C/C++ agent preloaded"

    def doctor_checks(self, used: set[str]) -> Iterator[Check]:
        from ..doctor import FAIL, OK, WARN, Check
        from ..native.build import agent_libraries, build_problem
        from ..native.launch import zstd_problem

        problem = build_problem()
        if problem:
            level = FAIL if used & set(self.languages) else WARN
            yield Check("native agent", level, problem,
                        "install a C compiler (Debian: apt-get install gcc g++), or set CC")
        else:
            libraries = agent_libraries()
            yield Check("native agent", OK, f"{', '.join(map(os.path.basename, libraries))} "
                                            f"in {os.path.dirname(libraries[0])}")
        problem = zstd_problem()
        yield Check("native compression", WARN if problem else OK,
                    problem or "libzstd.so.1 loads",
                    "install zstd's library (Debian: apt-get install libzstd1)" if problem
                    else None)
        yield from super().doctor_checks(used)


RUNTIME = NativeRuntime()
