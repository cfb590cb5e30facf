"""`orion doctor`: checks, a fix for each problem, exit 1 when something is wrong."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from orion.cli import cli


def doctor(*args: str):
    return CliRunner().invoke(cli, ["doctor", *args])


def test_a_healthy_setup_exits_0(spool, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = doctor()
    assert result.exit_code == 0, result.output
    for name in ("agent hook", "spool", "zero-config hook", "pytest plugin", "toolchain python",
                 "toolchain go", "toolchain java", "git hooks"):
        assert f"  {name}: " in result.output
    assert f"spool: {spool.path} is writable" in result.output
    checks = json.loads(doctor("--json").output)
    assert {c["check"] for c in checks} >= {"agent hook", "spool", "toolchain rust"}
    assert all(c["level"] in ("ok", "warn", "fail") for c in checks)


def test_an_unwritable_spool_fails_with_a_fix(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    result = doctor("--spool", str(not_a_dir / "spool"))
    assert result.exit_code == 1
    assert "FAIL  spool:" in result.output
    assert "fix: fix the permissions" in result.output


def test_a_missing_toolchain_fails_only_for_the_project_s_languages(spool, tmp_path,
                                                                     monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert doctor().exit_code == 0  # nothing here needs go
    (tmp_path / "go.mod").write_text("module example.com/x\n")
    result = doctor()
    assert result.exit_code == 1
    assert "FAIL  toolchain go:" in result.output and "fix: install Go" in result.output


def test_reports_installed_git_hooks(spool, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    subprocess.run(["git", "init", "-q", "."], check=True)
    assert "warn  git hooks: none installed" in doctor().output
    CliRunner().invoke(cli, ["hook", "install", "--", sys.executable, "-m", "pytest"])
    assert "ok    git hooks: installed: pre-commit" in doctor().output


def test_says_whether_the_trace_index_is_built_in_c(spool, tmp_path, monkeypatch):
    """Without orion.analysis._index (no compiler at install), big traces open ~10x
    slower: doctor warns and says how to build it."""
    from orion.analysis import trace_index

    monkeypatch.chdir(tmp_path)
    if trace_index._index is not None:
        assert "ok    trace index: built in C" in doctor().output
    without = subprocess.run(
        [sys.executable, "-c", "import runpy, sys; sys.modules['orion.analysis._index'] = None;"
         " sys.argv = ['orion', 'doctor']; runpy.run_module('orion', run_name='__main__')"],
        capture_output=True, text=True, cwd=tmp_path)
    assert "warn  trace index: built in Python" in without.stdout, without.stdout
    assert "pip install --force-reinstall" in without.stdout
