"""`python -m pkg` whose __main__ is not traced (`python -m unittest`, `-m pip`) exits
through a SystemExit raised in untraced code: the C hook wraps runpy's
_run_module_as_main (in C: no traceback line) to learn the exit status; the pure-Python
hook does not wrap it (a Python wrapper would add a line to every traceback)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from orion.format.summary import read_summary

from .agent_helpers import HOOKS, clean_env, python, run, traces

needs_c = pytest.mark.skipif("c" not in HOOKS, reason="the C hook is not built")

ORION = [sys.executable, "-m", "orion"]


def program_stderr(text: str) -> str:
    """stderr without orion's own lines, and without unittest's timing."""
    lines = [line for line in text.splitlines(keepends=True) if not line.startswith("orion:")]
    return re.sub(r"Ran (\d+) tests? in [0-9.]+s", r"Ran \1 tests in Ns", "".join(lines))


@needs_c
def test_python_m_unittest_failing_keeps_its_exit_status(tmp_path):
    (tmp_path / "test_mod.py").write_text(
        "import unittest\n\n"
        "def total(items):\n    return sum(items)\n\n"
        "class TestTotal(unittest.TestCase):\n"
        "    def test_total(self):\n        self.assertEqual(total([1, 2]), 4)\n")
    spool = tmp_path / "spool"
    command = [python(), "-m", "unittest", "test_mod"]
    plain = run(command, cwd=tmp_path)
    traced = run([*ORION, "run", "--mode", "dev", "--spool", str(spool), "--", *command],
                 cwd=tmp_path, env=clean_env(ORION_HOOK="c"))
    assert plain.returncode == traced.returncode == 1, traced.stderr
    assert "FAILED (failures=1)" in plain.stderr
    assert program_stderr(traced.stderr) == program_stderr(plain.stderr)
    (path,) = traces(spool)
    summary = read_summary(path)
    assert summary["status"] == "failed" and summary["exit_code"] == 1


@pytest.mark.parametrize("hook", HOOKS)
@pytest.mark.parametrize("traced_module", [True, False])
def test_python_m_uncaught_exception_prints_the_same_traceback(tmp_path, hook, traced_module):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text(
        "def parse(text):\n    return int(text)\n\n"
        "print('parsing')\nparse('x1')\n")
    spool = tmp_path / "spool"
    command = [python(), "-m", "pkg"]
    plain = run(command, cwd=tmp_path)
    env = clean_env(ORION_HOOK=hook, **({} if traced_module else {"ORION_EXCLUDE": "pkg"}))
    traced = run([*ORION, "run", "--mode", "dev", "--spool", str(spool), "--", *command],
                 cwd=tmp_path, env=env)
    assert plain.returncode == traced.returncode == 1
    assert 'File "<frozen runpy>"' in plain.stderr and "ValueError" in plain.stderr
    assert traced.stdout == plain.stdout == "parsing\n"
    assert program_stderr(traced.stderr) == program_stderr(plain.stderr)
    (path,) = traces(spool)
    summary = read_summary(path)
    assert summary["status"] == "failed" and summary["exit_code"] == 1


def test_an_unhandled_keyboard_interrupt_still_ends_by_sigint(tmp_path):
    """CPython ends such a program by SIGINT; closing the trace at exit (which imports
    modules) made it forget that and exit with status 1."""
    import signal

    program = tmp_path / "interrupted.py"
    program.write_text("raise KeyboardInterrupt\n")
    plain = subprocess.run([sys.executable, str(program)], capture_output=True)
    for mode in ("dev", "safe", "error"):
        traced = subprocess.run([sys.executable, "-m", "orion.agent", "--mode", mode,
                                 "--sample", "off", "--spool", str(tmp_path / "spool"),
                                 str(program)], capture_output=True)
        assert traced.returncode == plain.returncode == -signal.SIGINT, mode
