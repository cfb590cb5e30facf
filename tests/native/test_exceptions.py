"""C++ exceptions: the frames an exception leaves are recorded as unwound with g++ as with
clang++ (g++ runs their exit hooks from its cleanups, clang++ does not run them), and
calls made while the exception travels (a destructor's) still return normally."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import (CXX_COMPILERS, assert_valid, by_type, compile_program, decoded,
                       function_names, run_traced)

UNWINDS = r"""
#include <exception>
#include <stdexcept>
static int parse(int v) { if (v < 0) throw std::invalid_argument("negative"); return v; }
static int load(int v) { return parse(v) + 1; }
static int log_cleanup() { return 7; }
struct Guard { ~Guard() { log_cleanup(); } };
static int guarded(int v) { Guard g; return load(v); }
static int rethrows(int v) {
    try { return guarded(v); } catch (...) { log_cleanup(); throw; }
}
static void again(std::exception_ptr thrown) { std::rethrow_exception(thrown); }
int main() {
    int caught = 0;
    std::exception_ptr kept;
    try { guarded(-1); } catch (const std::invalid_argument &) { caught++; kept = std::current_exception(); }
    load(1);
    try { rethrows(-2); } catch (const std::invalid_argument &) { caught++; }
    try { again(kept); } catch (const std::invalid_argument &) { caught++; }
    return caught == 3 ? 0 : 1;
}
"""


def endings(records: list[dict]) -> list[tuple[str, str]]:
    """(function, "return" or "unwind") for each call of the program's own functions (not
    the standard library's, which clang++ instruments), in the order the calls ended."""
    names = function_names(records)
    open_calls, ended = [], []
    for record in records:
        if record["type"] == "call":
            open_calls.append(names[record["fn"]]["name"])
        elif record["type"] in ("return", "unwind"):
            ended.append((open_calls.pop(), record["type"]))
    return [(name, how) for name, how in ended if not name.startswith("std::")]


@pytest.mark.parametrize("compiler", CXX_COMPILERS)
def test_frames_left_by_an_exception_are_unwound(tmp_path: Path, compiler: str) -> None:
    exe = compile_program(tmp_path, compiler, UNWINDS)
    status, traces = run_traced(exe, spool=tmp_path / "spool")
    assert status == 0 and len(traces) == 1
    assert_valid(traces[0])
    records = decoded(traces[0])
    assert len(by_type(records, "exception")) == 2
    ended = endings(records)
    unwound = sorted(name for name, how in ended if how == "unwind")
    assert unwound == ["again", "guarded", "guarded", "load", "load", "parse", "parse",
                       "rethrows"]
    returned = sorted(name for name, how in ended if how == "return")
    assert returned == ["Guard::~Guard", "Guard::~Guard", "load", "log_cleanup", "log_cleanup",
                        "log_cleanup", "main", "parse"]
    end = by_type(records, "end")[0]
    assert end["status"] == "ok"
