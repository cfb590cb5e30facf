"""`orion import` of Chrome Trace Event JSON (ours and other tools')."""

from __future__ import annotations

import json

from orion.model import UNWOUND, load_trace

from ..conftest import invoke as orion
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
