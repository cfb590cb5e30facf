"""Crash signals in a Rust program traced zero-code (`orion run -- cargo run`): a null
pointer written through in `unsafe` code (SIGSEGV) and `std::process::abort()` (SIGABRT)
leave a trace that ends `crashed` with the signal's crash record and the crashing thread's
stack of traced calls; the process still dies of its own signal."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.trace_records import by_type, decoded

pytestmark = pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed")

CRASHING_PROGRAM = """\
use std::hint::black_box;

fn write_through(pointer: *mut u64, value: u64) {
    // SAFETY: none: the pointer is null on purpose.
    unsafe { std::ptr::write_volatile(pointer, value) }
}

fn store(value: u64) {
    write_through(black_box(std::ptr::null_mut()), value);
}

fn give_up() {
    std::process::abort();
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("segv") => store(7),
        Some("abort") => give_up(),
        _ => {}
    }
}
"""


@pytest.fixture(scope="module")
def crate(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("crashing")
    (root / "Cargo.toml").write_text('[package]\nname = "crashing"\nversion = "0.1.0"\n'
                                     'edition = "2021"\n')
    (root / "src").mkdir()
    (root / "src" / "main.rs").write_text(CRASHING_PROGRAM)
    return root


def crash(crate: Path, spool: Path, how: str) -> tuple[int, list[dict]]:
    """The exit status of `orion run -- cargo run -- HOW` and the Rust trace's records."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ORION_") and k not in ("RUSTC_WRAPPER", "CARGO_TARGET_DIR")}
    done = subprocess.run([sys.executable, "-m", "orion", "run", "--spool", str(spool), "--",
                           "cargo", "run", "-q", "--offline", "--", how], cwd=crate, env=env,
                          capture_output=True, text=True, timeout=900)
    rust = [records for records in map(decoded, spool.glob("*.otrace"))
            if records[0]["agent"]["language"] == "rust"]
    assert len(rust) == 1, done.stderr
    return done.returncode, rust[0]


def stack_names(records: list[dict]) -> list[str]:
    names = {f["id"]: f["name"] for f in by_type(records, "function")}
    [stack] = by_type(records, "stack")
    assert stack["reason"] == "signal"
    return [names[frame["fn"]] for frame in stack["frames"]]


def test_a_segfault_in_unsafe_code_leaves_a_crashed_trace(crate, tmp_path):
    status, records = crash(crate, tmp_path / "spool", "segv")
    assert status == -signal.SIGSEGV
    [record] = by_type(records, "crash")
    assert (record["kind"], record["reason"]) == ("signal", "SIGSEGV")
    assert record["detail"] == {"signal": signal.SIGSEGV, "address": 0}
    assert stack_names(records) == ["main", "store", "write_through"]
    [end] = by_type(records, "end")
    assert end["status"] == "crashed"
    assert end["exit_code"] == 128 + signal.SIGSEGV
    assert end["exception"] == {"type": "SIGSEGV", "message": "killed by SIGSEGV at 0x0",
                                "kind": "signal"}


def test_an_abort_leaves_a_crashed_trace(crate, tmp_path):
    status, records = crash(crate, tmp_path / "spool", "abort")
    assert status == -signal.SIGABRT
    [record] = by_type(records, "crash")
    assert (record["kind"], record["reason"], record["message"]) == (
        "signal", "SIGABRT", "killed by SIGABRT")
    assert stack_names(records) == ["main", "give_up"]
    [end] = by_type(records, "end")
    assert (end["status"], end["exit_code"]) == ("crashed", 128 + signal.SIGABRT)
