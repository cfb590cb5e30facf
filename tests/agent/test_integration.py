"""`orion run`, `orion start`/`stop`, the pytest plugin and child processes, end to end."""

from __future__ import annotations

import shutil
import sys

from orion.format.summary import read_summary

from .agent_helpers import PROGRAMS, clean_env, python, records, run, traces

DEEP = str(PROGRAMS / "deep.py")
ORION = [sys.executable, "-m", "orion"]


def test_orion_run_prints_trace_ids_and_keeps_status(spool):
    result = run([*ORION, "run", "--mode", "error", "--spool", str(spool), "--",
                  python(), DEEP])
    assert result.returncode == 1
    (path,) = traces(spool)
    trace_id = read_summary(path)["trace_id"]
    assert f"orion: trace {trace_id} failed" in result.stderr
    ok = run([*ORION, "run", "--mode", "dev", "--spool", str(spool), "--", python(), DEEP, "1%"])
    assert ok.returncode == 0 and "3.96" in ok.stdout
    assert len(traces(spool)) == 2


def test_zero_config_start_then_stop(tmp_path, spool):
    userbase = tmp_path / "userbase"
    env = clean_env(PYTHONUSERBASE=str(userbase), HOME=str(tmp_path))
    site_dir = run([python(), "-c", "import site; print(site.getusersitepackages())"],
                   env=env).stdout.strip()
    assert site_dir.startswith(str(userbase))
    started = run([*ORION, "start", "--spool", str(spool)], env=env)
    assert started.returncode == 0, started.stderr
    crash = [python(), "-c", "def f(x):\n    return 1 / x\nf(0)"]
    result = run(crash, env=env)
    assert result.returncode == 1 and "ZeroDivisionError" in result.stderr
    (path,) = traces(spool)
    recs = records(path)
    assert any(r["type"] == "crash" and r["reason"] == "ZeroDivisionError" for r in recs)
    clean = run([python(), "-c", "print('fine')"], env=env)
    assert clean.stdout == "fine\n" and len(traces(spool)) == 1
    assert run([*ORION, "stop"], env=env).returncode == 0
    run(crash, env=env)
    assert len(traces(spool)) == 1
    # after stop, ORION_MODE still turns capture on for one process
    run(crash, env=dict(env, ORION_MODE="error", ORION_SPOOL=str(spool)))
    assert len(traces(spool)) == 2
    # ...but never in orion itself, run as `python -m orion` (a dev trace would appear)
    listed = run([*ORION, "list"], env=dict(env, ORION_MODE="dev", ORION_SPOOL=str(spool)))
    assert listed.returncode == 0 and len(traces(spool)) == 2


def test_pytest_plugin_one_trace_per_failing_test(tmp_path, spool):
    (tmp_path / "test_shop.py").write_text(
        "import pytest\n"
        "def price(qty):\n"
        "    unit = 3\n"
        "    return unit * qty + undefined_name\n"
        "def test_passes():\n"
        "    assert 1 + 1 == 2\n"
        "def test_fails():\n"
        "    assert price(2) == 6\n"
        "@pytest.fixture\n"
        "def broken():\n"
        "    raise RuntimeError('fixture broke')\n"
        "def test_setup_error(broken):\n"
        "    pass\n")
    result = run([python(), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--orion",
                  "--orion-spool", str(spool), "test_shop.py"], cwd=tmp_path)
    assert result.returncode == 1, result.stdout
    found = {read_summary(p)["name"]: p for p in traces(spool)}
    assert set(found) == {"test_shop.py::test_fails", "test_shop.py::test_setup_error"}
    summary = read_summary(found["test_shop.py::test_fails"])
    assert summary["test"] == {"id": "test_shop.py::test_fails", "outcome": "failed",
                               "when": "call"}
    assert summary["exception"]["type"] == "NameError"
    setup = read_summary(found["test_shop.py::test_setup_error"])
    assert setup["test"]["when"] == "setup"
    recs = records(found["test_shop.py::test_fails"])
    (stack,) = [r for r in recs if r["type"] == "stack"]
    assert stack["frames"][-1]["locals"] == {"qty": 2, "unit": 3}


def test_child_processes_have_their_own_traces(tmp_path, spool):
    program = tmp_path / "family.py"
    program.write_text(
        "import multiprocessing, os, subprocess, sys\n"
        "def square(x):\n"
        "    return x * x\n"
        "def main():\n"
        "    subprocess.run([sys.executable, '-c', 'print(6 * 7)'], check=True)\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        square(3)\n"
        "        sys.exit(0)\n"
        "    os.waitpid(pid, 0)\n"
        "    ctx = multiprocessing.get_context('fork')\n"
        "    p = ctx.Process(target=square, args=(4,))\n"
        "    p.start(); p.join()\n"
        "    ctx = multiprocessing.get_context('spawn')\n"
        "    p = ctx.Process(target=square, args=(5,))\n"
        "    p.start(); p.join()\n"
        "if __name__ == '__main__':\n"
        "    main()\n")
    result = run([python(), "-m", "orion.agent", "--mode", "dev", "--spool", str(spool),
                  str(program)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summaries = [read_summary(p) for p in traces(spool)]
    parents = [s for s in summaries if "parent" not in s]
    assert len(parents) == 1
    root = parents[0]["trace_id"]
    children = [s for s in summaries if s.get("parent", {}).get("trace_id") == root]
    # subprocess, fork, mp fork, mp spawn (and spawn's resource tracker)
    assert len(children) >= 4, summaries
    assert all(s["complete"] for s in summaries)
    for path in traces(spool):
        records(path)
