"""The Rust agent (agents/rust) held to the format: the sample crate built with the real
cargo, its traces read by `orion validate`, `orion show` and `orion list`, and against the
shapes of spec/vectors/."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from orion.cli import cli as orion_cli
from tests.agents.rust.helpers import build_example, decompressed
from tests.vector_shapes import assert_matches_vectors, assert_plain_zstd_reads_the_header


pytestmark = pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed")


@pytest.fixture(scope="module")
def sample() -> Path:
    """The sample program, built once."""
    return build_example("sample")


def run(sample: Path, spool: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "ORION_SPOOL": str(spool), "RUST_BACKTRACE": "0",
                   "SECRET_TOKEN": "tok-1234567890", **env}
    return subprocess.run([str(sample), *args], env=environment, capture_output=True, text=True,
                          timeout=60)


def only_trace(spool: Path) -> Path:
    traces = list(spool.glob("*.otrace"))
    assert len(traces) == 1, traces
    return traces[0]


def cli(*args: str):
    return CliRunner().invoke(orion_cli, list(args))


def test_a_run_validates_and_holds_to_the_vectors(sample, tmp_path):
    done = run(sample, tmp_path)
    assert done.returncode == 0, done.stderr
    path = only_trace(tmp_path)
    result = cli("validate", str(path))
    assert result.exit_code == 0, result.output
    assert_matches_vectors(path)
    assert_plain_zstd_reads_the_header(path)


def test_call_tree_with_arguments_lanes_and_redaction(sample, tmp_path):
    run(sample, tmp_path)
    path = only_trace(tmp_path)
    shown = cli("show", "--spool", str(tmp_path), str(path))
    assert shown.exit_code == 0, shown.output
    assert "fib(n=6)  → 8" in shown.output
    assert "── worker (thread) ──" in shown.output and "── main (thread) ──" in shown.output
    assert 'login(user="ada", password=<redacted>)' in shown.output
    plain = decompressed(path)
    assert b"hunter2" not in plain and b"tok-1234567890" not in plain
    listed = cli("list", "--spool", str(tmp_path))
    assert path.name.split("-")[1].removesuffix(".otrace") in listed.output


def test_a_panic_several_calls_deep(sample, tmp_path):
    plain = run(sample, tmp_path / "off", "panic", ORION_MODE="off")
    done = run(sample, tmp_path / "on", "panic")
    assert done.returncode == plain.returncode == 101
    thread_ids = re.compile(r"\(\d+\)")  # the main thread's id differs from run to run
    assert thread_ids.sub("", done.stderr) == thread_ids.sub("", plain.stderr)
    assert done.stdout == plain.stdout
    assert not (tmp_path / "off").exists()
    path = only_trace(tmp_path / "on")
    assert cli("validate", str(path)).exit_code == 0
    shown = cli("show", str(path)).output
    assert "status     crashed  (exit code 101)" in shown
    assert "failed at  configure › parse_level" in shown
    assert "panic: level is not a number" in shown
    assert "examples/sample/src/main.rs" in shown


def test_orion_run_reports_the_trace_and_keeps_the_exit_status(sample, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spool = tmp_path / "spool"
    result = CliRunner().invoke(orion_cli, ["--spool", str(spool), "run", "--", str(sample), "panic"])
    assert result.exit_code == 101, result.output
    path = only_trace(spool)
    assert path.name.split("-")[1].removesuffix(".otrace") in result.output
    assert cli("validate", str(path)).exit_code == 0


def test_init_names_the_crate_as_next_step(tmp_path):
    (tmp_path / "Cargo.toml").write_text("[package]\nname = 'x'\n")
    result = cli("init", str(tmp_path))
    assert "orion run -- cargo run" in result.output, result.output
