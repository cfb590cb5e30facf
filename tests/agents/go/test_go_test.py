"""`orion test -- go test ./...`: one trace per failing test, named as `go test -json`
names the test, with its failure output or its panic; the exit status is go test's."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ...vector_shapes import assert_matches_vectors
from .conftest import (BUILD_TIMEOUT, GO, SAMPLE, by_type, decoded, line_of, orion, plain_env,
                       requires_go)

pytestmark = requires_go


def test_each_failing_test_gets_a_trace(tmp_path: Path) -> None:
    module = tmp_path / "sample"
    shutil.copytree(SAMPLE, module)
    plain = subprocess.run([GO, "test", "-json", "./..."], cwd=module, env=plain_env(),
                           capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    failed_by_go = {event["Test"] for event in map(json.loads, plain.stdout.splitlines())
                    if event.get("Action") == "fail" and event.get("Test")}
    assert failed_by_go == {"TestAverageFails", "TestDividePanics"}
    spool = tmp_path / "spool"
    done = orion("test", "--json", "--output", str(tmp_path / "summary.json"),
                 "--spool", str(spool), "--", "go", "test", "./...", cwd=module)
    assert done.returncode == plain.returncode == 1
    assert "--- FAIL: TestAverageFails" in done.stdout
    summary = json.loads((tmp_path / "summary.json").read_text())
    rows = {row["test"]: row for row in summary["traces"]}
    assert set(rows) == failed_by_go
    assert rows["TestAverageFails"]["outcome"] == "failed"
    assert "main_test.go:14: average = 1, want 2" in rows["TestAverageFails"]["exception"]
    assert rows["TestDividePanics"]["exception"] == (
        "runtime.errorString: runtime error: integer divide by zero")
    for row in rows.values():
        assert orion("validate", row["path"], cwd=tmp_path).returncode == 0
        assert_matches_vectors(Path(row["path"]))
    records = decoded(Path(rows["TestDividePanics"]["path"]))
    [stack] = by_type(records, "stack")
    fns = {f["id"]: f["name"] for f in by_type(records, "function")}
    assert [(fns[f["fn"]], f["line"]) for f in stack["frames"]][-2:] == [
        ("TestDividePanics", line_of("divide(1, 0)", "main_test.go")),
        ("divide", line_of("return a / b"))]
    records = decoded(Path(rows["TestAverageFails"]["path"]))
    assert records[0]["name"] == "TestAverageFails"
    calls = [fns_name for fns_name in (
        {f["id"]: f["name"] for f in by_type(records, "function")}[c["fn"]]
        for c in by_type(records, "call"))]
    assert calls[:3] == ["TestAverageFails", "average", "divide"]


def test_a_cached_result_never_stands_for_an_instrumented_run_or_another_mode(
        tmp_path: Path) -> None:
    """go test answers "(cached)" for a package whose test binary, arguments and the
    environment variables the tests read are unchanged: the overlay makes the instrumented
    binary another one, and the agent reads its mode while the tests run, so that a
    `--mode dev` run after an `error` run runs the tests and writes their traces."""
    module = tmp_path / "sample"
    shutil.copytree(SAMPLE, module)
    only_passing = ("go", "test", "-run", "TestAveragePasses", ".")
    plain = subprocess.run(list(only_passing), cwd=module, env=plain_env(),
                           capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    assert plain.returncode == 0 and "(cached)" not in plain.stdout, plain.stdout
    spool = tmp_path / "spool"
    error_mode = orion("test", "--spool", str(spool), "--", *only_passing, cwd=module)
    assert error_mode.returncode == 0 and "(cached)" not in error_mode.stdout, error_mode.stdout
    assert not list(spool.glob("*.otrace"))  # a passing test in error mode writes nothing
    dev_mode = orion("test", "--mode", "dev", "--spool", str(spool), "--", *only_passing,
                     cwd=module)
    assert dev_mode.returncode == 0 and "(cached)" not in dev_mode.stdout, dev_mode.stdout
    [trace] = spool.glob("*.otrace")
    assert by_type(decoded(trace), "end")[0]["test"]["id"] == "TestAveragePasses"


@pytest.mark.parametrize("command", [("run", "vet", "."),
                                     ("test", "test", "-run", "TestAveragePasses", ".")])
def test_vet_names_the_users_files_as_without_orion(tmp_path: Path, command: tuple) -> None:
    """`go vet`, and the checks `go test` runs first, are given the user's files back (the
    instrumenting tool is the build's -toolexec): their messages are a plain run's, naming
    the user's file rather than the overlay's copy in the cache."""
    module = tmp_path / "sample"
    shutil.copytree(SAMPLE, module)
    with (module / "main.go").open("a") as source:
        source.write('\nfunc misprinted() {\n\tfmt.Printf("%d\\n", "not a number")\n}\n')
    orion_command, *go_command = command
    plain = subprocess.run([GO, *go_command], cwd=module, env=plain_env(), capture_output=True,
                           text=True, timeout=BUILD_TIMEOUT)
    done = orion(orion_command, "--spool", str(tmp_path / "spool"), "--", "go", *go_command,
                 cwd=module)
    assert plain.returncode == done.returncode == 1
    assert messages(plain) and all("fmt.Printf format %d" in m for m in messages(plain))
    assert messages(done) == messages(plain)


def messages(run: subprocess.CompletedProcess) -> list[str]:
    """The lines of a go command's output that name the sample's main.go."""
    return [line for line in (run.stdout + run.stderr).splitlines() if "main.go:" in line]


def test_compile_errors_name_the_users_files(tmp_path: Path) -> None:
    """The compiler is given the overlay's copies; its errors name the user's file, as a
    plain build's do."""
    module = tmp_path / "sample"
    shutil.copytree(SAMPLE, module)
    with (module / "main.go").open("a") as source:
        source.write('\nfunc broken() int {\n\treturn "x"\n}\n')
    build = ("build", "-o", str(tmp_path / "prog"), ".")
    plain = subprocess.run([GO, *build], cwd=module, env=plain_env(), capture_output=True,
                           text=True, timeout=BUILD_TIMEOUT)
    done = orion("run", "--spool", str(tmp_path / "spool"), "--", "go", *build, cwd=module)
    assert plain.returncode == done.returncode == 1
    assert messages(plain) and messages(done) == messages(plain)


