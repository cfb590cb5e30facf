"""Zero-config native tracing: build the agent libraries on first use and preload them.

`orion run -- ./prog` calls `prepare_env`: a program built with -finstrument-functions is
then traced with no code change, and any other native program still gets crash capture
(the preloaded library installs the signal handlers). The libraries are built once per
source version into the user's cache directory, with make (or CMake when make is missing).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterable

from ..errors import OrionError

AGENT_SOURCES_ENV = "ORION_AGENT_SRC"  # override where agents/c and agents/cpp live
LIBRARY_NAMES = ("liborion.so", "liborion++.so")
_SOURCE_SUFFIXES = {".c", ".h", ".cpp", ".hpp", ".in", ""}  # "" is the Makefile


def agents_dir() -> Path:
    """The agents/ source tree: next to the package in a checkout or editable install."""
    override = os.environ.get(AGENT_SOURCES_ENV)
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "agents"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "orionis" / "native"


def _source_digest(agents: Path) -> str:
    digest = hashlib.sha256()
    for sub in ("c", "cpp"):
        root = agents / sub
        for path in sorted(root.rglob("*")):
            if path.is_file() and "build" not in path.relative_to(root).parts \
                    and path.suffix in _SOURCE_SUFFIXES:
                digest.update(str(path.relative_to(agents)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def build_agent(force: bool = False) -> Path:
    """The directory holding liborion.so and liborion++.so, built now if needed."""
    agents = agents_dir()
    if not (agents / "cpp" / "Makefile").is_file():
        raise OrionError(f"the C/C++ agent sources are not in {agents} "
                         f"(set {AGENT_SOURCES_ENV} to the agents/ directory)")
    out = cache_dir() / _source_digest(agents)
    if not force and all((out / name).is_file() for name in LIBRARY_NAMES):
        return out
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(str(out) + f".{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    if shutil.which("make"):
        command = ["make", "-s", "-C", str(agents / "cpp"), f"BUILD={staging}"]
    elif shutil.which("cmake"):
        command = None
    else:
        raise OrionError("building the C/C++ agent needs make or cmake, and a C/C++ "
                         "compiler with zstd (Debian: apt-get install build-essential "
                         "libzstd-dev pkg-config)")
    try:
        if command is not None:
            _run(command)
        else:
            _run(["cmake", "-S", str(agents / "cpp"), "-B", str(staging),
                  "-DCMAKE_BUILD_TYPE=Release", "-DBUILD_TESTING=OFF"])
            _run(["cmake", "--build", str(staging)])
            for name, sub in (("liborion.so", "c/liborion.so"), ("liborion++.so", "liborion++.so")):
                if not (staging / name).exists():
                    shutil.copy2(staging / sub, staging / name)
        for name in LIBRARY_NAMES:
            os.replace(staging / name, out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise OrionError(f"building the C/C++ agent failed: {last[0]} "
                         f"(Debian needs: apt-get install build-essential libzstd-dev pkg-config)")


def prepare_env(mode: str, spool: str | os.PathLike | None = None,
                environ: dict[str, str] | None = None) -> dict[str, str]:
    """Environment variables that make native programs record into the spool.

    The agent libraries go first in LD_PRELOAD (keeping what was there); settings pass as
    ORION_* variables, read by the agent at start-up.
    """
    libs = build_agent()
    base = os.environ if environ is None else environ
    preload = [str(libs / name) for name in LIBRARY_NAMES]
    kept = [p for p in base.get("LD_PRELOAD", "").replace(":", " ").split()
            if p and p not in preload]
    env = {"LD_PRELOAD": " ".join(preload + kept), "ORION_MODE": mode}
    if spool is not None:
        env["ORION_SPOOL"] = str(spool)
    return env


def filter_env(include_funcs: Iterable[str] = (),
               exclude_funcs: Iterable[str] = ()) -> dict[str, str]:
    """ORION_INCLUDE_FUNCS / ORION_EXCLUDE_FUNCS for glob patterns on function names.

    The agent turns them into address ranges from the binaries' symbol tables when it
    starts (names are not known while recording). Python's --include/--exclude name
    Python modules and go elsewhere (ORION_INCLUDE / ORION_EXCLUDE).
    """
    env = {}
    for name, patterns in (("ORION_INCLUDE_FUNCS", include_funcs),
                           ("ORION_EXCLUDE_FUNCS", exclude_funcs)):
        patterns = [p for p in patterns if p]
        if any("," in p for p in patterns):
            raise OrionError(f"a function name pattern cannot hold a comma: "
                             f"{next(p for p in patterns if ',' in p)!r}")
        if patterns:
            env[name] = ",".join(patterns)
    return env


def native_env(mode: str, spool: str | os.PathLike | None, include_funcs: Iterable[str] = (),
               exclude_funcs: Iterable[str] = ()) -> dict[str, str]:
    """`prepare_env` plus the function filters, for the commands that run programs
    (`orion run`, and `test`/`watch` through testrun.run_captured): empty (with a note)
    when the agent cannot be built, so that tracing Python programs never depends on a
    C toolchain."""
    filters = filter_env(include_funcs, exclude_funcs)
    try:
        return {**prepare_env(mode, spool), **filters}
    except OrionError as exc:
        print(f"orion: note: C/C++ programs will not be traced: {exc}", file=sys.stderr)
        return {}


def flags_text() -> str:
    """What to add to a C or C++ build to trace it (printed by `orion init`)."""
    include = agents_dir()
    return f"""\
C and C++: compile with function instrumentation and debug information
  gcc/clang:  -finstrument-functions -g
  C++ (keep the standard library's inline functions out):
    g++:      -finstrument-functions-exclude-file-list=/usr/include
    clang++:  (no such flag) orion run --exclude-func 'std::*' --exclude-func '__gnu_cxx::*'

Then run under orion (nothing to link: the agent is preloaded):
  orion run -- ./your-program
  Only some functions: --include-func 'shop_*' / --exclude-func 'log_*' (glob patterns;
  environment: ORION_INCLUDE_FUNCS, ORION_EXCLUDE_FUNCS, and ORION_INCLUDE_LIBS /
  ORION_EXCLUDE_LIBS for whole libraries by path)

Or link the agent yourself (explicit ORION_TRACE() scopes, exceptions without preloading):
  pkg-config: cc $(pkg-config --cflags --libs orion) ...     (C++: orion++)
  CMake:
    find_package(Orion REQUIRED)
    target_compile_options(app PRIVATE -finstrument-functions -g)
    target_link_libraries(app PRIVATE orion::orion)            # C++: orion::orion++
  Make:
    CFLAGS  += -finstrument-functions -g
    LDLIBS  += -lorion                                          # C++: -lorion++ -lorion
  Install the agent: make -C {include / 'cpp'} install PREFIX=/usr/local
"""


if __name__ == "__main__":  # `python -m orion.native.launch`: build and print the path
    print(build_agent(force="--force" in sys.argv[1:]))
