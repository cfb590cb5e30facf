"""Threads already running when tracing starts: the C hook adopts them (CPython's C API
can set another thread's profile function); the pure-Python hook cannot on 3.11."""

from __future__ import annotations

import subprocess

import pytest

from .agent_helpers import HOOKS, clean_env, python, records, run, traces


PROGRAM = """\
import sys
import threading

TRACE = sys.argv[1] == "trace"

def work(i):
    return i * 2

stop = threading.Event()
done = []

def loop():
    n = 0
    while not stop.is_set():
        done.append(work(n))
        n += 1
        stop.wait(0.001)

release = threading.Event()
hooks = []

def waiter():  # blocked while tracing runs: says afterwards whether a hook is left on it
    release.wait()
    hooks.append((sys.getprofile(), sys.gettrace()))

worker = threading.Thread(target=loop, name="early-worker")
worker.start()
other = threading.Thread(target=waiter, name="early-waiter")
other.start()
while len(done) < 5:
    stop.wait(0.001)
if TRACE:
    import orion.agent
    orion.agent.start(mode="dev", spool=sys.argv[2], propagate=False)
seen = len(done)
while len(done) < seen + 20:  # a few more iterations, traced
    stop.wait(0.001)
stop.set()
worker.join()
if TRACE:
    orion.agent.stop()
release.set()
other.join()
print("worker doubled", done[:3], "hooks left", hooks)
"""


@pytest.mark.parametrize("hook", HOOKS)
def test_a_thread_started_before_tracing_gets_a_lane(tmp_path, hook):
    program = tmp_path / "early.py"
    program.write_text(PROGRAM)
    spool = tmp_path / "spool"
    plain = run([python(), str(program), "plain"])
    traced = run([python(), str(program), "trace", str(spool)], env=clean_env(ORION_HOOK=hook))
    assert traced.returncode == 0, traced.stderr
    assert traced.stdout == plain.stdout == "worker doubled [0, 2, 4] hooks left [(None, None)]\n"
    assert traced.stderr == ""
    (path,) = traces(spool)
    validated = subprocess.run([python(), "-m", "orion", "validate", str(path)],
                               capture_output=True, text=True, env=clean_env(), timeout=60)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    recs = records(path)
    names = {r["id"]: r["name"] for r in recs if r["type"] == "function"}
    lanes = {r["id"]: r["name"] for r in recs if r["type"] == "lane"}
    work_lanes = {lanes[r["lane"]] for r in recs if r["type"] == "call" and names[r["fn"]] == "work"}
    if hook == "c":
        assert work_lanes == {"early-worker"}
        worker = next(i for i, name in lanes.items() if name == "early-worker")
        calls = [r for r in recs if r["type"] == "call" and r["lane"] == worker]
        returns = [r for r in recs if r["type"] == "return" and r["lane"] == worker]
        assert len(calls) >= 20 and {names[r["fn"]] for r in calls} == {"work"}
        assert len(returns) == len(calls)  # loop(), begun before tracing, is not in it
    else:  # sys.settrace hooks only the calling thread on 3.11 (README: Python agent)
        assert work_lanes == set()
