"""Zero-config native tracing: preload the agent libraries into the programs `orion` runs.

`orion run -- ./prog` calls `prepare_env`: a program built with -finstrument-functions is
then traced with no code change; the preloaded library stays passive in programs that
never call it (no crash handlers: ORION_NATIVE_CRASHES=all asks for them everywhere).
Where the libraries come from (pip install, or a build on first use) is build.py's
business.
"""

from __future__ import annotations

import os
import sys

from ..errors import OrionError
from .build import agent_libraries, agents_dir

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing would cost every `orion run`
    from typing import Iterable


def prepare_env(mode: str, spool: str | os.PathLike | None = None,
                environ: dict[str, str] | None = None) -> dict[str, str]:
    """Environment variables that make native programs record into the spool.

    The agent libraries go first in LD_PRELOAD (keeping what was there); settings pass as
    ORION_* variables, read by the agent at start-up.
    """
    preload = [str(path) for path in agent_libraries()]
    base = os.environ if environ is None else environ
    kept = [p for p in base.get("LD_PRELOAD", "").replace(":", " ").split()
            if p and p not in preload]
    env = {"LD_PRELOAD": " ".join(preload + kept), "ORION_MODE": mode}
    if spool is not None:
        env["ORION_SPOOL"] = str(spool)
    return env


def zstd_problem(environ: dict[str, str] | None = None) -> str | None:
    """None when the agent will compress its traces; else why it will write them as raw
    zstd blocks (readable, several times larger). It loads what ORION_ZSTD_LIBRARY names,
    else libzstd.so.1, as the agent does when a program starts."""
    name = (os.environ if environ is None else environ).get("ORION_ZSTD_LIBRARY") \
        or "libzstd.so.1"
    if name == "none":
        return "ORION_ZSTD_LIBRARY=none: C/C++ traces are written uncompressed"
    import ctypes  # here, not at the top: `orion run` prepares native tracing without it

    try:
        ctypes.CDLL(name).ZSTD_compress2
    except (OSError, AttributeError) as exc:
        return f"C/C++ traces are written uncompressed (several times larger): {exc}"
    return None


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
