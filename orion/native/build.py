"""Building the C/C++ agent libraries (liborion.so, liborion++.so) with a compiler alone.

`pip install` builds them into the package (setup.py calls `compile_agent`), so that
`orion run` finds them ready. When that was not possible, or the agent sources changed
since (a checkout or editable install), they are built on first use into the user's cache
directory, once per source version, with a note on stderr. Nothing but a C compiler is
needed: zstd is loaded at run time (agents/c/src/compress.c), and the C++ layer is built
only where a C++ compiler exists.

setup.py imports this module at build time: it needs nothing but the standard library.
"""

from __future__ import annotations

import os
import sys

from ..cachedir import cache_root, sources_digest
from ..errors import OrionError

# Every `orion run` finds the libraries to preload: that path works on str paths and
# imports neither pathlib nor subprocess nor shutil (building does, when it must).
TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only
    from pathlib import Path

AGENT_SOURCES_ENV = "ORION_AGENT_SRC"  # override where agents/c and agents/cpp live
C_LIBRARY, CXX_LIBRARY = "liborion.so", "liborion++.so"
STAMP = "SOURCES"  # next to prebuilt libraries: the digest of the sources they came from
_PACKAGE_DIR = os.path.dirname(os.path.realpath(__file__))
PREBUILT_DIR = os.path.join(_PACKAGE_DIR, "lib")
_SOURCE_SUFFIXES = {".c", ".h", ".cpp", ".hpp"}


class BuildError(OrionError):
    """The agent cannot be built here; the message says why in one sentence."""


def agents_root() -> str:
    """The agents/ source tree: next to the package in a checkout or editable install."""
    return os.environ.get(AGENT_SOURCES_ENV) or os.path.join(
        os.path.dirname(os.path.dirname(_PACKAGE_DIR)), "agents")


def agents_dir() -> Path:
    """agents_root as a Path."""
    from pathlib import Path

    return Path(agents_root())


def _sources(agents: str | Path, sub: str, suffixes: set[str]) -> list[str]:
    found = []
    for part in ("src", "include"):
        directory = os.path.join(agents, sub, part)
        found += sorted(os.path.join(directory, name) for name in os.listdir(directory)
                        if os.path.splitext(name)[1] in suffixes)
    return found


def _require_sources(agents: str | Path) -> None:
    if not os.path.isdir(os.path.join(agents, "c", "src")):
        raise BuildError(f"the C/C++ agent was not built at install time and its sources "
                         f"are not in {agents} (set {AGENT_SOURCES_ENV} to an agents/ "
                         f"directory)")


def source_digest(agents: str | Path) -> str:
    """What the libraries are built from: a build is reused while this stays the same."""
    return sources_digest(agents, [path for sub in ("c", "cpp")
                                   for path in _sources(agents, sub, _SOURCE_SUFFIXES)])


def find_compiler(variable: str, candidates: tuple[str, ...]) -> str | None:
    """$CC / $CXX when set (even when it does not exist: then the build says so), else the
    first of `candidates` on PATH."""
    chosen = os.environ.get(variable)
    if chosen:
        return chosen
    from ..runtimes import which

    return next((c for c in candidates if which(c)), None)


def _run(command: list[str]) -> None:
    import subprocess

    try:
        result = subprocess.run(command, capture_output=True, text=True)
    except OSError as exc:
        raise BuildError(f"building the C/C++ agent failed: cannot run {command[0]}: "
                         f"{exc.strerror}") from None
    if result.returncode != 0:
        lines = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        first = next((line for line in lines if "error" in line), lines[0] if lines else
                     f"{command[0]} exited with status {result.returncode}")
        raise BuildError(f"building the C/C++ agent failed: {first.strip()}")


def compile_agent(agents: Path, out: Path) -> list[str]:
    """Build the libraries from `agents` into `out` (replaced whole, and stamped with the
    sources' digest); returns the names built. liborion++.so is left out when there is
    no C++ compiler."""
    _require_sources(agents)
    cc = find_compiler("CC", ("cc", "gcc", "clang"))
    if cc is None:
        raise BuildError("building the C/C++ agent needs a C compiler: none of cc, gcc, "
                         "clang is on PATH (Debian: apt-get install gcc)")
    cxx = find_compiler("CXX", ("c++", "g++", "clang++"))
    import shutil  # here: every `orion run` imports this module, few build

    staging = out.with_name(f"{out.name}.{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    c_dir, cpp_dir = agents / "c", agents / "cpp"
    try:
        _run([cc, "-O2", "-g", "-std=gnu11", "-fPIC", "-shared", "-Wl,-soname," + C_LIBRARY,
              "-o", str(staging / C_LIBRARY), *map(str, _sources(agents, "c", {".c"})),
              "-ldl", "-lpthread"])
        built = [C_LIBRARY]
        if cxx:
            _run([cxx, "-O2", "-g", "-std=c++17", "-fPIC", "-shared",
                  "-Wl,-soname," + CXX_LIBRARY, f"-I{c_dir / 'include'}",
                  f"-I{cpp_dir / 'include'}", "-o", str(staging / CXX_LIBRARY),
                  *map(str, _sources(agents, "cpp", {".cpp"})), f"-L{staging}", "-lorion",
                  "-Wl,-rpath,$ORIGIN", "-ldl"])
            built.append(CXX_LIBRARY)
        (staging / STAMP).write_text(source_digest(agents) + "\n")
        shutil.rmtree(out, ignore_errors=True)
        try:
            os.replace(staging, out)
        except OSError:  # another process built the same sources at the same time
            if not (out / C_LIBRARY).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return built


def _prebuilt_fits(agents: str) -> bool:
    """The libraries pip installed are there, and built from these sources (when the
    sources are here at all: an installed wheel has none)."""
    if not os.path.isfile(os.path.join(PREBUILT_DIR, C_LIBRARY)):
        return False
    if not os.path.isdir(os.path.join(agents, "c", "src")):
        return True
    try:
        with open(os.path.join(PREBUILT_DIR, STAMP)) as stamp:
            return stamp.read().strip() == source_digest(agents)
    except OSError:
        return False


def agent_libraries(force: bool = False) -> list[str]:
    """The agent libraries to preload (liborion.so first), built now if needed."""
    agents = agents_root()
    if not force and _prebuilt_fits(agents):
        return _libraries_in(PREBUILT_DIR)
    _require_sources(agents)
    out = cache_root("native", source_digest(agents))
    if force or not os.path.isfile(os.path.join(out, C_LIBRARY)):
        from pathlib import Path

        print(f"orion: building the C/C++ agent into {out} (first use; pip install builds "
              f"it ahead when a compiler is there)", file=sys.stderr)
        compile_agent(Path(agents), Path(out))
    return _libraries_in(out)


def _libraries_in(directory: str) -> list[str]:
    return [path for name in (C_LIBRARY, CXX_LIBRARY)
            if os.path.isfile(path := os.path.join(directory, name))]


def build_problem() -> str | None:
    """None when the agent libraries are there or build now; else why not, in one sentence."""
    try:
        agent_libraries()
    except BuildError as exc:
        return str(exc)
    return None


if __name__ == "__main__":  # `python -m orion.native.build [--force]`: build, print paths
    for library in agent_libraries(force="--force" in sys.argv[1:]):
        print(library)
