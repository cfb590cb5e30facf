"""Include/exclude by function name pattern and by module: what is left out has neither its
calls nor its returns in the trace, its kept callees hang under its caller, and the
patterns see C++ names demangled and functions of dlopen'ed libraries."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from .conftest import (COMPILERS, CXX_COMPILERS, assert_valid, by_type, compile_program,
                       decoded, function_names, orion)

LOGGING = r"""
#include <stdio.h>
static void log_line(int x) { (void)x; }
static void log_flush(void) {}
static int square(int x) { log_line(x); return x * x; }
static int total(int n) {
    int s = 0;
    for (int i = 0; i < n; i++) s += square(i);
    log_flush();
    return s;
}
int main(void) { printf("%d\n", total(3)); return 0; }
"""


def events(records: list[dict]) -> list[str]:
    """The call tree as a flat list: a function's name on call, ')' on return."""
    functions = function_names(records)
    out = []
    for r in records:
        if r["type"] == "call":
            out.append(functions[r["fn"]]["name"])
        elif r["type"] in ("return", "unwind"):
            out.append(")")
    return out


def run_env(exe: Path, env: dict, *args: str) -> list[dict]:
    result = subprocess.run([str(exe), *args], env=env, capture_output=True)
    assert result.returncode == 0, result.stderr
    (trace,) = Path(env["ORION_SPOOL"]).glob("*.otrace")
    assert_valid(trace)
    return decoded(trace)


@pytest.mark.parametrize("compiler", COMPILERS)
def test_excluded_functions_and_their_returns_are_absent(tmp_path: Path, compiler: str) -> None:
    exe = compile_program(tmp_path, compiler, LOGGING)
    spool = tmp_path / "spool"
    result = orion("run", "--spool", str(spool), "--exclude-func", "log_*", "--", str(exe))
    assert result.returncode == 0, result.stderr
    (trace,) = spool.glob("*.otrace")
    assert_valid(trace)
    records = decoded(trace)
    assert {f["name"] for f in by_type(records, "function")} == {"main", "total", "square"}
    assert events(records) == ["main", "total", "square", ")", "square", ")", "square", ")",
                               ")", ")"]
    end = by_type(records, "end")[0]
    assert end["counts"]["calls"] == end["counts"]["returns"] == 5


@pytest.mark.parametrize("compiler", COMPILERS)
def test_include_pattern_keeps_only_matching_functions(tmp_path: Path, compiler: str,
                                                       preload_env: dict) -> None:
    exe = compile_program(tmp_path, compiler, LOGGING)
    env = dict(preload_env, ORION_SPOOL=str(tmp_path / "spool"),
               ORION_INCLUDE_FUNCS="tot*,log_line")
    records = run_env(exe, env)
    assert {f["name"] for f in by_type(records, "function")} == {"total", "log_line"}
    # square is gone: the log_line calls it made now sit directly under total
    assert events(records) == ["total", "log_line", ")", "log_line", ")", "log_line", ")", ")"]
    assert by_type(records, "end")[0]["root"] == "total"


def test_python_module_filters_do_not_reach_native_programs(tmp_path: Path) -> None:
    exe = compile_program(tmp_path, COMPILERS[0], LOGGING)
    spool = tmp_path / "spool"
    result = orion("run", "--spool", str(spool), "--include", "mypkg", "--exclude", "prog",
                   "--", str(exe))
    assert result.returncode == 0, result.stderr
    (trace,) = spool.glob("*.otrace")
    assert len(by_type(decoded(trace), "call")) == 9  # main, total, 3 x (square, log_line), log_flush


def test_a_comma_in_a_pattern_is_refused(tmp_path: Path) -> None:
    result = orion("run", "--spool", str(tmp_path), "--exclude-func", "a,b", "--", "true")
    assert result.returncode == 2 and "comma" in result.stderr


CXX = r"""
namespace shop {
struct Cart {
    int items = 0;
    void add(int n) { items += n; }
    int count() const { return items; }
};
int price(int cents) { return cents * 2; }
}
int main() {
    shop::Cart cart;
    cart.add(shop::price(3));
    return cart.count() == 6 ? 0 : 1;
}
"""


@pytest.mark.parametrize("compiler", CXX_COMPILERS)
def test_patterns_match_demangled_cxx_names(tmp_path: Path, compiler: str,
                                            preload_env: dict) -> None:
    exe = compile_program(tmp_path, compiler, CXX)
    env = dict(preload_env, ORION_SPOOL=str(tmp_path / "spool"),
               ORION_EXCLUDE_FUNCS="shop::Cart::*")
    records = run_env(exe, env)
    assert {f["name"] for f in by_type(records, "function")} == {"main", "shop::price"}
    env = dict(preload_env, ORION_SPOOL=str(tmp_path / "spool2"),
               ORION_INCLUDE_FUNCS="shop::price(int),shop::Cart::count")
    records = run_env(exe, env)
    assert events(records) == ["shop::price", ")", "shop::Cart::count", ")"]
    assert by_type(records, "end")[0]["root"] == "shop::price"  # demangled when written


PLUGIN = r"""
static int discount(int cents) { return cents / 10; }
int plugin_price(int cents) { return cents - discount(cents); }
"""