def test_a_toolexec_of_the_users_own_still_runs_the_tools(tmp_path: Path) -> None:
    """A -toolexec already in GOFLAGS is the user's: orion leaves it in charge (theirs
    wraps the tools; vet then reads the overlay's copies) and the build is still
    instrumented."""
    module = tmp_path / "sample"
    shutil.copytree(SAMPLE, module)
    log = tmp_path / "tools.log"
    wrapper = tmp_path / "wrap.sh"
    wrapper.write_text(f'#!/bin/sh\necho "$1" >> {log}\nexec "$@"\n')
    wrapper.chmod(0o755)
    env = plain_env(GOFLAGS=f"-toolexec={wrapper}")
    spool = tmp_path / "spool"
    done = orion("run", "--mode", "dev", "--spool", str(spool), "--", "go", "run", ".",
                 cwd=module, env=env)
    assert done.returncode == 0, done.stderr
    assert "/compile" in log.read_text()
    assert len(list(spool.glob("*.otrace"))) == 1


@pytest.mark.parametrize("verbose", ["-v", "-json"])
def test_verbose_go_test_keeps_the_failing_tests_own_output(tmp_path: Path,
                                                            verbose: str) -> None:
    """With -v (and -json, which runs the tests verbose) the testing package prints what a
    test logs at once instead of keeping it: the trace still has it, and go test's output
    is unchanged."""
    module = tmp_path / "sample"
    shutil.copytree(SAMPLE, module)
    summary = tmp_path / "summary.json"
    done = orion("test", "--json", "--output", str(summary), "--spool", str(tmp_path / "spool"),
                 "--", "go", "test", verbose, "-run", "TestAverage", "./...", cwd=module)
    assert done.returncode == 1, done.stderr
    assert done.stdout.count("main_test.go:14: average = 1, want 2") == 1
    [row] = json.loads(summary.read_text())["traces"]
    assert row["test"] == "TestAverageFails"
    assert row["exception"] == "test failed: main_test.go:14: average = 1, want 2"


def test_skipped_and_fatal_tests_are_not_taken_for_panics(tmp_path: Path) -> None:
    """t.Skip and t.Fatal end a test through runtime.Goexit, which runs the deferred calls
    as a panic would, without a panic value."""
    (tmp_path / "go.mod").write_text("module example.com/goexit\n\ngo 1.21\n")
    (tmp_path / "x_test.go").write_text(
        'package x\n\nimport "testing"\n\n'
        'func TestSkipped(t *testing.T) {\n\tt.Skip("not here")\n}\n\n'
        'func TestFatal(t *testing.T) {\n\tt.Fatal("stopped")\n}\n')
    summary = tmp_path / "summary.json"
    done = orion("test", "--json", "--output", str(summary), "--spool", str(tmp_path / "spool"),
                 "--", "go", "test", "./...", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    [row] = json.loads(summary.read_text())["traces"]
    assert (row["test"], row["exception"]) == ("TestFatal", "test failed: x_test.go:10: stopped")
