"""Zero-code Rust: `orion run -- cargo run` on a crate that knows nothing of Orionis
(tests/agents/rust/plain_crate), built through the agent's RUSTC_WRAPPER with the real cargo,
exactly as a user runs it. The crate's files stay as they were, its target/ is not made."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from tests.agents.rust.helpers import decompressed
from tests.vector_shapes import assert_matches_vectors

PLAIN_CRATE = Path(__file__).resolve().parent / "plain_crate"
TIMEOUT = 900  # the first use builds the agent (syn, the runtime) in release

pytestmark = pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed")


def plain_env(**extra: str) -> dict[str, str]:
    """The environment without anything of orion's or cargo's redirections."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ORION_") and k not in ("RUSTC_WRAPPER", "CARGO_TARGET_DIR")}
    env.update({"RUST_BACKTRACE": "0", "SECRET_TOKEN": "tok-1234567890", **extra})
    return env


def orion(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "orion", *args], cwd=cwd, capture_output=True,
                          text=True, env=plain_env(**env), timeout=TIMEOUT)


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def line_of(text: str, source: str) -> int:
    lines = (PLAIN_CRATE / source).read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if text in line)


def program_stderr(stderr: str) -> str:
    """What the program wrote on stderr: without orion's own lines and the thread id
    that differs from run to run."""
    kept = [line for line in stderr.splitlines() if not line.startswith("orion:")]
    return re.sub(r"\(\d+\)", "", "\n".join(kept))


@pytest.fixture(scope="module")
def crate(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("user") / "plain"
    shutil.copytree(PLAIN_CRATE, root)
    return root


def traces(spool: Path) -> list[Path]:
    return sorted(spool.glob("*.otrace"))


def show(path: Path, cwd: Path) -> str:
    shown = orion("show", str(path), cwd=cwd)
    assert shown.returncode == 0, shown.stderr
    return shown.stdout


def test_orion_run_cargo_run_traces_the_unmodified_crate(crate, tmp_path):
    before = snapshot(crate)
    plain = subprocess.run(["cargo", "run", "-q", "--offline", "--", "x"], cwd=crate,
                           capture_output=True, text=True, timeout=TIMEOUT,
                           env=plain_env(CARGO_TARGET_DIR=str(tmp_path / "plain-target")))
    spool = tmp_path / "spool"
    done = orion("run", "--spool", str(spool), "--", "cargo", "run", "-q", "--offline", "--", "x",
                 cwd=crate)
    assert done.returncode == plain.returncode == 101, done.stderr
    assert done.stdout == plain.stdout
    assert program_stderr(done.stderr) == program_stderr(plain.stderr)
    assert snapshot(crate) == before and not (crate / "target").exists()

    [path] = traces(spool)
    assert orion("validate", str(path), cwd=crate).returncode == 0
    assert_matches_vectors(path)
    shown = show(path, crate)
    assert "status     crashed  (exit code 101)" in shown
    assert "failed at  main › configure › parse_level" in shown
    assert f"configure › parse_level:{line_of('expect(', 'src/config.rs')}" in shown
    assert f"src/config.rs:{line_of('fn parse_level', 'src/config.rs')}  parse_level" in shown
    assert "fib(n=6)  → 8" in shown and "fib(n=1)  → 1" in shown
    assert 'login(user="ada", password=<redacted>)  → true' in shown
    assert "bump(self=&mut plain::Counter, by=2)  → 2" in shown
    # Functions a macro_rules! macro writes, and the closures of an iterator chain.
    assert "double(value=6)  → 12" in shown and "triple(value=2)  → 6" in shown
    assert "even_squares(limit=4)  → 20" in shown
    assert "even_squares::{closure}()" in shown
    assert "── worker (thread) ──" in shown and "└─ fib(n=5)  → 5" in shown
    assert b"hunter2" not in decompressed(path) and b"tok-1234567890" not in decompressed(path)


def test_an_ordinary_build_afterwards_is_not_instrumented(crate, tmp_path):
    """The instrumented artifacts live in orion's cache: a plain `cargo run` after an
    `orion run` builds and runs the crate as it is, writing no trace."""
    spool = tmp_path / "spool"
    orion("run", "--spool", str(spool), "--", "cargo", "build", "-q", "--offline", cwd=crate)
    done = subprocess.run(["cargo", "run", "-q", "--offline", "--", "2"], cwd=crate,
                          capture_output=True, text=True, timeout=TIMEOUT,
                          env=plain_env(CARGO_TARGET_DIR=str(tmp_path / "target"),
                                        ORION_SPOOL=str(tmp_path / "after")))
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "after").exists()


