"""`orion import` of Chrome Trace Event JSON (ours and other tools')."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orion.model import UNWOUND, load_trace

from ..conftest import invoke as orion, run_orion
from ..export.sample import write_rich_trace


def shape(trace) -> dict:
    """lane name -> nested (function, outcome, children) of its roots."""
    def node(call):
        return (call.fn.name, call.outcome, [node(c) for c in call.children])
    return {lane.name: [node(r) for r in lane.roots] for lane in trace.lanes.values()}


def test_our_chrome_export_imports_back_to_the_same_calls(spool, tmp_path):
    original = load_trace(write_rich_trace(spool))
    exported = orion("export", "@", "--format", "chrome")
    source = tmp_path / "trace.json"
    source.write_text(exported.stdout)
    other = tmp_path / "other"
    result = orion("import", str(source), "--spool", str(other))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == original.header["trace_id"]
    [entry] = [p for p in other.iterdir()]
    imported = load_trace(entry)
    assert shape(imported) == shape(original)
    assert imported.header["start_ns"] == original.header["start_ns"]
    handle = imported.lanes[0].roots[0].children[0]
    assert [(e.kind, e.type, e.message) for e in handle.exceptions] == [
        ("caught", "ValueError", "bad number 'x'")]


def test_begin_end_pairs_and_bare_arrays_from_other_tools(spool, tmp_path):
    events = [
        {"ph": "M", "name": "thread_name", "pid": 1, "tid": 7, "args": {"name": "render"}},
        {"ph": "B", "name": "frame", "pid": 1, "tid": 7, "ts": 100},
        {"ph": "X", "name": "layout", "pid": 1, "tid": 7, "ts": 110, "dur": 20},
        {"ph": "X", "name": "paint", "pid": 1, "tid": 7, "ts": 125, "dur": 30},  # overlaps
        {"ph": "i", "name": "exception", "pid": 1, "tid": 7, "ts": 140, "s": "t",
         "args": {"type": "RangeError", "message": "too deep"}},
        {"ph": "E", "pid": 1, "tid": 7, "ts": 200},
        {"ph": "C", "name": "counter", "pid": 1, "ts": 150, "args": {"x": 1}},
    ]
    source = tmp_path / "perf.json"
    source.write_text(json.dumps(events))
    result = orion("import", str(source))
    assert result.exit_code == 0, result.output
    trace = load_trace(spool.entries()[0].path)
    [lane] = trace.lanes.values()
    assert lane.name == "render"
    [frame] = lane.roots
    assert frame.fn.name == "frame" and frame.end - frame.start == 100_000
    layout = frame.children[0]
    assert [c.fn.name for c in frame.children] == ["layout"]
    assert [c.fn.name for c in layout.children] == ["paint"]  # cut at its parent's end
    assert layout.children[0].end == layout.end
    assert [(e.type, e.message) for e in frame.exceptions] == [("RangeError", "too deep")]
    assert frame.outcome != UNWOUND
    again = orion("import", str(source))
    assert again.exit_code == 1 and "already in the spool" in again.stderr


def test_several_processes_keep_their_lanes_apart(spool, tmp_path):
    """A merged file (two programs' main threads): lanes say whose they are; no process
    name becomes the trace's service."""
    events = []
    for pid, program in ((10, "parent.py"), (11, "child.py")):
        events += [
            {"ph": "M", "name": "process_name", "pid": pid, "args": {"name": program}},
            {"ph": "M", "name": "thread_name", "pid": pid, "tid": 0,
             "args": {"name": "MainThread"}},
            {"ph": "X", "name": "main", "pid": pid, "tid": 0, "ts": pid, "dur": 5}]
    source = tmp_path / "merged.json"
    source.write_text(json.dumps({"traceEvents": events}))
    assert orion("import", str(source)).exit_code == 0
    trace = load_trace(spool.entries()[0].path)
    assert sorted(lane.name for lane in trace.lanes.values()) == [
        "child.py: MainThread", "parent.py: MainThread"]
    assert trace.header.get("service") is None


VIZ_PROGRAM = """
def parse(text):
    if not text.isdigit():
        raise ValueError(f"bad number {text!r}")
    return int(text)

def handle(text):
    try:
        parse("x")
    except ValueError:
        pass
    return parse(text)

def main():
    handle("1")
    handle("oops")

main()
"""


def viztracer_run(tmp_path: Path, *options: str) -> Path:
    """Real VizTracer output: its command line on VIZ_PROGRAM, which dies of a ValueError."""
    pytest.importorskip("viztracer")
    program = tmp_path / "app.py"
    program.write_text(VIZ_PROGRAM)
    output = tmp_path / "viz.json"
    result = subprocess.run([sys.executable, "-m", "viztracer", "--quiet", *options,
                             "-o", str(output), str(program)],
                            capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert "ValueError: bad number 'oops'" in result.stderr
    return output


def imported(spool, source: Path):
    result = orion("import", str(source))
    assert result.exit_code == 0, result.output
    return load_trace(spool.entries()[0].path)


def calls(trace, name: str) -> list:
    found, pending = [], [r for lane in trace.lanes.values() for r in lane.roots]
    while pending:
        call = pending.pop(0)
        found += [call] if call.fn.name == name else []
        pending.extend(call.children)
    return found


def test_viztracer_exceptions_names_and_clock(spool, tmp_path):
    """`viztracer --log_exception`: its exception instants become exceptions, the last
    one, which ended the program, unwinds its calls and fails the trace; `name (file:line)`
    is split; the start is the file's time less the trace's duration, not hours ahead."""
    before = time.time_ns()
    source = viztracer_run(tmp_path, "--log_exception")
    trace = imported(spool, source)
    assert trace.summary["status"] == "failed"
    assert (trace.summary["exception"]["type"], trace.summary["exception"]["message"]) == (
        "ValueError", "bad number 'oops'")
    parses = calls(trace, "parse")
    assert len(parses) == 4
    assert {(c.fn.file, c.fn.line) for c in parses} == {(str(tmp_path / "app.py"), 2)}
    assert [[(e.type, e.message) for e in c.exceptions] for c in parses] == [
        [("ValueError", "bad number 'x'")], [], [("ValueError", "bad number 'x'")],
        [("ValueError", "bad number 'oops'")]]
    assert [c.outcome for c in parses] == ["returned", "returned", "returned", UNWOUND]
    assert [c.outcome for c in calls(trace, "main")] == [UNWOUND]
    start = trace.header["start_ns"]
    assert before <= start <= source.stat().st_mtime_ns
    assert start + trace.end_t == source.stat().st_mtime_ns


def test_viztracer_without_exceptions_logged_stays_ok(spool, tmp_path):
    """Without --log_exception VizTracer records nothing of the error: no guess is made."""
    trace = imported(spool, viztracer_run(tmp_path))
    assert trace.summary["status"] == "ok"
    assert not any(c.exceptions for c in calls(trace, "parse"))


def test_viztracer_own_clock_gives_the_start(spool, tmp_path):
    """A trace saved through VizTracer's API carries `baseTimeNanoseconds`: the wall clock
    of its timestamps, whatever the file's modification time."""
    viztracer = pytest.importorskip("viztracer")
    output = tmp_path / "api.json"
    before = time.time_ns()
    with viztracer.VizTracer(output_file=str(output), verbose=0):
        sum(range(100))
    after = time.time_ns()
    os.utime(output, ns=(before + 3600 * 10**9, before + 3600 * 10**9))
    start = imported(spool, output).header["start_ns"]
    # VizTracer derives its base from the wall clock minus a monotonic reading taken apart
    # from ours, so it may land a millisecond or so outside [before, after]; what matters
    # is that the hour-late file time is not used.
    slack = 50 * 10**6
    assert before - slack <= start <= after + slack


def test_a_trace_without_a_clock_ends_at_the_files_time(spool, tmp_path):
    """Monotonic timestamps (a Node or DevTools trace, seconds since boot): the trace is
    placed to end when the file was written."""
    source = tmp_path / "node.json"
    source.write_text(json.dumps({"traceEvents": [
        {"ph": "X", "name": "main", "pid": 1, "tid": 1, "ts": 9_000_000_000, "dur": 2_000},
        {"ph": "X", "name": "work", "pid": 1, "tid": 1, "ts": 9_000_000_500, "dur": 500}]}))
    written = 1_700_000_000 * 10**9
    os.utime(source, ns=(written, written))
    trace = imported(spool, source)
    assert trace.header["start_ns"] == written - 2_000_000
    assert orion("list", "-f", "ids").stdout.split() == [trace.trace_id]


def test_python_exceptions_stay_in_the_raising_call_through_chrome(spool, tmp_path):
    """The Python agent records an exception at the very time its frame unwinds: exported
    to Chrome and imported back, it stays in that frame, not in the caller."""
    program = tmp_path / "app.py"
    program.write_text(VIZ_PROGRAM)
    run = run_orion("run", "--mode", "dev", "--", sys.executable, str(program))
    assert run.returncode == 1
    original = load_trace(spool.entries()[0].path)
    exported = tmp_path / "trace.json"
    assert orion("export", original.trace_id, "--format", "chrome",
                 "-o", str(exported)).exit_code == 0
    other = tmp_path / "other"
    assert orion("import", str(exported), "--spool", str(other)).exit_code == 0
    [path] = other.iterdir()
    again = load_trace(path)

    def raised(trace):
        return [[(e.type, e.message) for e in c.exceptions] for c in calls(trace, "parse")]
    assert raised(again) == raised(original) == [
        [("ValueError", "bad number 'x'")], [], [("ValueError", "bad number 'x'")],
        [("ValueError", "bad number 'oops'")]]


def test_a_real_node_trace_starts_when_node_ran(spool, tmp_path):
    """`node --trace-event-categories` writes timestamps on a monotonic clock (seconds
    since boot): imported, the trace starts when the program ran, not hours ahead."""
    if shutil.which("node") is None:
        pytest.skip("needs node")
    before = time.time_ns()
    subprocess.run(["node", "--trace-event-categories", "node,v8",
                    "--trace-event-file-pattern", "node-trace.json", "-e",
                    "function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2) }; fib(20)"],
                   cwd=tmp_path, check=True, timeout=60)
    source = tmp_path / "node-trace.json"
    trace = imported(spool, source)
    assert before <= trace.header["start_ns"] <= source.stat().st_mtime_ns
