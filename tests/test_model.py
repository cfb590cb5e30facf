"""The call-tree model, built from traces written with the real writer."""

from __future__ import annotations

import sys

import pytest

from orion.format import NO_VALUE, TraceWriter
from orion.model import (OPEN, OUTSIDE_LABEL, RETURNED, UNWOUND, failing_path, load_trace,
                         subtree_size)


def make(tmp_path, name="t.otrace", **options):
    sink = open(tmp_path / name, "wb")
    options.setdefault("language", "python")
    options.setdefault("process", {"pid": 1, "argv": ["prog"], "cwd": "/", "host": "h"})
    return TraceWriter(sink, **options), tmp_path / name


def test_nested_calls_values_and_durations(tmp_path):
    w, path = make(tmp_path)
    lane = w.lane("MainThread", "thread", native_id=7)
    main, add, log = (w.function(n, "app", "app.py", i)
                      for i, n in enumerate(["main", "add", "log"]))
    w.call(10, lane, main, w.encode_pairs({}))
    w.call(20, lane, add, w.encode_pairs({"a": 1, "b": {"t": "list", "items": [1, 2]}}))
    w.ret(30, lane, 3)
    w.call(40, lane, log)
    w.ret(45, lane)
    w.ret(100, lane, None)
    w.close()
    sink_close(w)
    trace = load_trace(path)
    assert trace.complete and trace.summary["complete"] is True
    assert trace.summary["status"] == "ok"
    lane_ = trace.lanes[0]
    assert (lane_.name, lane_.kind, lane_.native_id, lane_.calls) == ("MainThread", "thread", 7, 3)
    [root] = lane_.roots
    assert root.label == "main" and root.outcome == RETURNED and root.value is None
    assert (root.start, root.end, root.duration) == (10, 100, 90)
    first, second = root.children
    assert first.args == {"a": 1, "b": {"t": "list", "items": [1, 2]}} and first.value == 3
    assert second.args is None and second.value is NO_VALUE and second.duration == 5
    assert "value" not in second.to_json() and second.to_json()["outcome"] == "returned"
    assert failing_path(trace) == []
    assert trace.end_t == 100


def sink_close(writer):
    writer.sink.close()


def test_exception_unwinds_locals_and_failing_path(tmp_path):
    w, path = make(tmp_path)
    lane = w.lane("MainThread")
    main, helper, parse, check = (w.function(n, "app", "app.py", 1)
                                  for n in ["main", "helper", "parse", "check"])
    w.call(1, lane, main)
    w.call(2, lane, helper)            # raises and catches inside: not the failure
    w.exception(3, lane, "KeyError", "'x'", kind="raised", line=4)
    w.exception(4, lane, "KeyError", "'x'", kind="caught", line=5)
    w.ret(5, lane, 0)
    w.call(6, lane, parse, w.encode_pairs({"text": "15%"}))
    w.call(7, lane, check)
    w.ret(8, lane, True)
    w.exception(9, lane, "ValueError", "bad number", line=12)
    w.unwind(10, lane, 12, w.encode_pairs({"text": "15%", "token": {"t": "str", "redacted": True}}))
    w.call(11, lane, check)            # cleanup in a finally block after the child failed
    w.ret(12, lane, True)
    w.unwind(13, lane, 30, w.encode_pairs({}))
    w.crash(14, lane, "uncaught", "ValueError", "bad number")
    w.close(status="failed", exit_code=1)
    sink_close(w)
    trace = load_trace(path)
    [root] = trace.lanes[0].roots
    helper_call, parse_call, cleanup = root.children
    assert helper_call.outcome == RETURNED
    assert [(e.kind, e.type) for e in helper_call.exceptions] == [("raised", "KeyError"),
                                                                   ("caught", "KeyError")]
    assert parse_call.outcome == UNWOUND and parse_call.line == 12
    assert parse_call.locals == {"text": "15%", "token": {"t": "str", "redacted": True}}
    assert (parse_call.error.type, parse_call.error.message) == ("ValueError", "bad number")
    assert root.outcome == UNWOUND and root.error is parse_call.error
    assert [c.label for c in failing_path(trace)] == ["main", "parse"]
    [crash] = trace.crashes
    assert crash.path == () and crash in trace.lanes[0].events
    json_ = parse_call.to_json()
    assert json_["error"]["type"] == "ValueError" and json_["line"] == 12


