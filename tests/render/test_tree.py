"""Drawing call trees: key lines of the text form, values, caps, and the JSON form."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orion.format import TraceWriter
from orion.model import failing_path, load_trace
from orion.render.safe import terminal
from orion.render.tree import (DrawnTree, TreeOptions, format_pairs, format_value,
                               iter_calls_json, render_tree)


@pytest.mark.parametrize("value, text", [
    (None, "None"), (True, "True"), (3, "3"), (2.5, "2.5"), ("hi", "'hi'"),
    ({"t": "str", "text": "abc", "cut": 10}, "'abc'…(+7 more)"),
    ({"t": "Decimal", "text": "Decimal('1.5')"}, "Decimal('1.5')"),
    ({"t": "list", "items": [1, 2]}, "[1, 2]"),
    ({"t": "list", "items": [1, 2, 3, 4, 5]}, "[1, 2, 3, …(+2 more)]"),
    ({"t": "list", "items": [1, 2], "cut": 90}, "[1, 2, …(+88 more)]"),
    ({"t": "tuple", "items": [1]}, "(1,)"), ({"t": "tuple", "items": [1, 2]}, "(1, 2)"),
    ({"t": "set", "items": ["a"]}, "{'a'}"),
    ({"t": "dict", "entries": [["a", 1], ["b", {"t": "list", "items": []}]]}, "{'a': 1, 'b': []}"),
    ({"t": "Point", "fields": {"x": 1, "y": 2}}, "Point(x=1, y=2)"),
    ({"t": "str", "redacted": True}, "<redacted>"),
    ({"t": "list", "elided": True, "len": 7}, "<list of 7>"),
    ({"t": "list", "elided": True}, "<list …>"),
    ({"t": "Weird", "error": "boom"}, "<Weird: repr failed: boom>"),
    ({"t": "bytes", "text": "00ff"}, "00ff"),
])
def test_format_value(value, text):
    assert format_value(value) == text


def test_long_values_are_cut_with_an_ellipsis():
    text = format_value("x" * 500)
    assert text.startswith("'xxxx") and "…" in text and len(text) <= 60
    assert format_pairs({"a": 1, "b": "two"}) == "a=1, b='two'"
    assert format_pairs(None) == ""


def write(tmp_path, build, **options):
    path = tmp_path / "t.otrace"
    with open(path, "wb") as sink:
        w = TraceWriter(sink, language="python", **options)
        build(w)
        w.close()
    return load_trace(path)


def lines_of(trace, **options):
    return list(render_tree(trace.lanes.values(), TreeOptions(**options)))


def failing(w):
    lane = w.lane("MainThread", "thread", native_id=9)
    main, parse = w.function("main"), w.function("parse")
    w.call(0, lane, main, w.encode_pairs({}))
    w.call(1_000, lane, parse, w.encode_pairs({"text": "15%X", "n": 2}))
    w.exception(2_000, lane, "ValueError", "bad number", line=5)
    w.exception(2_500, lane, "KeyError", "'k'", kind="caught", line=6)
    w.unwind(3_000, lane, 5, w.encode_pairs({"text": "15%X", "secret": {"t": "str",
                                                                          "redacted": True}}))
    w.unwind(4_000, lane, 40, w.encode_pairs({}))
    w.crash(5_000, lane, "uncaught", "ValueError", "bad number")


def test_failing_tree_lines(tmp_path):
    lines = lines_of(write(tmp_path, failing))
    assert lines == [
        "── MainThread (thread, native id 9) ──",
        "├─ main()  4.0µs  ✗ ValueError (line 40)",
        "│  └─ parse(text='15%X', n=2)  2.0µs  ✗ ValueError: bad number (line 5)",
        "│     ┆ text = '15%X'",
        "│     ┆ secret = <redacted>",
        "│     └─ ! caught KeyError: 'k' (line 6)",
        "└─ ✗ crash (uncaught): ValueError: bad number",
    ]


def test_no_colour_unless_asked(tmp_path):
    trace = write(tmp_path, failing)
    assert not any("\x1b[" in line for line in lines_of(trace))
    assert any("\x1b[" in terminal(line) for line in lines_of(trace, colour=True))


def loop(w):
    lane = w.lane("MainThread")
    main, fib, other = w.function("main"), w.function("fib"), w.function("other")
    w.call(0, lane, main)
    t = 1
    for i in range(120):
        w.call(t, lane, fib, w.encode_pairs({"n": i}))
        w.call(t + 1, lane, other)
        w.ret(t + 2, lane, 0)
        w.ret(t + 3, lane, i)
        t += 10
    w.call(t, lane, other)
    w.ret(t + 1, lane)
    w.ret(t + 2, lane, None)


def test_repeated_sibling_calls_fold(tmp_path):
    lines = lines_of(write(tmp_path, loop))
    assert lines[1] == "└─ main()  → None  1.2µs"
    assert lines[2] == "   ├─ fib(n=0)  → 0  3ns"
    assert lines[3] == "   │  └─ other()  → 0  1ns"
    assert lines[4].startswith("   ├─ fib ×119 more  ") and lines[4].endswith(" total")
    assert lines[5] == "   └─ other()  1ns"
    assert len(lines) == 6
    unfolded = lines_of(write(tmp_path, loop), collapse=False)
    assert len(unfolded) == 2 + 2 * 120 + 1


def test_line_cap_says_how_many_calls_were_left_out(tmp_path):
    trace = write(tmp_path, loop)
    lines = lines_of(trace, collapse=False, max_lines=10)
    assert len(lines) == 11
    shown = len(lines) - 2  # all but the lane heading and the note are calls
    assert lines[-1] == f"… {242 - shown} more calls not shown (use --all)"
    assert len(lines_of(trace, collapse=False, max_lines=None)) == 243


def test_depth_limit_counts_hidden_calls(tmp_path):
    lines = lines_of(write(tmp_path, loop), max_depth=1)
    assert lines[1] == "└─ main()  → None  1.2µs  [+241 nested calls]"
    assert len(lines) == 2


def lanes_and_window(w):
    main_lane, worker = w.lane("MainThread"), w.lane("pool-1", "task")
    f, g = w.function("f"), w.function("g")
    w.call(5, worker, g)
    w.ret(6, worker, "done")
    w.ret(7, main_lane, 1)  # ring window: this frame began before the window
    w.call(8, main_lane, f)
    w.event(9, main_lane, "log", {"msg": "hello", "level": "info"})


def test_lanes_ring_window_and_open_calls(tmp_path):
    lines = lines_of(write(tmp_path, lanes_and_window, window="ring"))
    assert lines == [
        "── MainThread (thread) ──",
        "├─ (outside the recorded window)  → 1  0ns",
        "└─ f()  … still running when the trace ended",
        "   └─ • log msg='hello' level='info'",
        "── pool-1 (task) ──",
        "└─ g()  → 'done'  1ns",
    ]


def native(w):
    lane = w.lane("main")
    w.module("/lib/libshop.so", 0x1000)
    fn = w.function(None, addr=0x1010)
    w.call(1, lane, fn)
    w.stack(2, lane, "signal", [[fn, None, None]])
    w.crash(3, lane, "signal", "SIGSEGV", "invalid read")


def test_native_labels_stacks_and_crashes(tmp_path):
    lines = lines_of(write(tmp_path, native, mode="dev"))
    assert lines[1] == "└─ 0x1010 (libshop.so)()  … still running when the trace ended"
    assert lines[2] == "   ├─ ≡ stack (signal): 0x1010 (libshop.so)"
    assert lines[3] == "   └─ ✗ crash (signal): SIGSEGV: invalid read"


def deep(w):
    lane = w.lane("main")
    fn = w.function("down")
    for i in range(5_000):
        w.call(i, lane, fn, w.encode_pairs({"i": i}))
    for i in range(5_000):
        w.ret(5_000 + i, lane, i)


def test_deep_trees_keep_indentation_bounded(tmp_path):
    trace = write(tmp_path, deep)
    lines = lines_of(trace, max_lines=None)
    assert len(lines) == 5_001
    assert "[depth 4999] down(i=4998)" in lines[-2]
    assert max(len(line) for line in lines) < 250
    chunks = "".join(iter_calls_json(trace.lanes[0].roots))
    assert chunks.count('"calls": [') == 5_000
    depth = 3
    shallow = json.loads("".join(iter_calls_json(trace.lanes[0].roots, max_depth=depth)))
    node = shallow[0]
    for _ in range(depth - 1):
        [node] = node["calls"]
    assert node["calls"] == [] and node["hidden_calls"] == 5_000 - depth


def test_json_calls_shape(tmp_path):
    trace = write(tmp_path, failing)
    [main] = json.loads("".join(iter_calls_json(trace.lanes[0].roots)))
    assert main["name"] == "main" and main["outcome"] == "unwound" and main["args"] == {}
    [parse] = main["calls"]
    assert parse["args"] == {"text": "15%X", "n": 2} and parse["line"] == 5
    assert parse["error"] == {"t": 2_000, "kind": "raised", "type": "ValueError",
                              "message": "bad number", "line": 5}
    assert parse["locals"]["secret"] == {"t": "str", "redacted": True}
    assert parse["calls"] == [] and "value" not in parse
    assert [e["kind"] for e in parse["exceptions"]] == ["raised", "caught"]
    assert json.loads("".join(iter_calls_json([]))) == []


def imported_spans(w):
    """What `orion import` writes for OpenTelemetry spans: otel.span right after each call."""
    lane = w.lane("checkout", "span")
    w.event(0, lane, "otel.resource", {"index": 0, "attributes": {"service.name": "checkout"},
                                       "scopes": [{"name": "manual"}]})
    send, poll = w.function("publish"), w.function("poll")
    w.call(0, lane, send)
    w.event(0, lane, "otel.span", {"span_id": "00000000000000a1", "parent_span_id": "",
                                   "kind": 4, "status_code": 2, "status_message": "timeout",
                                   "attributes": {"queue": "orders", "n": 3}})
    w.call(10, lane, poll)
    w.event(10, lane, "otel.span", {"span_id": "00000000000000a2", "kind": 1,
                                    "status_code": 1, "attributes": {}})
    w.ret(20, lane)
    w.event(30, lane, "retry", {"attempt": 2})
    w.unwind(40, lane, None)


def test_imported_spans_show_kind_status_and_attributes_not_bookkeeping(tmp_path):
    lines = lines_of(write(tmp_path, imported_spans))
    assert lines == [
        "── checkout (span) ──",
        "└─ publish  [producer]  40ns  ✗ error: timeout",
        "   ┆ queue='orders'  n=3",
        "   ├─ poll  [ok]  10ns",
        "   └─ • retry attempt=2",
    ]


# One step of a random program on one of two lanes: open a call to one of three
# functions, return, raise and unwind, catch, or log an event.
STEPS = st.lists(st.tuples(st.integers(0, 1), st.sampled_from(
    ["call f", "call f", "call g", "call h", "return", "return", "return", "unwind", "raise",
     "catch", "event"])), max_size=120)


def write_steps(path, steps) -> None:
    with open(path, "wb") as sink:
        w = TraceWriter(sink, language="python")
        lanes = [w.lane("MainThread"), w.lane("worker")]
        fns = {name: w.function(name, "app", "app.py", 1) for name in "fgh"}
        for t, (lane, step) in enumerate(steps, start=1):
            kind, _, name = step.partition(" ")
            if kind == "call":
                w.call(t * 10, lanes[lane], fns[name], w.encode_pairs({"t": t % 3}))
            elif kind in ("return", "unwind"):  # with no call open: as a ring window starts
                if kind == "return":
                    w.ret(t * 10, lanes[lane], t % 2)
                else:
                    w.unwind(t * 10, lanes[lane], 3, w.encode_pairs({"x": t} if t % 2 else {}))
            elif kind in ("raise", "catch"):
                w.exception(t * 10, lanes[lane], "E", f"e{t % 2}",
                            kind="raised" if kind == "raise" else "caught", line=2)
            elif kind == "event":
                w.event(t * 10, lanes[lane], "log", {"n": t})
        w.close()


@settings(max_examples=300, deadline=None)
@given(STEPS, st.sampled_from([1, 3, 8, 25, None]), st.sampled_from([None, 1, 2]))
def test_a_tree_read_for_drawing_draws_the_same_as_the_whole_tree(tmp_path_factory, steps,
                                                                  max_lines, max_depth):
    path = tmp_path_factory.mktemp("t") / "t.otrace"
    write_steps(path, steps)
    options = TreeOptions(max_lines=max_lines, max_depth=max_depth)
    whole = load_trace(path)
    drawn = load_trace(path, prune=DrawnTree(max_lines, max_depth))
    lines = list(render_tree(drawn.lanes.values(), options))
    expected = list(render_tree(whole.lanes.values(), options))
    if any(root.fn is None for lane in whole.lanes.values() for root in lane.roots):
        # Frames from before a ring window adopt what came before them, one level deeper:
        # the drawing may stop early (at a Cut), but what it draws is the whole tree's.
        assert lines[:-1] == expected[:len(lines) - 1]
    else:
        assert lines == expected
    assert [c.label for c in failing_path(drawn)] == [c.label for c in failing_path(whole)]
