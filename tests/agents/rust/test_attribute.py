"""`#[orion::trace]` (agents/rust/orion-macros) on functions, an impl block, a trait and a
module: the `traced` example crate built with the real cargo, its traces read back by
`orion validate` and `orion show`, and held to the shapes of spec/vectors/."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from orion.cli import cli as orion_cli
from orion.format.decode import decode_records
from orion.format.reader import TraceReader
from tests.agents.rust.helpers import AGENT, build_example, decompressed
from tests.vector_shapes import assert_matches_vectors, assert_plain_zstd_reads_the_header


pytestmark = pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed")


@pytest.fixture(scope="module")
def traced() -> Path:
    """The example program, built once."""
    return build_example("traced")


def run(program: Path, spool: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "ORION_SPOOL": str(spool), "RUST_BACKTRACE": "0", **env}
    return subprocess.run([str(program), *args], env=environment, capture_output=True,
                          text=True, timeout=60)


def show(path: Path) -> str:
    result = CliRunner().invoke(orion_cli, ["show", str(path)])
    assert result.exit_code == 0, result.output
    return result.output


def only_trace(spool: Path) -> Path:
    traces = list(spool.glob("*.otrace"))
    assert len(traces) == 1, traces
    return traces[0]


def test_calls_arguments_and_return_values(traced, tmp_path):
    done = run(traced, tmp_path)
    assert done.returncode == 0, done.stderr
    path = only_trace(tmp_path)
    assert CliRunner().invoke(orion_cli, ["validate", str(path)]).exit_code == 0
    assert_matches_vectors(path)
    shown = show(path)
    assert "fib(n=5)  → 5" in shown
    assert "fib(n=1)  → 1" in shown  # returned early with `return n`
    # An impl block's methods, `self` included; a type without Debug as its type name.
    assert 'new(owner="ada")  → Account { owner: "ada" }' in shown
    assert 'login(self=Account { owner: "ada" }, password=<redacted>)  → true' in shown
    assert "wrap(self=Account { owner: \"ada\" }, opaque=traced::Opaque)  → traced::Opaque" in shown
    assert "generic(value=traced::Opaque)  → traced::Opaque" in shown  # no Debug bound on T
    assert 'describe(self=Account { owner: "ada" })' in shown  # a trait's default method
    assert "evens(limit=7)" in shown  # an `impl Iterator` return type
    # Closures are calls of their own, named after their function; an argument is captured
    # only when the closure names its type (inferred types are left to the compiler).
    assert "evens::{closure}()" in shown  # called after evens returned, by count()
    assert 'closures(words=["tree", "sky", "river"])  → 12' in shown
    assert 'closures::{closure}(word="river")' in shown
    assert "closures::{closure}::{closure}()" in shown
    assert "closure_forms::{closure}(v=[3, 2, 1])" in shown
    assert "twice(value=9, f=traced::forms::closure_forms::{{closure}})  → 36" in shown
    assert "└─ adder::{closure}()" in shown  # a closure returned, called by main
    assert "── worker (thread) ──" in shown and "└─ fib(n=4)  → 3" in shown
    assert b"hunter2" not in path.read_bytes()


def test_the_attribute_adds_no_warnings(traced):
    """Every form of examples/traced (closures included) compiles without a warning:
    cargo replays the warnings of the cached build."""
    env = {k: v for k, v in os.environ.items() if k not in ("CARGO_TARGET_DIR", "RUSTC_WRAPPER")}
    built = subprocess.run(["cargo", "build", "--offline", "-p", "traced"], cwd=AGENT, env=env,
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0 and "warning" not in built.stderr, built.stderr


def test_a_panic_through_a_traced_module(traced, tmp_path):
    plain = run(traced, tmp_path / "off", "panic", ORION_MODE="off")
    done = run(traced, tmp_path / "on", "panic")
    assert done.returncode == plain.returncode == 101
    thread_ids = re.compile(r"\(\d+\)")  # the main thread's id differs from run to run
    assert thread_ids.sub("", done.stderr) == thread_ids.sub("", plain.stderr)
    # The body keeps its spans: the panic's location is the line in the source.
    line = next(n for n, text in enumerate((AGENT / "examples/traced/src/main.rs").read_text()
                                           .splitlines(), 1) if "level is not a number" in text)
    assert f"examples/traced/src/main.rs:{line}:" in done.stderr
    path = only_trace(tmp_path / "on")
    assert CliRunner().invoke(orion_cli, ["validate", str(path)]).exit_code == 0
    shown = show(path)
    assert "failed at  configure › parse_level" in shown
    assert f"configure › parse_level:{line}" in shown
    assert 'parse_level(text="high")' in shown and "✗ panic" in shown


def test_safe_mode_records_calls_without_values(traced, tmp_path):
    run(traced, tmp_path, ORION_MODE="safe")
    shown = show(only_trace(tmp_path))
    assert "fib()" in shown and "→" not in shown


def test_error_mode_writes_its_ring_only_on_a_panic(traced, tmp_path):
    quiet = run(traced, tmp_path / "quiet", "busy", ORION_MODE="error")
    assert quiet.returncode == 0 and not (tmp_path / "quiet").exists()
    failed = run(traced, tmp_path / "failed", "busy", "panic", ORION_MODE="error")
    assert failed.returncode == 101
    path = only_trace(tmp_path / "failed")
    assert CliRunner().invoke(orion_cli, ["validate", str(path)]).exit_code == 0
    assert_matches_vectors(path)
    shown = show(path)
    # fib(24) made more events than the ring holds: the file says its window is a ring.
    assert "mode error  · ring window" in shown
    assert "failed at  configure › parse_level" in shown
    assert len(path.read_bytes()) < 2 * 1024 * 1024


def event_times(path: Path) -> list[tuple[str, int]]:
    with TraceReader(path) as reader:
        return [(r["type"], r["t"]) for r in decode_records(reader.records()) if "t" in r]


def lane_records(path: Path) -> tuple[list[dict], dict[str, list[dict]]]:
    """The trace's timed records in file order, and each lane's (by name)."""
    with TraceReader(path) as reader:
        records = list(decode_records(reader.records()))
    names = {r["id"]: r["name"] for r in records if r["type"] == "lane"}
    functions = {r["id"]: r["name"] for r in records if r["type"] == "function"}
    timed = [dict(r, fn=functions.get(r.get("fn"))) for r in records if "t" in r]
    lanes: dict[str, list[dict]] = {}
    for r in timed:
        lanes.setdefault(names[r["lane"]], []).append(r)
    return timed, lanes


def test_error_mode_writes_every_threads_calls_in_time_order(traced, tmp_path):
    """Each thread records into a buffer of its own: the panic's trace holds the calls of a
    thread that ended before it and of one still inside a call, merged in time order."""
    failed = run(traced, tmp_path, "threads", "panic", ORION_MODE="error")
    assert failed.returncode == 101, failed.stderr
    path = only_trace(tmp_path)
    assert CliRunner().invoke(orion_cli, ["validate", str(path)]).exit_code == 0
    assert_matches_vectors(path)
    timed, lanes = lane_records(path)
    times = [r["t"] for r in timed]
    assert times == sorted(times), "the threads' records are not merged in time order"
    finished = [r["fn"] for r in lanes["finished"] if r["type"] == "call"]
    assert finished == ["fib"] * 25  # fib(6), every call
    waiting = [(r["type"], r["fn"]) for r in lanes["waiting"]]
    assert waiting[0] == ("call", "wait") and waiting.count(("call", "fib")) == 5
    assert sum(r["type"] == "return" for r in lanes["waiting"]) == 5  # wait() still runs
    assert "wait()  … still running" in show(path)


def test_a_burst_on_one_thread_keeps_another_threads_latest_calls(traced, tmp_path):
    """fib(24) on the main thread makes more records than the ring keeps, and older ones
    are dropped (the header says so); the waiting thread's calls, made before the burst,
    are still in its own buffer and in the file."""
    run(traced, tmp_path, "threads", "busy", "panic", ORION_MODE="error")
    path = only_trace(tmp_path)
    assert CliRunner().invoke(orion_cli, ["validate", str(path)]).exit_code == 0
    assert "mode error  · ring window" in show(path)
    _, lanes = lane_records(path)
    assert "waiting" in lanes, "the burst pushed the waiting thread's calls out"
    waiting = [(r["type"], r["fn"]) for r in lanes["waiting"]]
    assert waiting[0] == ("call", "wait") and waiting.count(("call", "fib")) == 5


def test_error_mode_reads_the_clock_at_every_eighth_call_or_return(traced, tmp_path):
    """The ring's calls and returns take the last time read, 7 of 8 times; the panic reads
    the clock itself (after the last call's time)."""
    run(traced, tmp_path / "error", "busy", "panic", ORION_MODE="error")
    times = event_times(only_trace(tmp_path / "error"))
    calls = [t for kind, t in times if kind in ("call", "return")]
    assert len(calls) > 10_000
    assert len(set(calls)) <= len(calls) // 8 + 64  # a new time at most every 8th event
    assert times == sorted(times, key=lambda kind_t: kind_t[1]), "times go backwards"
    [panic_t] = [t for kind, t in times if kind == "exception"]
    assert panic_t > max(calls[:-1])
    # dev mode keeps a time per event (fib's calls are far apart from each other: > 1 ns).
    run(traced, tmp_path / "dev", "busy", ORION_MODE="dev")
    dev_calls = [t for kind, t in event_times(only_trace(tmp_path / "dev"))
                 if kind in ("call", "return")]
    assert len(set(dev_calls)) > len(dev_calls) // 2


def test_frames_are_compressed(traced, tmp_path):
    run(traced, tmp_path, "busy")
    path = only_trace(tmp_path)
    assert_plain_zstd_reads_the_header(path)
    assert CliRunner().invoke(orion_cli, ["validate", str(path)]).exit_code == 0
    # zstd at level 3: a call-dense trace shrinks several times over.
    assert path.stat().st_size * 3 < len(decompressed(path))
