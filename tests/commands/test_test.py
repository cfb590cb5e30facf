"""`orion test` (and `orion run`): one trace per failing test, the summary, exit statuses and
stdout passed through byte for byte."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from orion.format.summary import read_summary
from orion.spool import Spool

TESTS = '''
def helper(key):
    return {"a": 1}[key]

def test_ok():
    assert helper("a") == 1

def test_key():
    print("output of test_key")
    assert helper("b") == 1
'''

PROGRAM = r'''
import sys
sys.stdout.buffer.write(b"line\r\nno newline \xff\x00 bytes")
sys.stdout.flush()
print("\ntext", flush=True)
sys.exit(int(sys.argv[1]))
'''


KILLED = r'''
import os, subprocess, sys
subprocess.run([sys.executable, "-c", "pass"], check=True)  # a traced child that ends well

def main():
    os.kill(os.getpid(), 9)  # as the OOM killer would

main()
'''


def env_for(spool) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORION_")}
    env["ORION_SPOOL"] = str(spool)
    return env


def orion(*args, cwd, spool, input: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "orion", *args], cwd=cwd, env=env_for(spool),
                          capture_output=True, timeout=90, input=input)


@pytest.fixture
def project(tmp_path):
    (tmp_path / "test_sample.py").write_text(TESTS)
    (tmp_path / "prog.py").write_text(PROGRAM)
    (tmp_path / "killed.py").write_text(KILLED)
    return tmp_path


def test_a_trace_per_failing_test_and_the_summary(project):
    spool = project / "spool"
    result = orion("test", "--", sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                   "test_sample.py", cwd=project, spool=spool)
    assert result.returncode == 1
    stderr = result.stderr.decode()
    assert "test_sample.py::test_key" in stderr and "KeyError" in stderr
    assert "test_ok" not in stderr
    entries = Spool(spool).entries()
    assert len(entries) == 1
    assert entries[0].trace_id[:12] in stderr
    assert b"output of test_key" in result.stdout


def test_dev_mode_traces_the_whole_run_with_pytests_status(project):
    spool = project / "spool"
    result = orion("test", "--mode", "dev", "--", sys.executable, "-m", "pytest", "-q",
                   "-p", "no:cacheprovider", "test_sample.py", cwd=project, spool=spool)
    assert result.returncode == 1
    # the whole run, and the failing test's own trace (tests/agent/test_failing_tests_every_mode)
    [entry, test] = sorted(Spool(spool).entries(),
                           key=lambda e: "test" in read_summary(e.path))
    assert read_summary(test.path)["test"]["id"] == "test_sample.py::test_key"
    shown = json.loads(orion("show", entry.trace_id, "--json", cwd=project,
                             spool=spool).stdout)
    assert (shown["summary"]["status"], shown["summary"]["exit_code"]) == ("failed", 1)


def test_json_summary_to_a_file(project):
    spool = project / "spool"
    report = project / "report.json"
    result = orion("test", "--json", "-o", str(report), "--", sys.executable, "-m", "pytest",
                   "-q", "-p", "no:cacheprovider", "test_sample.py", cwd=project, spool=spool)
    assert result.returncode == 1
    data = json.loads(report.read_text())
    assert data["status"] == 1
    [trace] = data["traces"]
    assert trace["test"] == "test_sample.py::test_key"
    assert trace["outcome"] == "failed"
    assert trace["exception"].startswith("KeyError")
    assert trace["trace_id"] == Spool(spool).entries()[0].trace_id
    assert trace["fingerprint"] is None or trace["fingerprint"].startswith("f1:")


@pytest.mark.parametrize("status", [0, 3])
@pytest.mark.parametrize("subcommand", ["run", "test"])
def test_exit_status_and_stdout_byte_for_byte(project, subcommand, status):
    spool = project / "spool"
    plain = subprocess.run([sys.executable, "prog.py", str(status)], cwd=project,
                           env=env_for(spool), capture_output=True, timeout=60)
    traced = orion(subcommand, "--", sys.executable, "prog.py", str(status),
                   cwd=project, spool=spool)
    assert plain.returncode == traced.returncode == status
    assert traced.stdout == plain.stdout
    assert b"\xff\x00" in traced.stdout


@pytest.mark.parametrize("subcommand", ["run", "test"])
def test_death_by_sigkill_is_passed_on(project, subcommand):
    """SIGKILL cannot be reset to its default action: orion still dies by it, so a shell
    sees 137, and the traces written before the kill are reported and listed."""
    spool = project / "spool"
    traced = orion(subcommand, "--mode", "dev", "--", sys.executable, "killed.py",
                   cwd=project, spool=spool)
    assert traced.returncode == -signal.SIGKILL, traced.stderr
    assert b"internal error" not in traced.stderr
    listed = json.loads(subprocess.run([sys.executable, "-m", "orion", "list", "--json"],
                                       env=env_for(spool), capture_output=True).stdout)
    statuses = {t["status"]: t["trace_id"] for t in listed}
    assert sorted(statuses) == ["incomplete", "ok"]  # the killed program's, its child's
    assert statuses["ok"][:12].encode() in traced.stderr  # reported by the child's agent

    shell = subprocess.run(["sh", "-c", '"$@"; echo "status $?"', "sh", sys.executable, "-m",
                            "orion", subcommand, "--", sys.executable, "killed.py"],
                           cwd=project, env=env_for(spool), capture_output=True, timeout=90)
    assert shell.stdout.endswith(b"status 137\n")


def test_a_missing_command_exits_127_as_a_shell_would(project):
    result = orion("test", "--", "no-such-command-here", cwd=project, spool=project / "spool")
    assert result.returncode == 127
    assert result.stderr == b"orion: error: no-such-command-here: command not found\n"


def test_long_test_ids_are_shown_whole_in_the_summary(project):
    """Cut to 60 characters, two parametrized cases looked identical."""
    (project / "test_long_names.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.parametrize('case', ['a-very-long-parameter-value-number-one',\n"
        "                                  'a-very-long-parameter-value-number-two'])\n"
        "def test_a_function_with_a_rather_long_descriptive_name(case):\n"
        "    assert case.endswith('three')\n")
    result = orion("test", "--", sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                   "test_long_names.py", cwd=project, spool=project / "spool")
    for case in ("number-one", "number-two"):
        assert f"[a-very-long-parameter-value-{case}]" in result.stderr.decode()


def test_a_failing_test_has_one_failure_fingerprint_in_every_mode(project):
    # A dev-mode run's per-test trace holds the failure's stack record and no calls: its
    # fingerprint hashed the exception type alone (every KeyError alike); it now hashes
    # the stack record's own frames, as the error-mode trace's failing calls give them.
    found = {}
    for mode in ("error", "dev"):
        report = project / f"{mode}.json"
        orion("test", "--mode", mode, "--json", "-o", str(report), "--", sys.executable, "-m",
              "pytest", "-q", "-p", "no:cacheprovider", "test_sample.py", cwd=project,
              spool=project / mode)
        rows = json.loads(report.read_text())["traces"]
        [found[mode]] = [row["fingerprint"] for row in rows
                         if row["test"] == "test_sample.py::test_key"]
    assert found["dev"] == found["error"] and found["dev"].startswith("f1:")
    explained = orion("fingerprint", "--explain", "--failure", "-", cwd=project,
                      spool=project / "dev", input=b"@\n@~1\n").stdout.decode()
    assert "test_sample:test_key\n      test_sample:helper\n" in explained
