"""Real C and C++ programs, compiled here and run under the agent: calls with names and
lines, threads on their own lanes, crashes with the stack at the crash, exceptions, shared
libraries, and exit statuses exactly as without the agent."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from .conftest import (COMPILERS, CXX_COMPILERS, assert_valid, by_type, compile_program,
                       decoded, function_names, orion, run_traced)

THREADS = r"""
#include <pthread.h>
#include <stdio.h>
static int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
static void *worker(void *arg) { return (void *)(long)fib((int)(long)arg); }
int main(void) {
    pthread_t t[3];
    for (long i = 0; i < 3; i++) pthread_create(&t[i], 0, worker, (void *)(8 + i));
    for (int i = 0; i < 3; i++) pthread_join(t[i], 0);
    printf("%d\n", fib(10));
    return 0;
}
"""

CRASHES = r"""
#include <stdlib.h>
#include <string.h>
struct order { int qty; };
static int total(struct order *o) {
    return o->qty * 2;               /* line 6: o is NULL */
}
static int checkout(struct order *o) { return total(o); }
static void give_up(void) { abort(); }
int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "abort")) give_up();
    if (argc > 1 && !strcmp(argv[1], "fail")) return 3;
    return checkout(NULL);
}
"""


@pytest.mark.parametrize("compiler", COMPILERS)
def test_threads_get_their_own_lanes(tmp_path: Path, compiler: str) -> None:
    exe = compile_program(tmp_path, compiler, THREADS)
    status, traces = run_traced(exe, spool=tmp_path / "spool")
    assert status == 0 and len(traces) == 1
    assert_valid(traces[0])
    records = decoded(traces[0])
    lanes = by_type(records, "lane")
    assert len(lanes) == 4 and len({lane["native_id"] for lane in lanes}) == 4
    assert "main" in {lane["name"] for lane in lanes}
    functions = function_names(records)
    names = {f["name"] for f in functions.values()}
    assert {"main", "worker", "fib"} <= names
    fib = next(f for f in functions.values() if f["name"] == "fib")
    assert fib["file"].endswith("prog.c") and fib["line"] == 4
    calls = by_type(records, "call")
    assert len(calls) == len(by_type(records, "return"))
    workers = {c["lane"] for c in calls if functions[c["fn"]]["name"] == "worker"}
    assert len(workers) == 3
    end = by_type(records, "end")[0]
    assert end["status"] == "ok" and end["exit_code"] == 0 and end["counts"]["lanes"] == 4
    # the summary names the root when writing: `orion list` needs no symbols
    assert end["root"] == "main"
    table = orion("list", "--spool", str(traces[0].parent), "--format", "table")
    assert "main" in table.stdout.split() and "0x" not in table.stdout


@pytest.mark.parametrize("compiler", COMPILERS)
def test_null_dereference_leaves_crash_and_stack(tmp_path: Path, compiler: str,
                                                 preload_env: dict) -> None:
    exe = compile_program(tmp_path, compiler, CRASHES)
    plain = subprocess.run([str(exe)], cwd=tmp_path)
    env = dict(preload_env, ORION_SPOOL=str(tmp_path / "spool"))
    traced = subprocess.run([str(exe)], env=env, cwd=tmp_path)
    assert plain.returncode == traced.returncode == -signal.SIGSEGV
    # The same through `orion run`, as a user runs it: the shell sees the same death.
    status, via_run = run_traced(exe, spool=tmp_path / "via-run")
    assert status == -signal.SIGSEGV and len(via_run) == 1
    assert by_type(decoded(via_run[0]), "crash")[0]["reason"] == "SIGSEGV"
    (trace,) = (tmp_path / "spool").glob("*.otrace")
    assert_valid(trace)
    records = decoded(trace)
    functions = function_names(records)
    (crash,) = by_type(records, "crash")
    assert crash["reason"] == "SIGSEGV" and crash["detail"]["signal"] == signal.SIGSEGV
    assert crash["detail"]["address"] == 0
    (stack,) = by_type(records, "stack")
    assert [functions[f["fn"]]["name"] for f in stack["frames"]] == ["main", "checkout", "total"]
    total = functions[stack["frames"][-1]["fn"]]
    assert total["file"].endswith("prog.c") and total["line"] == 5
    end = by_type(records, "end")[0]
    assert end["status"] == "crashed" and end["exception"]["type"] == "SIGSEGV"
    show = orion("show", "--json", str(trace))
    assert show.returncode == 0
    assert [f["name"] for f in __import__("json").loads(show.stdout)["failing_path"]] == \
        ["main", "checkout", "total"]


@pytest.mark.parametrize("compiler", COMPILERS)
def test_abort_and_exit_status_through_orion_run(tmp_path: Path, compiler: str) -> None:
    exe = compile_program(tmp_path, compiler, CRASHES)
    status, traces = run_traced(exe, "abort", spool=tmp_path / "spool", mode="error")
    assert status == -signal.SIGABRT and len(traces) == 1  # dies of the same signal
    assert_valid(traces[0])
    records = decoded(traces[0])
    assert records[0]["window"] == "ring"
    (crash,) = by_type(records, "crash")
    assert crash["reason"] == "SIGABRT"
    functions = function_names(records)
    (stack,) = by_type(records, "stack")
    assert [functions[f["fn"]]["name"] for f in stack["frames"]] == ["main", "give_up"]
    # error mode: a failing exit writes the ring, a clean run writes nothing
    status, traces = run_traced(exe, "fail", spool=tmp_path / "failed", mode="error")
    assert status == 3 and len(traces) == 1
    end = by_type(decoded(traces[0]), "end")[0]
    assert end["status"] == "failed" and end["exit_code"] == 3
    clean = compile_program(tmp_path, compiler, THREADS, name="clean")
    status, traces = run_traced(clean, spool=tmp_path / "clean-spool", mode="error")
    assert status == 0 and traces == []


def test_uninstrumented_program_gets_crash_capture_when_asked(tmp_path: Path,
                                                              preload_env: dict) -> None:
    src = tmp_path / "plain.c"
    src.write_text(CRASHES)
    exe = tmp_path / "plain"
    subprocess.run([COMPILERS[0], "-g", "-O0", str(src), "-o", str(exe)], check=True)
    env = dict(preload_env, ORION_SPOOL=str(tmp_path / "spool"), ORION_NATIVE_CRASHES="all")
    assert subprocess.run([str(exe)], env=env).returncode == -signal.SIGSEGV
    assert subprocess.run([str(exe), "fail"], env=env).returncode == 3
    (trace,) = (tmp_path / "spool").glob("*.otrace")  # only the crash left a trace
    assert_valid(trace)
    records = decoded(trace)
    (stack,) = by_type(records, "stack")
    # unwound by the agent, resolved to functions (static ones too) when read
    functions = function_names(records)
    assert [functions[f["fn"]]["name"] for f in stack["frames"]] == ["main", "checkout", "total"]


EXCEPTIONS = r"""
#include <stdexcept>
#include <string>
#include "orion.hpp"
struct PaymentDeclined : std::runtime_error { using std::runtime_error::runtime_error; };
static int charge(int cents) {
    if (cents > 100) throw PaymentDeclined("card declined for " + std::to_string(cents));
    return cents;
}
static int try_charge(int cents) {
    try { return charge(cents); } catch (const PaymentDeclined &) { return -1; }
}
int main() {
    ORION_TRACE();
    try_charge(500);
    { ORION_TRACE_NAMED("final charge"); charge(900); }
    return 0;
}
"""


@pytest.mark.parametrize("compiler", CXX_COMPILERS)
def test_uncaught_exception(tmp_path: Path, compiler: str) -> None:
    agents = Path(__file__).resolve().parents[2] / "agents"
    exe = compile_program(tmp_path, compiler, EXCEPTIONS,
                          extra=[f"-I{agents / 'c' / 'include'}", f"-I{agents / 'cpp' / 'include'}"])
    assert subprocess.run([str(exe)], capture_output=True).returncode == -signal.SIGABRT
    status, traces = run_traced(exe, spool=tmp_path / "spool")
    assert status == -signal.SIGABRT and len(traces) == 1  # dies of the same signal
    assert_valid(traces[0])
    records = decoded(traces[0])
    assert records[0]["agent"]["language"] == "cpp"
    raised = by_type(records, "exception")
    assert [(e["exc_type"], e["message"]) for e in raised] == [
        ("PaymentDeclined", "card declined for 500"), ("PaymentDeclined", "card declined for 900")]
    (crash,) = by_type(records, "crash")
    assert (crash["kind"], crash["reason"], crash["message"]) == (
        "exception", "PaymentDeclined", "card declined for 900")
    functions = function_names(records)
    (stack,) = by_type(records, "stack")
    names = [functions[f["fn"]]["name"] for f in stack["frames"]]
    assert names == ["main", "main", "final charge", "charge"]
    scope = next(f for f in functions.values() if f["name"] == "final charge")
    assert scope["file"].endswith("prog.cpp") and scope["line"] == 16


LIBRARY = r"""
static int discount(int cents) { return cents / 10; }   /* static: only in .symtab */
int shop_price(int cents) { return cents - discount(cents); }
"""

USES_LIBRARY = r"""
#include <stdio.h>
int shop_price(int cents);
int main(void) { printf("%d\n", shop_price(1000)); return 0; }
"""


def build_with_library(tmp_path: Path, compiler: str) -> Path:
    """tmp_path/libshop.so from LIBRARY and a program linked with it from USES_LIBRARY."""
    lib_src = tmp_path / "shop.c"
    lib_src.write_text(LIBRARY)
    subprocess.run([compiler, "-g", "-O0", "-finstrument-functions", "-shared", "-fPIC",
                    str(lib_src), "-o", str(tmp_path / "libshop.so")], check=True)
    return compile_program(tmp_path, compiler, USES_LIBRARY,
                           extra=[f"-L{tmp_path}", "-lshop", f"-Wl,-rpath,{tmp_path}"])


@pytest.mark.parametrize("compiler", COMPILERS)
def test_calls_into_a_shared_library(tmp_path: Path, compiler: str) -> None:
    exe = build_with_library(tmp_path, compiler)
    status, traces = run_traced(exe, spool=tmp_path / "spool")
    assert status == 0 and len(traces) == 1
    assert_valid(traces[0])
    records = decoded(traces[0])
    modules = {m["path"] for m in by_type(records, "module")}
    assert str(tmp_path / "libshop.so") in modules
    functions = function_names(records)
    by_name = {f["name"]: f for f in functions.values()}
    assert {"main", "shop_price", "discount"} <= set(by_name)
    assert by_name["discount"]["module"] == str(tmp_path / "libshop.so")
    assert by_name["discount"]["file"].endswith("shop.c") and by_name["discount"]["line"] == 2
    order = [functions[c["fn"]]["name"] for c in by_type(records, "call")]
    assert order == ["main", "shop_price", "discount"]


def test_excluded_module_is_left_out(tmp_path: Path, preload_env: dict) -> None:
    exe = build_with_library(tmp_path, COMPILERS[0])
    env = dict(preload_env, ORION_SPOOL=str(tmp_path / "spool"), ORION_EXCLUDE_LIBS="libshop")
    assert subprocess.run([str(exe)], env=env, capture_output=True).returncode == 0
    (trace,) = (tmp_path / "spool").glob("*.otrace")
    assert_valid(trace)
    records = decoded(trace)
    assert [f["name"] for f in by_type(records, "function")] == ["main"]
    assert len(by_type(records, "call")) == len(by_type(records, "return")) == 1


def test_safe_mode_samples_calls(tmp_path: Path) -> None:
    exe = compile_program(tmp_path, COMPILERS[0], THREADS)
    env_spool = tmp_path / "spool"
    result = subprocess.run(
        ["python3", "-m", "orion", "run", "--mode", "safe", "--sample", "0.1", "--spool",
         str(env_spool), "--", str(exe)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    (trace,) = env_spool.glob("*.otrace")
    assert_valid(trace)
    calls = by_type(decoded(trace), "call")
    assert 0 < len(calls) < 200  # fib(8..10) x4 is ~700 calls; one in ten is kept


CTEST_PROJECT = r"""
cmake_minimum_required(VERSION 3.16)
project(shop C)
enable_testing()
add_executable(test_price test_price.c)
target_compile_options(test_price PRIVATE -finstrument-functions -g -O0)
add_test(NAME price COMMAND test_price)
"""

CTEST_SOURCE = r"""
#include <stdio.h>
static int price_with_tax(int cents) { return cents + cents / 5; }
int main(void) {
    int got = price_with_tax(100);
    if (got != 121) { fprintf(stderr, "expected 121, got %d\n", got); return 1; }
    return 0;
}
"""


@pytest.mark.skipif(not __import__("shutil").which("cmake"), reason="needs cmake")
def test_failing_ctest_leaves_a_trace(tmp_path: Path) -> None:
    (tmp_path / "CMakeLists.txt").write_text(CTEST_PROJECT)
    (tmp_path / "test_price.c").write_text(CTEST_SOURCE)
    build = tmp_path / "build"
    subprocess.run(["cmake", "-S", str(tmp_path), "-B", str(build)], check=True,
                   capture_output=True)
    subprocess.run(["cmake", "--build", str(build)], check=True, capture_output=True)
    result = orion("run", "--mode", "error", "--spool", str(tmp_path / "spool"), "--",
                   "ctest", "--test-dir", str(build), cwd=build)
    assert result.returncode == 8  # ctest's "some tests failed"
    traces = sorted((tmp_path / "spool").glob("*.otrace"))
    records = [decoded(t) for t in traces]
    failed = [r for r in records if by_type(r, "end")[0]["status"] == "failed"
              and r[0]["process"]["executable"].endswith("test_price")]
    assert len(failed) == 1
    assert {f["name"] for f in by_type(failed[0], "function")} == {"main", "price_with_tax"}
    assert by_type(failed[0], "end")[0]["exit_code"] == 1