def test_orion_test_cargo_test_writes_a_trace_per_failing_test(crate, tmp_path):
    before = snapshot(crate)
    spool = tmp_path / "spool"
    cargo_test = ["cargo", "test", "-q", "--offline", "--", "--test-threads=1"]  # one order
    plain = subprocess.run(cargo_test, cwd=crate, capture_output=True, text=True, timeout=TIMEOUT,
                           env=plain_env(CARGO_TARGET_DIR=str(tmp_path / "plain-target")))
    done = orion("test", "--spool", str(spool), "--", *cargo_test, cwd=crate)
    assert done.returncode == plain.returncode == 101, done.stderr
    # libtest's report, the failures' messages included, as without orion (but for times
    # and thread ids).
    varying = re.compile(r"finished in [\d.]+s|\(\d+\)")
    assert varying.sub("", done.stdout) == varying.sub("", plain.stdout)
    assert snapshot(crate) == before and not (crate / "target").exists()

    summaries = {}
    for path in traces(spool):
        assert orion("validate", str(path), cwd=crate).returncode == 0
        assert_matches_vectors(path)
        summary = json.loads(orion("show", "--json", str(path), cwd=crate).stdout)["summary"]
        summaries[summary["test"]["id"]] = (path, summary)
    # The failing tests only: not the passing ones, not the one that expects its panic.
    assert sorted(summaries) == ["tests::doubles_three", "tests::fib_is_wrong",
                                 "tests::level_named_high"]
    table = done.stderr.split("error: test failed")[-1]
    assert re.search(r"tests::fib_is_wrong\s+failed\s+panic: assertion `left == right` failed",
                     table), table
    assert re.search(r"tests::level_named_high\s+failed\s+panic: level is not a number", table)

    path, summary = summaries["tests::fib_is_wrong"]
    assert summary["status"] == "failed" and summary["test"]["outcome"] == "failed"
    assert "left: 8" in summary["exception"]["message"]
    assert "right: 9" in summary["exception"]["message"]
    shown = show(path, crate)
    assert "fib_is_wrong()  " in shown and "fib()" in shown  # error mode: calls, no values
    assert f"fib_is_wrong:{line_of('fib(6), 9', 'src/lib.rs')}" in shown

    # A test that a macro_rules! macro writes, failing in a function the same macro writes.
    path, summary = summaries["tests::doubles_three"]
    assert "left: 6" in summary["exception"]["message"]
    shown = show(path, crate)
    assert "doubles_three()" in shown and "double()" in shown

    path, _ = summaries["tests::level_named_high"]
    shown = show(path, crate)
    assert "failed at  level_named_high › configure › parse_level" in shown
    assert f"parse_level:{line_of('expect(', 'src/config.rs')}" in shown


def test_a_panic_abort_build_keeps_the_panic(crate, tmp_path):
    spool = tmp_path / "spool"
    done = orion("run", "--spool", str(spool), "--", "cargo", "run", "-q", "--offline", "--", "x",
                 cwd=crate, CARGO_PROFILE_DEV_PANIC="abort")
    assert done.returncode == -signal.SIGABRT, done.stderr  # orion run dies of it too
    assert "panicked at src/config.rs" in done.stderr
    rust = []
    for path in traces(spool):  # the native agent may add a trace of the abort signal
        summary = json.loads(orion("show", "--json", str(path), cwd=crate).stdout)["summary"]
        if summary["language"] == "rust":
            rust.append((path, summary))
    [(path, summary)] = rust
    assert orion("validate", str(path), cwd=crate).returncode == 0
    # The panic's message stays the trace's exception; the abort that follows ends it.
    assert (summary["status"], summary["exit_code"]) == ("crashed", 128 + signal.SIGABRT)
    assert summary["exception"]["message"].startswith("level is not a number")


def test_doctests_build_under_orion_test(tmp_path):
    """rustdoc compiles doctests without cargo's RUSTC_WRAPPER, against the instrumented
    library: it is told where the runtime that library links is (every doctest of a crate
    failed with `can't find crate for orion` before)."""
    (tmp_path / "Cargo.toml").write_text('[package]\nname = "documented"\nversion = "0.1.0"\n'
                                         'edition = "2021"\n')
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "lib.rs").write_text(
        "/// ```\n/// assert_eq!(documented::double(2), 4);\n/// ```\n"
        "pub fn double(n: u32) -> u32 {\n    n * 2\n}\n")
    done = orion("test", "--spool", str(tmp_path / "spool"), "--", "cargo", "test", "-q",
                 "--offline", "--doc", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
