"""`orion watch`: an edit triggers a new run and a summary of what changed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from orion.spool import Spool
from orion.testrun import TraceRow, RunResult
from orion.watching import IgnoreRules, compare, describe

TIMEOUT = 90

VERSION_1 = '''
def price(item):
    return {"apple": 3}[item]

def test_price():
    assert price("pear") == 4

def test_other():
    assert 1 == 2
'''
VERSION_2 = VERSION_1.replace('{"apple": 3}', '{"apple": 3, "pear": 5}')
VERSION_3 = VERSION_2.replace('"pear": 5', '"pear": 4')


def wait_for(path: Path, text: str, proc: subprocess.Popen) -> str:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        content = path.read_text() if path.exists() else ""
        if text in content:
            return content
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not seen; stderr so far:\n{path.read_text()}")


def test_an_edit_runs_again_and_says_what_changed(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    source = project / "test_prices.py"
    source.write_text(VERSION_1)
    (project / ".gitignore").write_text("ignored/\n")
    (project / "ignored").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORION_")}
    env["ORION_SPOOL"] = str(project / ".orion" / "spool")
    log = tmp_path / "watch.err"
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "orion", "watch", "--root", str(project), "--max-runs", "3",
             "--debounce", "0.2", "--", sys.executable, "-m", "pytest", "-q",
             "-p", "no:cacheprovider", str(source)],
            cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=err)
    try:
        wait_for(log, "new failure: test_prices.py::test_other", proc)
        wait_for(log, "new failure: test_prices.py::test_price  KeyError", proc)
        (project / "ignored" / "noise.txt").write_text("ignored by .gitignore")
        time.sleep(1.0)
        assert "run 2" not in log.read_text()
        source.write_text(VERSION_2)
        text = wait_for(log, "still failing: test_prices.py::test_other", proc)
        text = wait_for(log, "orion watch: run 2 after changes to test_prices.py", proc)
        text = wait_for(log, "still failing: test_prices.py::test_price", proc)
        line = next(l for l in text.splitlines() if "still failing: test_prices.py::test_price" in l)
        assert "first divergence:" in line
        source.write_text(VERSION_3)
        text = wait_for(log, "fixed: test_prices.py::test_price", proc)
        assert proc.wait(timeout=TIMEOUT) == 1  # test_other still fails
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


SLOW_TEST = """
import time
from calc import rate

def test_rate():
    open("started", "w").close()  # calc is imported: an edit now is for the next run
    time.sleep(3)
    assert rate() == 2
"""


def test_an_edit_during_a_long_run_is_not_lost(tmp_path):
    """A tracked file saved while the tests run starts the next run."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "calc.py").write_text("def rate():\n    return 1\n")
    (project / "test_calc.py").write_text(SLOW_TEST)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "start"]):
        subprocess.run([*git, *args], cwd=project, check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORION_")}
    env["ORION_SPOOL"] = str(tmp_path / "spool")
    log = tmp_path / "watch.err"
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "orion", "watch", "--max-runs", "2", "--", sys.executable,
             "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_calc.py"],
            cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + TIMEOUT
        while not (project / "started").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        (project / "calc.py").write_text("def rate():\n    return 2\n")
        text = wait_for(log, "orion watch: run 2 after changes to calc.py", proc)
        assert "fixed: test_calc.py::test_rate" in wait_for(log, "fixed:", proc), text
        assert proc.wait(timeout=TIMEOUT) == 0  # the new file "started" was no change
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_ignore_rules_without_git(tmp_path):
    (tmp_path / ".gitignore").write_text("*.log\n/build/\n!keep.log\ndocs/*.tmp\n")
    spool = Spool(tmp_path / "traces")
    rules = IgnoreRules(tmp_path, spool)
    paths = ["a.py", "x.log", "keep.log", "build/out.o", "src/build.py", "docs/a.tmp",
             ".git/index", "pkg/__pycache__/m.pyc", "traces/x.otrace", ".orion/config.toml"]
    assert rules.relevant(str(tmp_path / p) for p in paths) == ["a.py", "keep.log",
                                                                "src/build.py"]


def failure(test: str, trace_id: str = "ab" * 16) -> TraceRow:
    return TraceRow(trace_id, "/nonexistent.otrace", test, "failed", "KeyError: 'x'", None)


def test_compare_new_fixed_and_still_failing():
    first = RunResult(1, [failure("t::a"), failure("t::b")])
    second = RunResult(1, [failure("t::b"), failure("t::c")])
    change = compare(first, second)
    assert [f.test for f in change.new] == ["t::c"]
    assert [f.test for f in change.fixed] == ["t::a"]
    assert [f.test for f in change.still] == ["t::b"]
    lines = describe(change)
    assert any("new failure: t::c" in line for line in lines)
    assert any("fixed: t::a" in line for line in lines)
    same = compare(second, RunResult(1, [failure("t::b"), failure("t::c")]))
    assert "no change since the previous run" in describe(same)[-1]


def test_whole_run_traces_that_pass_are_not_failures():
    ok = TraceRow("cd" * 16, "/nonexistent.otrace", "<module>", "ok", "", None)
    bad = TraceRow("ef" * 16, "/nonexistent.otrace", "<module>", "failed", "E: x", None)
    assert describe(compare(None, RunResult(0, [ok]))) == ["exit status 0"]
    change = compare(RunResult(0, [ok]), RunResult(1, [bad]))
    assert [row.test for row in change.new] == ["<module>"] and not change.fixed
    assert [row.test for row in compare(RunResult(1, [bad]), RunResult(0, [ok])).fixed] == [
        "<module>"]


def test_comparing_runs_shows_its_work_to_a_person():
    """Each pair of traces is diffed: `orion watch` hands compare its progress bar."""
    seen = []

    @contextmanager
    def recording(items, label):
        seen.append((label, len(items)))
        yield iter(items)

    change = compare(RunResult(1, [failure("t::a")]),
                     RunResult(1, [failure("t::a"), failure("t::b")]), recording)
    assert seen == [("comparing with the previous run", 2)]
    assert [row.test for row in change.new] == ["t::b"]
