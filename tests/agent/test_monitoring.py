"""The sys.monitoring hook (CPython >= 3.12) shares the interpreter politely: another tool
holding the profiler's id keeps it and keeps its events (orion takes a free id), a
debugger's sys.settrace keeps working, and stopping gives the id back."""

from __future__ import annotations

import sys

import pytest

from .agent_helpers import C_HOOK_API, clean_env, python, records, run, traces

pytestmark = pytest.mark.skipif(C_HOOK_API != "sys.monitoring",
                                reason="the sys.monitoring hook is CPython >= 3.12's")

PROGRAM = """\
import sys
import orion.agent

mon = sys.monitoring
mon.use_tool_id(mon.PROFILER_ID, "other-profiler")
starts = []

def on_start(code, offset):
    if code.co_name == "work":
        starts.append(offset)

mon.register_callback(mon.PROFILER_ID, mon.events.PY_START, on_start)
mon.set_events(mon.PROFILER_ID, mon.events.PY_START)

lines = []

def debugger(frame, event, arg):
    if frame.f_code.co_name == "work" and event == "line":
        lines.append(frame.f_lineno)
    return debugger

def work(n):
    total = n + 1
    return total

orion.agent.start(mode="dev", spool=sys.argv[1], propagate=False)
orion_tool = [i for i in range(6) if mon.get_tool(i) == "orion"]
sys.settrace(debugger)
work(1)
work(2)
sys.settrace(None)
orion.agent.stop()
work(3)
print(mon.get_tool(mon.PROFILER_ID), orion_tool, len(starts), sorted(set(lines)),
      [i for i in range(6) if mon.get_tool(i) == "orion"])
"""


def test_another_tool_and_a_debugger_keep_working_beside_orion(tmp_path):
    program = tmp_path / "polite.py"
    program.write_text(PROGRAM)
    spool = tmp_path / "spool"
    result = run([python(), str(program), str(spool)], env=clean_env())
    assert result.returncode == 0, result.stderr
    # the other profiler kept its id and saw all three calls; orion took id 3, and gave
    # it back; the debugger saw work's two lines on both traced calls
    assert result.stdout.split("\n")[0] == "other-profiler [3] 3 [23, 24] []"
    (path,) = traces(spool)
    recs = records(path)
    names = {r["id"]: r["name"] for r in recs if r["type"] == "function"}
    calls = [(names[r["fn"]], r["args"]) for r in recs if r["type"] == "call"]
    assert calls == [("work", {"n": 1}), ("work", {"n": 2})]


def test_filtered_code_costs_nothing_after_its_first_event(tmp_path):
    # a stdlib function called in a loop: orion's callbacks DISABLE it at its first start
    # and return, so CPython stops calling them (the count of callback calls is read from
    # the tool's callbacks, wrapped)
    source = """\
import sys, posixpath
import orion.agent
orion.agent.start(mode="safe", spool=sys.argv[1], propagate=False, sample=1.0)
mon = sys.monitoring
tool = [i for i in range(6) if mon.get_tool(i) == "orion"][0]
calls = {"n": 0}
for event in (mon.events.PY_START, mon.events.PY_RETURN):
    original = mon.register_callback(tool, event, None)
    def counting(*args, _original=original):
        calls["n"] += 1
        return _original(*args)
    mon.register_callback(tool, event, counting)
for _ in range(1000):
    posixpath.join("a", "b")
orion.agent.stop()
print(calls["n"])
"""
    program = tmp_path / "loop.py"
    program.write_text(source)
    result = run([python(), str(program), str(tmp_path / "spool")], env=clean_env())
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.split()[-1]) < 50  # not 2000: disabled after the first


THREADS_ONE_AFTER_ANOTHER = """\
import sys
import threading
import orion.agent

def work(i):
    return i

orion.agent.start(mode="safe", sample=1.0, spool=sys.argv[1], propagate=False)
for i in range(100):
    thread = threading.Thread(target=work, args=(i,), name=f"worker-{i}")
    thread.start()
    thread.join()
orion.agent.stop()
"""


def test_a_thread_that_reuses_a_finished_threads_state_gets_its_own_lane(tmp_path):
    # The hook remembers the thread of the last event; a new thread often gets the
    # PyThreadState memory of the one that just finished (here ~95 of 100), never its id.
    program = tmp_path / "one_after_another.py"
    program.write_text(THREADS_ONE_AFTER_ANOTHER)
    spool = tmp_path / "spool"
    result = run([python(), str(program), str(spool)], env=clean_env())
    assert result.returncode == 0, result.stderr
    (path,) = traces(spool)
    recs = records(path)
    lanes = {r["id"]: r["name"] for r in recs if r["type"] == "lane"}
    calls = [lanes[r["lane"]] for r in recs if r["type"] == "call"]
    assert calls == [f"worker-{i}" for i in range(100)]