LOADS_PLUGIN = r"""
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
    void *lib = dlopen(argv[1], RTLD_NOW);
    if (!lib) return 2;
    int (*price)(int) = (int (*)(int))dlsym(lib, "plugin_price");
    printf("%d\n", price(1000));
    return 0;
}
"""


def test_patterns_apply_to_dlopened_libraries(tmp_path: Path, preload_env: dict) -> None:
    compiler = COMPILERS[0]
    plugin = tmp_path / "libplugin.so"
    (tmp_path / "plugin.c").write_text(PLUGIN)
    subprocess.run([compiler, "-g", "-O0", "-finstrument-functions", "-shared", "-fPIC",
                    str(tmp_path / "plugin.c"), "-o", str(plugin)], check=True)
    exe = compile_program(tmp_path, compiler, LOADS_PLUGIN, extra=["-ldl"])
    env = dict(preload_env, ORION_SPOOL=str(tmp_path / "spool"), ORION_EXCLUDE_FUNCS="disc*")
    records = run_env(exe, env, str(plugin))
    assert events(records) == ["main", "plugin_price", ")", ")"]
    env = dict(preload_env, ORION_SPOOL=str(tmp_path / "libs"), ORION_EXCLUDE_LIBS="libplugin")
    assert events(run_env(exe, env, str(plugin))) == ["main", ")"]


CRASH = r"""
static int deref(int *p) { return *p; }
static int checkout(int *p) { return deref(p); }
int main(void) { return checkout(0); }
"""


def test_crash_stack_leaves_out_excluded_functions(tmp_path: Path, preload_env: dict) -> None:
    exe = compile_program(tmp_path, COMPILERS[0], CRASH)
    env = dict(preload_env, ORION_SPOOL=str(tmp_path / "spool"), ORION_MODE="error",
               ORION_EXCLUDE_FUNCS="checkout")
    assert subprocess.run([str(exe)], env=env).returncode == -signal.SIGSEGV
    (trace,) = (tmp_path / "spool").glob("*.otrace")
    assert_valid(trace)
    records = decoded(trace)
    functions = function_names(records)
    (stack,) = by_type(records, "stack")
    assert [functions[f["fn"]]["name"] for f in stack["frames"]] == ["main", "deref"]
    assert by_type(records, "end")[0]["root"] == "main"  # named in the signal handler



def test_patterns_in_a_program_linked_with_the_static_agent(tmp_path: Path) -> None:
    """liborion.a inside the executable: the module defining the hooks is the program."""
    agents = Path(__file__).resolve().parents[2] / "agents" / "c"
    build = tmp_path / "agent"
    subprocess.run(["make", "-s", "-C", str(agents), f"BUILD={build}",
                    str(build / "liborion.a")], check=True, capture_output=True)
    exe = compile_program(tmp_path, COMPILERS[0], LOGGING,
                          extra=[str(build / "liborion.a"), "-lzstd", "-ldl"])
    env = {"PATH": os.environ["PATH"], "ORION_MODE": "dev",
           "ORION_SPOOL": str(tmp_path / "spool"), "ORION_INCLUDE_FUNCS": "square"}
    assert events(run_env(exe, env)) == ["square", ")"] * 3


TEMPLATES = r"""
#include <algorithm>
#include <cstdio>
#include <vector>
static unsigned long smallest(unsigned long a, unsigned long b) { return std::min(a, b); }
static void duplicate(const int *from, int *to, int n) { std::copy(from, from + n, to); }
int main() {
    int a[3] = {1, 2, 3}, b[3];
    duplicate(a, b, 3);
    std::vector<int> v(a, a + 3);
    std::printf("%lu %d %zu\n", smallest(4, 2), b[2], v.size());
    return 0;
}
"""


@pytest.mark.parametrize("compiler", CXX_COMPILERS)
def test_std_pattern_leaves_out_function_templates(tmp_path: Path, compiler: str) -> None:
    """Function templates demangle with their return type first ("unsigned long const&
    std::min<unsigned long>(...)"): 'std::*' must still leave them out, as it does
    members ("std::vector<int>::size() const")."""
    src = tmp_path / "prog.cpp"
    src.write_text(TEMPLATES)
    exe = tmp_path / "prog"
    # every standard-library template instrumented, as clang++ does (no g++ exclusion list)
    subprocess.run([compiler, "-g", "-O0", "-finstrument-functions", str(src), "-o", str(exe)],
                   check=True)

    def names(*options: str) -> set[str]:
        spool = tmp_path / f"spool{len(options)}"
        result = orion("run", "--spool", str(spool), *options, "--", str(exe))
        assert result.returncode == 0, result.stderr
        (trace,) = spool.glob("*.otrace")
        assert_valid(trace)
        records = decoded(trace)
        functions = function_names(records)
        return {functions[c["fn"]]["name"] for c in by_type(records, "call")}

    everything = names()
    assert {"std::min", "std::copy"} <= everything  # shown without template arguments
    assert any(n.startswith("std::vector::") for n in everything)
    kept = names("--exclude-func", "std::*", "--exclude-func", "__gnu_cxx::*")
    assert {"main", "smallest", "duplicate"} <= kept
    assert not [n for n in kept if n.startswith(("std::", "__gnu_cxx::"))]
