"""Modules laid out other ways than one go.mod: a go.work workspace (the go command
refuses -modfile there) and a module with a vendor/ directory (built from vendor/ by
default, where the agent is not)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from .conftest import AGENT, BUILD_TIMEOUT, GO, orion, plain_env, requires_go

pytestmark = requires_go

FAILING_TEST = """\
package {package}

import "testing"

func Test{name}(t *testing.T) {{
	if got := {call}; got != 0 {{
		t.Errorf("{call} = %d", got)
	}}
}}
"""


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def failing_tests(spool: Path, module: Path,
                  *go_test: str) -> tuple[subprocess.CompletedProcess, dict]:
    """`orion test` of `go test …` with a JSON summary; the run and its rows by test."""
    summary = spool.parent / f"{spool.name}.json"
    done = orion("test", "--json", "--output", str(summary), "--spool", str(spool), "--",
                 "go", "test", *go_test, cwd=module)
    rows = {row["test"]: row for row in json.loads(summary.read_text())["traces"]}
    return done, rows


def test_a_go_work_workspace_is_instrumented_module_by_module(tmp_path: Path) -> None:
    work = tmp_path / "ws"
    write(work / "go.work", "go 1.21\n\nuse (\n\t./app\n\t./lib\n)\n")
    write(work / "lib" / "go.mod", "module example.com/lib\n\ngo 1.21\n")
    write(work / "lib" / "lib.go", "package lib\n\nfunc Double(n int) int { return 2 * n }\n")
    write(work / "lib" / "lib_test.go",
          FAILING_TEST.format(package="lib", name="Double", call="Double(2)"))
    write(work / "app" / "go.mod", "module example.com/app\n\ngo 1.21\n")
    write(work / "app" / "app.go", 'package app\n\nimport "example.com/lib"\n\n'
          "func Quadruple(n int) int { return lib.Double(lib.Double(n)) }\n")
    write(work / "app" / "app_test.go",
          FAILING_TEST.format(package="app", name="Quadruple", call="Quadruple(1)"))
    done, rows = failing_tests(tmp_path / "spool", work / "app", "./...")
    assert done.returncode == 1, done.stderr
    assert "not instrumented" not in done.stderr
    assert set(rows) == {"TestQuadruple"}
    assert "app_test.go:7: Quadruple(1) = 4" in rows["TestQuadruple"]["exception"]
    shown = orion("show", rows["TestQuadruple"]["path"], cwd=work)
    assert "Quadruple" in shown.stdout and "Double" in shown.stdout  # both modules' calls
    done, rows = failing_tests(tmp_path / "spool2", work, "example.com/app/...",
                               "example.com/lib/...")
    assert done.returncode == 1 and set(rows) == {"TestQuadruple", "TestDouble"}, done.stderr


def test_a_vendored_module_builds_instrumented(tmp_path: Path) -> None:
    module = tmp_path / "vendored"
    write(module / "go.mod", "module example.com/vendored\n\ngo 1.21\n\n"
          "require github.com/klauspost/compress v1.17.11\n")
    (module / "go.sum").write_text((AGENT / "go.sum").read_text())
    write(module / "size.go", 'package vendored\n\nimport "github.com/klauspost/compress/zstd"\n\n'
          "func Size(b []byte) int {\n\tencoder, _ := zstd.NewWriter(nil)\n"
          "\treturn len(encoder.EncodeAll(b, nil))\n}\n")
    write(module / "size_test.go", FAILING_TEST.format(package="vendored", name="Size",
                                                       call="Size([]byte{1})"))
    vendored = subprocess.run([GO, "mod", "vendor"], cwd=module, env=plain_env(),
                              capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    assert vendored.returncode == 0, vendored.stderr
    done, rows = failing_tests(tmp_path / "spool", module, "./...")
    assert done.returncode == 1, done.stderr
    assert set(rows) == {"TestSize"}, done.stdout + done.stderr
    assert "size_test.go:7: Size([]byte{1}) =" in rows["TestSize"]["exception"]
    assert not (module / "vendor" / "github.com" / "orionis-trace").exists()
