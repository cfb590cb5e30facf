"""Programs the native agent does not trace: `orion run` preloads it into every dynamically
linked program, but it stays passive in one that never calls it (no crash handlers, no
alternate signal stack, no file), so a program's own crash handling is untouched: its
output and exit status are byte for byte what they are without `orion run`. Tracing
begins when instrumented code first calls the agent, also in a library loaded later."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import (COMPILERS, CXX_COMPILERS, assert_valid, by_type, compile_program,
                       decoded, function_names)

OWN_HANDLER = r"""
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
static void on_segv(int sig, siginfo_t *info, void *context) {
    (void)sig; (void)info; (void)context;
    static const char text[] = "caught SIGSEGV in my own handler\n";
    write(2, text, sizeof text - 1);
    _exit(42);
}
int main(void) {
    struct sigaction mine, before;
    memset(&mine, 0, sizeof mine);
    mine.sa_sigaction = on_segv;
    mine.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &mine, &before);
    stack_t alt;
    sigaltstack(NULL, &alt);
    fprintf(stderr, "SIGSEGV was %s; alternate stack: %s\n",
            before.sa_handler == SIG_DFL ? "default" : "handled",
            alt.ss_flags & SS_DISABLE ? "none" : "set");
    volatile int *nowhere = NULL;
    return *nowhere;
}
"""

STACK_OVERFLOW = r"""
fn deeper(depth: u64, above: &mut [u8; 4096]) -> u64 {
    let mut frame = [0u8; 4096];
    frame[(depth % 4096) as usize] = above[0];
    std::hint::black_box(&mut frame);
    deeper(depth + 1, &mut frame) + frame[7] as u64
}
fn main() {
    let mut first = [1u8; 4096];
    println!("{}", deeper(0, &mut first));
}
"""

TERMINATES = r"""
#include <stdexcept>
int main() { throw std::runtime_error("out of cheese"); }
"""

PLUGIN = r"""
static int deref(int *p) { return *p; }
int plugin_crash(void) { return deref(0); }
"""

HOST = r"""
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
    void *lib = dlopen(argv[1], RTLD_NOW);
    if (!lib) return 2;
    int (*crash)(void) = (int (*)(void))dlsym(lib, "plugin_crash");
    printf("%d\n", crash());
    return 0;
}
"""


def run_both(command: list[str], tmp_path: Path) -> tuple[subprocess.CompletedProcess,
                                                          subprocess.CompletedProcess]:
    """The command alone, then under `orion run` (its own `orion:` lines on stderr left
    out): both results, and the spool is tmp_path/spool."""
    alone = subprocess.run(command, capture_output=True, cwd=tmp_path)
    traced = subprocess.run([sys.executable, "-m", "orion", "run", "--mode", "dev", "--spool",
                             str(tmp_path / "spool"), "--", *command],
                            capture_output=True, cwd=tmp_path)
    own = [line for line in traced.stderr.splitlines(keepends=True)
           if not line.startswith(b"orion:")]
    traced.stderr = b"".join(own)
    return alone, traced


def traces(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "spool").glob("*.otrace"))


@pytest.mark.parametrize("compiler", COMPILERS)
def test_a_program_with_its_own_crash_handler_is_untouched(tmp_path: Path,
                                                          compiler: str) -> None:
    src = tmp_path / "own.c"
    src.write_text(OWN_HANDLER)
    exe = tmp_path / "own"
    subprocess.run([compiler, "-O0", str(src), "-o", str(exe)], check=True)
    alone, traced = run_both([str(exe)], tmp_path)
    assert alone.stderr == b"SIGSEGV was default; alternate stack: none\n" \
                           b"caught SIGSEGV in my own handler\n"
    assert (traced.returncode, traced.stdout, traced.stderr) == \
        (alone.returncode, alone.stdout, alone.stderr) == (42, b"", alone.stderr)
    assert traces(tmp_path) == []


@pytest.mark.skipif(not shutil.which("rustc"), reason="needs rustc")
def test_a_rust_stack_overflow_keeps_rusts_report(tmp_path: Path) -> None:
    src = tmp_path / "overflow.rs"
    src.write_text(STACK_OVERFLOW)
    exe = tmp_path / "overflow"
    subprocess.run(["rustc", "-O", str(src), "-o", str(exe)], check=True, capture_output=True)
    alone, traced = run_both([str(exe)], tmp_path)

    def report(stderr: bytes) -> bytes:  # the thread's id is the process id: one per run
        return re.sub(rb"thread 'main' \(\d+\)", b"thread 'main' (<pid>)", stderr)

    assert b"has overflowed its stack" in alone.stderr
    assert alone.returncode == -signal.SIGABRT  # Rust's handler reports, then aborts
    assert (traced.returncode, traced.stdout, report(traced.stderr)) == \
        (alone.returncode, alone.stdout, report(alone.stderr))


@pytest.mark.skipif(not CXX_COMPILERS, reason="needs a C++ compiler")
def test_an_uninstrumented_cxx_termination_is_untouched(tmp_path: Path) -> None:
    src = tmp_path / "terminates.cpp"
    src.write_text(TERMINATES)
    exe = tmp_path / "terminates"
    subprocess.run([CXX_COMPILERS[0], "-O0", str(src), "-o", str(exe)], check=True)
    alone, traced = run_both([str(exe)], tmp_path)
    assert b"out of cheese" in alone.stderr and alone.returncode == -signal.SIGABRT
    assert (traced.returncode, traced.stdout, traced.stderr) == \
        (alone.returncode, alone.stdout, alone.stderr)
    assert traces(tmp_path) == []  # neither its throw nor std::terminate were recorded


def test_an_instrumented_library_loaded_later_begins_tracing(tmp_path: Path) -> None:
    """The host is not instrumented; the plugin it dlopens is: its first call begins
    tracing, and its crash is captured with the plugin's stack."""
    compiler = COMPILERS[0]
    plugin = tmp_path / "libplugin.so"
    (tmp_path / "plugin.c").write_text(PLUGIN)
    subprocess.run([compiler, "-g", "-O0", "-finstrument-functions", "-shared", "-fPIC",
                    str(tmp_path / "plugin.c"), "-o", str(plugin)], check=True)
    (tmp_path / "host.c").write_text(HOST)
    host = tmp_path / "host"
    subprocess.run([compiler, "-g", "-O0", str(tmp_path / "host.c"), "-o", str(host), "-ldl"],
                   check=True)
    alone, traced = run_both([str(host), str(plugin)], tmp_path)
    assert alone.returncode == traced.returncode == -signal.SIGSEGV
    (trace,) = traces(tmp_path)
    assert_valid(trace)
    records = decoded(trace)
    functions = function_names(records)
    (stack,) = by_type(records, "stack")
    assert [functions[f["fn"]]["name"] for f in stack["frames"]] == ["plugin_crash", "deref"]