def test_exception_reported_in_every_frame_still_finds_the_origin(tmp_path):
    w, path = make(tmp_path)
    lane = w.lane("main")
    a, b, c = (w.function(n) for n in "abc")
    w.call(1, lane, a)
    w.call(2, lane, b)
    w.call(3, lane, c)
    for t in (4, 6, 8):  # agents that report the exception again in each frame it leaves
        w.exception(t, lane, "OSError", "disk full")
        w.unwind(t + 1, lane, t)
    w.close(status="failed")
    sink_close(w)
    assert [c.label for c in failing_path(load_trace(path))] == ["a", "b", "c"]


def test_ring_window_returns_before_any_call(tmp_path):
    w, path = make(tmp_path, mode="error", window="ring")
    lane = w.lane("MainThread")
    inner, late = w.function("inner"), w.function("late")
    w.call(100, lane, inner)           # the window starts inside two unknown frames
    w.ret(110, lane, 1)
    w.exception(115, lane, "RuntimeError", "boom")
    w.unwind(120, lane, 9, w.encode_pairs({"x": 1}))   # closes unknown frame 1
    w.ret(130, lane)                   # closes unknown frame 2
    w.call(140, lane, late)
    w.ret(150, lane, 2)
    w.close(status="failed")
    sink_close(w)
    trace = load_trace(path)
    assert trace.window == "ring"
    lane_ = trace.lanes[0]
    outer, late_call = lane_.roots
    assert outer.label == OUTSIDE_LABEL and outer.fn is None and outer.outcome == RETURNED
    [frame1] = outer.children
    assert frame1.fn is None and frame1.outcome == UNWOUND and frame1.locals == {"x": 1}
    assert frame1.error.type == "RuntimeError" and frame1.start == 100 and frame1.end == 120
    assert [c.label for c in frame1.children] == ["inner"]
    assert late_call.label == "late" and lane_.calls == 2
    assert frame1.to_json()["fn"] is None


def test_incomplete_cut_file_keeps_open_calls(tmp_path):
    w, path = make(tmp_path, batch_bytes=64)
    lane = w.lane("MainThread")
    main, work = w.function("main"), w.function("work")
    w.call(1, lane, main)
    for i in range(50):
        w.call(10 + 2 * i, lane, work, w.encode_pairs({"i": i}))
        w.ret(11 + 2 * i, lane, i)
    w.call(500, lane, work, w.encode_pairs({"i": "last"}))
    w.flush()
    sink_close(w)  # the program died: no end record, no trailer
    data = path.read_bytes()
    path.write_bytes(data[:-5])  # and the last frame is cut in the middle
    trace = load_trace(path)
    assert not trace.complete and trace.truncated
    assert trace.summary["complete"] is False and trace.summary["status"] == "incomplete"
    [root] = trace.lanes[0].roots
    assert root.outcome == OPEN and root.end is None and root.duration is None
    assert 0 < len(root.children) < 51
    assert all(c.outcome == RETURNED for c in root.children[:-1])
    assert list(trace.open_calls()) == [root] + [c for c in root.children[-1:]
                                                 if c.outcome == OPEN]


def test_open_calls_in_a_complete_read(tmp_path):
    w, path = make(tmp_path)
    lane = w.lane("MainThread")
    main, work = w.function("main"), w.function("work")
    w.call(1, lane, main)
    w.call(2, lane, work)
    w.flush()
    sink_close(w)
    trace = load_trace(path)
    root = trace.lanes[0].roots[0]
    assert [c.outcome for c in (root, root.children[0])] == [OPEN, OPEN]
    assert not trace.truncated


