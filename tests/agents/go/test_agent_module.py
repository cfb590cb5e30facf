"""The agent's own Go test suite, pure Go (CGO_ENABLED=0), and the doctor's Go checks."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from orion.runtimes.go import agent_dir

from .conftest import BUILD_TIMEOUT, GO, by_type, decoded, orion, plain_env, requires_go

pytestmark = requires_go


def test_the_agent_module_passes_its_go_tests_without_cgo() -> None:
    done = subprocess.run([GO, "test", "./..."], cwd=agent_dir(), capture_output=True,
                          text=True, env=plain_env(CGO_ENABLED="0"), timeout=BUILD_TIMEOUT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_agent_module_is_gofmt_clean() -> None:
    done = subprocess.run([str(Path(GO).resolve().with_name("gofmt")), "-l", "."], cwd=agent_dir(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout == "", done.stdout + done.stderr


def test_doctor_checks_the_go_toolchain_and_agent(tmp_path: Path) -> None:
    (tmp_path / "go.mod").write_text("module example.com/x\n\ngo 1.22\n")
    done = orion("doctor", "--json", cwd=tmp_path)
    levels = {check["check"]: check["level"] for check in json.loads(done.stdout)}
    assert levels["toolchain go"] == levels["go agent"] == "ok", done.stdout


def test_a_module_with_an_old_go_line_is_instrumented_with_its_run_time_defaults(
        tmp_path: Path) -> None:
    """The copy of go.mod says the agent's go version (the go command wants no older main
    module) and keeps the old GODEBUG defaults: under go 1.20's, panic(nil) recovers nil."""
    (tmp_path / "go.mod").write_text("module example.com/old\n\ngo 1.20\n")
    (tmp_path / "main.go").write_text(
        'package main\n\nimport "fmt"\n\nfunc nilPanic() {\n\tpanic(nil)\n}\n\n'
        "func main() {\n\tdefer func() { fmt.Println(recover() == nil) }()\n\tnilPanic()\n}\n")
    plain = subprocess.run([GO, "run", "."], cwd=tmp_path, env=plain_env(), capture_output=True,
                           text=True, timeout=BUILD_TIMEOUT)
    assert plain.stdout == "true\n", plain.stderr
    spool = tmp_path / "spool"
    done = orion("run", "--mode", "dev", "--spool", str(spool), "--", "go", "run", ".",
                 cwd=tmp_path)
    assert done.returncode == 0 and done.stdout == plain.stdout, done.stderr
    assert "not instrumented" not in done.stderr
    [trace] = spool.glob("*.otrace")
    names = {r["name"] for r in by_type(decoded(trace), "function")}
    assert {"main", "nilPanic"} <= names
    assert (tmp_path / "go.mod").read_text() == "module example.com/old\n\ngo 1.20\n"


def test_include_instruments_a_dependency(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "go.mod").write_text("module example.com/lib\n\ngo 1.21\n")
    (tmp_path / "lib" / "lib.go").write_text(
        "package lib\n\nfunc Double(n int) int {\n\treturn 2 * n\n}\n")
    app = tmp_path / "app"
    app.mkdir()
    (app / "go.mod").write_text("module example.com/app\n\ngo 1.21\n\n"
                                "require example.com/lib v0.0.0\n\n"
                                "replace example.com/lib => ../lib\n")
    (app / "main.go").write_text('package main\n\nimport "example.com/lib"\n\n'
                                 'func main() { println(lib.Double(21)) }\n')
    names = {}
    for include in ((), ("--include", "example.com/lib")):
        spool = tmp_path / f"spool{len(include)}"
        done = orion("run", "--mode", "dev", "--spool", str(spool), *include, "--", "go", "run",
                     ".", cwd=app)
        assert done.returncode == 0 and "42" in done.stderr, done.stderr
        [trace] = spool.glob("*.otrace")
        names[include] = {r["name"] for r in decoded(trace) if r["type"] == "function"}
    assert names[()] == {"main"}
    assert names[("--include", "example.com/lib")] == {"main", "Double"}


def test_orion_start_says_plainly_that_it_cannot_cover_go(capsys) -> None:
    from orion.runtimes.go import RUNTIME

    assert RUNTIME.switch(True, "error", None, None, None) is None
    assert capsys.readouterr().err == (
        "orion: Go is not covered by `orion start`: a Go binary records only when built "
        "under `orion run -- go build|run|test ...`\n")
    RUNTIME.switch(False, "error", None, None, None)
    assert capsys.readouterr().err == ""