def test_an_instrumented_program_arms_crash_capture_at_start(tmp_path: Path) -> None:
    """Instrumented, the same program's handler replaces the agent's, installed at start."""
    exe = compile_program(tmp_path, COMPILERS[0], OWN_HANDLER)
    alone, traced = run_both([str(exe)], tmp_path)
    assert alone.stderr.startswith(b"SIGSEGV was default")
    assert traced.stderr.startswith(b"SIGSEGV was handled; alternate stack: set")
    assert traced.returncode == alone.returncode == 42


def test_orion_native_crashes_all_arms_every_program(tmp_path: Path) -> None:
    src = tmp_path / "own.c"
    src.write_text(OWN_HANDLER)
    exe = tmp_path / "own"
    subprocess.run([COMPILERS[0], "-O0", str(src), "-o", str(exe)], check=True)
    env = dict(os.environ, ORION_NATIVE_CRASHES="all")
    traced = subprocess.run([sys.executable, "-m", "orion", "run", "--spool",
                             str(tmp_path / "spool"), "--", str(exe)],
                            capture_output=True, env=env)
    assert traced.stderr.startswith(b"SIGSEGV was handled")


LIBRARY = r"""
static int twice(int x) { return 2 * x; }
int doubled_plus_one(int x) { return twice(x) + 1; }
"""


def test_an_instrumented_library_python_loads_is_traced(tmp_path: Path) -> None:
    """The interpreter is not instrumented, the library it loads with ctypes is: the C
    agent begins at the library's first call, beside the Python agent's own trace."""
    library = tmp_path / "libdoubling.so"
    (tmp_path / "doubling.c").write_text(LIBRARY)
    subprocess.run([COMPILERS[0], "-g", "-O0", "-finstrument-functions", "-shared", "-fPIC",
                    str(tmp_path / "doubling.c"), "-o", str(library)], check=True)
    script = f"import ctypes\nprint(ctypes.CDLL({str(library)!r}).doubled_plus_one(20))\n"
    alone, traced = run_both([sys.executable, "-c", script], tmp_path)
    assert (traced.returncode, traced.stdout, traced.stderr) == \
        (alone.returncode, alone.stdout, alone.stderr) == (0, b"41\n", b"")
    by_language = {}
    for trace in traces(tmp_path):
        assert_valid(trace)
        records = decoded(trace)
        by_language[records[0]["agent"]["language"]] = records
    assert sorted(by_language) == ["c", "python"]
    functions = function_names(by_language["c"])
    calls = [functions[r["fn"]]["name"] for r in by_type(by_language["c"], "call")]
    assert calls == ["doubled_plus_one", "twice"]


SETS_ITSELF_UP = r"""
static int factor;
static int seven(void) { return 7; }
__attribute__((constructor)) static void set_up_library(void) { factor = seven(); }
int scaled(int x) { return x * factor; }
"""

CALLS_LIBRARY = r"""
#include <stdio.h>
int scaled(int);
int main(void) { printf("%d\n", scaled(6)); return 0; }
"""


def test_calls_before_the_agent_starts_do_not_begin_tracing(tmp_path: Path) -> None:
    """An instrumented library's constructor runs before the agent's: its calls are not
    recorded, and tracing begins only once the agent has read its settings (the mode
    here: dev, so the clean run leaves a trace)."""
    compiler = COMPILERS[0]
    (tmp_path / "scaling.c").write_text(SETS_ITSELF_UP)
    subprocess.run([compiler, "-g", "-O0", "-finstrument-functions", "-shared", "-fPIC",
                    str(tmp_path / "scaling.c"), "-o", str(tmp_path / "libscaling.so")],
                   check=True)
    (tmp_path / "main.c").write_text(CALLS_LIBRARY)
    exe = tmp_path / "main"
    subprocess.run([compiler, "-g", "-O0", str(tmp_path / "main.c"), "-o", str(exe),
                    f"-L{tmp_path}", "-lscaling", f"-Wl,-rpath,{tmp_path}"], check=True)
    alone, traced = run_both([str(exe)], tmp_path)
    assert (traced.returncode, traced.stdout) == (alone.returncode, alone.stdout) == (0, b"42\n")
    (trace,) = traces(tmp_path)
    assert_valid(trace)
    records = decoded(trace)
    functions = function_names(records)
    assert [functions[r["fn"]]["name"] for r in by_type(records, "call")] == ["scaled"]