def test_multiple_lanes_interleaved(tmp_path):
    w, path = make(tmp_path)
    main_lane = w.lane("MainThread")
    worker = w.lane("worker-1", "thread", native_id=2, parent=main_lane)
    f, g = w.function("f"), w.function("g")
    w.call(1, main_lane, f)
    w.call(2, worker, g)
    w.call(3, main_lane, g)
    w.event(4, worker, "log", {"msg": "hi"})
    w.ret(5, worker, 1)
    w.ret(6, main_lane, 2)
    w.ret(7, main_lane, 3)
    w.call(8, 5, g)  # a lane with no LANE record still reads
    w.ret(9, 5)
    w.close()
    sink_close(w)
    trace = load_trace(path)
    lanes = trace.lanes
    assert [lanes[0].name, lanes[1].name, lanes[5].name] == ["MainThread", "worker-1", "lane 5"]
    assert lanes[1].parent == 0
    assert [c.label for c in lanes[0].roots[0].children] == ["g"]
    [g_call] = lanes[1].roots
    assert g_call.value == 1 and [e.kind for e in g_call.events] == ["log"]
    assert lanes[0].roots[0].value == 3


def test_native_functions_without_names(tmp_path):
    w, path = make(tmp_path, language="c")
    lane = w.lane("main")
    w.module("/usr/lib/libshop.so", 0x400000, b"\x01\x02")
    w.module("/usr/lib/libother.so", 0x800000)
    in_module = w.function(None, addr=0x401136)
    with_module = w.function(None, module="/opt/app/bin", addr=0x1234)
    named = w.function("main", addr=0x400100)
    for fn in (named, in_module, with_module):
        w.call(1, lane, fn)
    for t in (2, 3, 4):
        w.ret(t, lane)
    w.close()
    sink_close(w)
    trace = load_trace(path)
    labels = {fn.addr: fn.label for fn in trace.functions.values()}
    assert labels == {0x401136: "0x401136 (libshop.so)", 0x1234: "0x1234 (bin)",
                      0x400100: "main"}
    assert trace.modules[0].build_id == "0102"


def test_native_crash_with_open_frames(tmp_path):
    w, path = make(tmp_path, language="c")
    lane = w.lane("main")
    main, deref = w.function("main"), w.function("deref")
    w.call(1, lane, main)
    w.call(2, lane, deref)
    w.stack(3, lane, "signal", [[main, 10, None], [deref, 4, w.encode_pairs({"p": 0})]])
    w.crash(4, lane, "signal", "SIGSEGV", "invalid read at 0x0")
    w.close(status="crashed")
    sink_close(w)
    trace = load_trace(path)
    path_ = failing_path(trace)
    assert [c.label for c in path_] == ["main", "deref"]
    deref_call = path_[-1]
    stack, crash = deref_call.events
    assert [(fn.label, line) for fn, line, _ in stack.frames] == [("main", 10), ("deref", 4)]
    assert stack.frames[1][2] == {"p": 0}
    assert crash.reason == "SIGSEGV" and deref_call.outcome == OPEN


def test_deep_recursion_builds_without_recursion_limits(tmp_path):
    depth = 100_000
    assert depth > sys.getrecursionlimit()
    w, path = make(tmp_path)
    lane = w.lane("main")
    fn = w.function("recurse")
    for i in range(depth):
        w.call(i, lane, fn)
    w.exception(depth, lane, "RecursionError", "too deep")
    for i in range(depth):
        w.unwind(depth + 1 + i, lane, 3)
    w.close(status="failed")
    sink_close(w)
    trace = load_trace(path)
    [root] = trace.lanes[0].roots
    assert subtree_size(root) == depth - 1
    chain = failing_path(trace)
    assert len(chain) == depth and chain[-1].error.type == "RecursionError"
    assert chain[-1].children == ()


def test_unreadable_file_raises_trace_error(tmp_path):
    from orion.format.errors import TraceError

    bad = tmp_path / "bad.otrace"
    bad.write_bytes(b"not a trace at all")
    with pytest.raises(TraceError, match="bad.otrace"):
        load_trace(bad)
