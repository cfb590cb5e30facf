"""`orion export --format chrome`: per-thread nesting, flow pairing, exceptions, memory."""

from __future__ import annotations

import json
import tracemalloc
from collections import defaultdict
from pathlib import Path

from click.testing import CliRunner

from orion.cli import cli
from orion.export import FORMATS, export_trace

from .sample import write_rich_trace


def chrome_events(ref: str, *args: str) -> dict:
    result = CliRunner().invoke(cli, ["export", ref, "--format", "chrome", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def ns(ts: float) -> int:
    return round(ts * 1000)


def assert_nested(events: list[dict]) -> None:
    """On every thread, two complete events are disjoint or one contains the other."""
    by_thread = defaultdict(list)
    for e in events:
        if e["ph"] == "X":
            by_thread[(e["pid"], e["tid"])].append((ns(e["ts"]), ns(e["ts"] + e["dur"])))
    for spans in by_thread.values():
        spans.sort(key=lambda s: (s[0], -s[1]))
        open_ends: list[int] = []
        for start, end in spans:
            while open_ends and open_ends[-1] <= start:
                open_ends.pop()
            assert not open_ends or end <= open_ends[-1], (start, end, open_ends)
            open_ends.append(end)


def test_calls_nest_per_thread_and_flows_pair(spool):
    write_rich_trace(spool)
    doc = chrome_events("@")
    events = doc["traceEvents"]
    assert_nested(events)
    complete = [e for e in events if e["ph"] == "X"]
    assert sorted(e["name"] for e in complete) == sorted(
        ["main", "handle", "parse", "save", "work", "helper"])
    names = {e["tid"]: e["args"]["name"] for e in events if e["name"] == "thread_name"}
    assert sorted(names.values()) == ["MainThread", "worker-1"]
    starts = [e for e in events if e["ph"] == "s"]
    finishes = [e for e in events if e["ph"] == "f"]
    assert len(starts) == len(finishes) == 1
    start, finish = starts[0], finishes[0]
    assert start["id"] == finish["id"] and finish["bp"] == "e"
    assert names[start["tid"]] == "MainThread" and names[finish["tid"]] == "worker-1"
    # the flow starts inside `handle` (the call running when the worker began) and ends
    # where the worker's first call starts
    handle = next(e for e in complete if e["name"] == "handle")
    assert ns(handle["ts"]) <= ns(start["ts"]) <= ns(handle["ts"] + handle["dur"])
    work = next(e for e in complete if e["name"] == "work")
    assert ns(work["ts"]) == ns(finish["ts"]) and work["tid"] == finish["tid"]
    assert doc["otherData"]["trace_id"] and doc["otherData"]["start_ns"]


def test_exceptions_are_instant_events_with_their_message(spool):
    write_rich_trace(spool)
    instants = [e for e in chrome_events("@")["traceEvents"] if e["ph"] == "i"]
    exceptions = sorted((e for e in instants if e["cat"] == "exception"), key=lambda e: e["ts"])
    assert [(e["args"]["type"], e["args"]["message"], e["args"]["kind"]) for e in exceptions] \
        == [("ValueError", "bad number 'x'", "raised"), ("ValueError", "bad number 'x'", "caught"),
            ("IOError", "disk full", "raised")]
    assert all(e["s"] == "t" and e["args"]["message"] in e["name"] for e in exceptions)
    assert any(e["cat"] == "event" and e["name"] == "log" for e in instants)


def test_min_duration_keeps_only_long_calls(spool):
    write_rich_trace(spool)
    events = chrome_events("@", "--min-duration", "300ns")["traceEvents"]
    assert sorted(e["name"] for e in events if e["ph"] == "X") == ["handle", "main", "work"]


def test_a_large_trace_exports_in_bounded_memory(spool, tmp_path):
    w = spool.open_writer(language="python")
    lane = w.lane("MainThread")
    fns = [w.function(f"f{i}", "m", "m.py", i) for i in range(50)]
    t = 0
    for depth in range(10):
        t += 1
        w.call(t, lane, fns[depth])
    for i in range(40_000):  # 80,000 events, 10 deep
        t += 1
        w.call(t, lane, fns[10 + i % 40])
        t += 1
        w.ret(t, lane)
    for _ in range(10):
        t += 1
        w.ret(t, lane)
    w.close()

    class Counting:
        size = 0

        def write(self, data: bytes) -> None:
            Counting.size += len(data)

    tracemalloc.start()
    try:
        export_trace(Path(w.path), FORMATS["chrome"], Counting())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert Counting.size > 5 * peak  # the output is far larger than what was held
    assert peak < 3_000_000, peak


def test_merged_traces_are_processes_linked_parent_to_child(spool, tmp_path):
    parent = spool.open_writer(language="python", start_ns=10**18,
                               process={"pid": 10, "argv": ["make"], "cwd": "/", "executable":
                                        "/usr/bin/make", "host": "h"})
    lane = parent.lane("MainThread")
    run, spawn = parent.function("run", "build"), parent.function("spawn", "build")
    parent.call(0, lane, run)
    parent.call(1_000, lane, spawn)
    parent.ret(9_000, lane)
    parent.ret(10_000, lane)
    parent.close()
    child = spool.open_writer(language="python", start_ns=10**18 + 2_000,
                              parent={"trace_id": parent.trace_id, "span_id": "0" * 16},
                              process={"pid": 11, "argv": ["cc"], "cwd": "/", "executable":
                                       "/usr/bin/cc", "host": "h"})
    lane = child.lane("MainThread")
    child.call(500, lane, child.function("compile", "cc"))
    child.ret(3_000, lane)
    child.close()
    target = tmp_path / "both.json"
    ids = f"{parent.trace_id}\n{child.trace_id}\n"
    result = CliRunner().invoke(cli, ["export", "-", "--format", "chrome", "--merge", "-o",
                                      str(target)], input=ids)
    assert result.exit_code == 0, result.output
    events = json.loads(target.read_text())["traceEvents"]
    assert_nested(events)
    complete = {e["name"]: e for e in events if e["ph"] == "X"}
    assert {e["pid"] for e in complete.values()} == {10, 11}
    assert ns(complete["compile"]["ts"]) == 2_500  # one clock for both processes
    [start] = [e for e in events if e["ph"] == "s"]
    [finish] = [e for e in events if e["ph"] == "f"]
    assert start["id"] == finish["id"]
    assert (start["pid"], ns(start["ts"])) == (10, 2_000)  # inside `spawn`, as the child began
    assert (finish["pid"], ns(finish["ts"])) == (11, 2_500)
    assert ns(complete["spawn"]["ts"]) <= 2_000 <= ns(complete["spawn"]["ts"]
                                                      + complete["spawn"]["dur"])
    refused = CliRunner().invoke(cli, ["export", "-", "--format", "otlp", "--merge"], input=ids)
    assert refused.exit_code == 2 and "--merge" in refused.stderr


def test_calls_of_one_function_share_their_args(spool):
    """speedscope names a frame by the event's name and args: a per-call value there
    (the span id) made every call its own frame. The span id and outcome are top-level."""
    w = spool.open_writer(language="python")
    lane = w.lane("MainThread")
    step = w.function("step", "app", "app.py", 3)
    for t in range(0, 500, 100):
        w.call(t, lane, step)
        if t == 400:
            w.exception(t + 5, lane, "KeyError", "k", line=4)
            w.unwind(t + 10, lane, 4)
        else:
            w.ret(t + 10, lane)
    w.close(status="failed")
    calls = [e for e in chrome_events("@")["traceEvents"] if e["ph"] == "X"]
    assert len(calls) == 5
    assert {json.dumps(e["args"], sort_keys=True) for e in calls} == {
        json.dumps({"module": "app", "file": "app.py", "line": 3}, sort_keys=True)}
    assert len({e["span_id"] for e in calls}) == 5
    assert [e["outcome"] for e in calls] == ["returned"] * 4 + ["unwound"]
    assert calls[-1]["unwound_at_line"] == 4 and calls[-1]["cname"] == "terrible"
