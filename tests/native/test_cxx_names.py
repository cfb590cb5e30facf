"""Names of native functions as `orion show` gives them: C++ templates shortened as uftrace
shows them (whole with ORION_DEMANGLE=full), the global constructors of a translation
unit demangled, and stripped binaries named through their separate debug files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import COMPILERS, CXX_COMPILERS, compile_program, run_traced

PROGRAM = r"""
#include <cstdio>
#include <vector>
namespace shop {
template <typename T> struct Box {
    T value;
    T get() const { return value; }
};
int setup() { return 7; }
}
int configured = shop::setup();   // run by the translation unit's global constructor
int main() {
    shop::Box<std::vector<int> > box{{1, 2, 3}};
    std::printf("%zu %d\n", box.get().size(), configured);
    return 0;
}
"""


def show(trace: Path, *options: str, **env: str) -> str:
    result = subprocess.run([sys.executable, "-m", "orion", *options, "show", "--all",
                             str(trace)], capture_output=True, text=True,
                            env={**os.environ, **env})
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("compiler", CXX_COMPILERS)
def test_templates_are_shortened_unless_asked(tmp_path: Path, compiler: str) -> None:
    exe = compile_program(tmp_path, compiler, PROGRAM)
    status, (trace,) = run_traced(exe, spool=tmp_path / "spool")
    assert status == 0
    text = show(trace)
    assert "shop::Box::get()" in text
    assert "shop::Box<" not in text
    whole = "shop::Box<std::vector<int, std::allocator<int> > >::get()"
    assert whole in show(trace, ORION_DEMANGLE="full")
    assert whole in show(trace, "--full-names")
    if compiler == "g++":  # clang++ does not instrument the global constructor
        assert "global constructors keyed to shop::setup" in text
        assert "_GLOBAL__" not in text
        # the first call is the summary's root, which `orion list` shows
        listed = subprocess.run([sys.executable, "-m", "orion", "list", "--json", "--spool",
                                 str(trace.parent)], capture_output=True, text=True)
        assert json.loads(listed.stdout)[0]["root"] == "global constructors keyed to shop::setup"


STATIC = r"""
#include <stdio.h>
static int helper(int *p) { return *p; }                 /* line 3 */
int work(int *p) { return helper(p) + 1; }                 /* line 4 */
int main(void) { printf("%d\n", work(0)); return 0; }     /* line 5 */
"""


@pytest.mark.parametrize("place", ["next to it", ".debug"])
@pytest.mark.parametrize("compiler", COMPILERS)
@pytest.mark.usefixtures("every_program")  # not instrumented: only its crash is recorded
def test_stripped_binary_is_named_through_its_debug_link(tmp_path: Path, compiler: str,
                                                         place: str) -> None:
    src = tmp_path / "prog.c"
    src.write_text(STATIC)
    exe = tmp_path / "prog"
    subprocess.run([compiler, "-g", "-O0", str(src), "-o", str(exe)], check=True)
    debug_dir = tmp_path / (".debug" if place == ".debug" else "")
    debug_dir.mkdir(exist_ok=True)
    subprocess.run(["objcopy", "--only-keep-debug", str(exe), str(tmp_path / "prog.dbg")],
                   check=True)
    subprocess.run(["strip", "--strip-all", str(exe)], check=True)
    subprocess.run(["objcopy", "--add-gnu-debuglink=prog.dbg", str(exe)], check=True,
                   cwd=tmp_path)
    (tmp_path / "prog.dbg").rename(debug_dir / "prog.dbg")
    status, (trace,) = run_traced(exe, spool=tmp_path / "spool")
    assert status == -signal.SIGSEGV
    result = subprocess.run([sys.executable, "-m", "orion", "show", "--json", str(trace)],
                            capture_output=True, text=True)
    path = json.loads(result.stdout)["failing_path"]
    assert [(f["name"], f["line"]) for f in path] == [("main", 5), ("work", 4), ("helper", 3)]


@pytest.mark.parametrize("compiler", CXX_COMPILERS)
def test_a_shown_name_works_as_a_filter(tmp_path: Path, compiler: str) -> None:
    """A name copied from `orion show` (templates shortened) selects the function."""
    exe = compile_program(tmp_path, compiler, PROGRAM)
    spool = tmp_path / "spool"
    result = subprocess.run([sys.executable, "-m", "orion", "run", "--spool", str(spool),
                             "--include-func", "shop::Box::get", "--", str(exe)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    (trace,) = spool.glob("*.otrace")
    calls = [line.strip() for line in show(trace).splitlines() if "()" in line]
    assert [c.split("()")[0].lstrip("└─├│ ") for c in calls] == ["shop::Box::get"]
