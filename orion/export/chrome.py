"""The `chrome` export: Chrome Trace Event JSON, for Perfetto UI and chrome://tracing.

Calls are complete ("X") events on their lane's thread, so they nest as the calls did;
their `args` are their function's module, file and line (the same for every call, so
speedscope merges a function's calls into one frame), and each call's own span id and
outcome are top-level keys (`span_id`, `outcome`, `unwound_at_line`) that viewers ignore
and `orion import` reads. A lane started by another (a thread, a task) gets a flow arrow
from the call that was running on the parent lane to the lane's first call; exceptions,
crashes and events are instant events carrying their message. Times are microseconds (with nanosecond decimals)
since the trace started; `otherData` holds the trace's id and absolute start.

Several traces can share one file (`orion export --merge`): each is a process, on one
clock (since the earliest start), and a trace whose header names another of them as its
parent (a forked or spawned child) gets a flow from the call the parent was running when
the child started to the child's first call.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from ..format.reader import TraceReader
from ..render.jsonout import dumps
from .jsonstream import JsonItems
from .spans import LaneItem, Span, SpanStream


def _us(ns: int) -> float:
    return ns / 1000


def instant(record: dict, pid: int, tid: int, offset: int = 0) -> dict:
    """An exception, crash or event record as an instant event."""
    kind = record["type"]
    if kind == "exception":
        name = f"{record['exc_type']}: {record['message']}"
        args = {"type": record["exc_type"], "message": record["message"],
                "kind": record["kind"], "line": record["line"]}
        cat, scope = "exception", "t"
    elif kind == "crash":
        name = f"crash: {record['reason']}: {record['message']}"
        args = {"kind": record["kind"], "reason": record["reason"],
                "message": record["message"], "detail": record["detail"]}
        cat, scope = "crash", "p"
    elif kind == "event":
        name, args, cat, scope = str(record["kind"]), {"attrs": record["attrs"]}, "event", "t"
    else:
        name, args, cat, scope = f"stack: {record['reason']}", {}, "stack", "t"
    return {"name": name, "cat": cat, "ph": "i", "s": scope, "ts": _us(offset + record["t"]),
            "pid": pid, "tid": tid, "args": args}


def write(path: Path, out: BinaryIO, min_duration_ns: int = 0) -> None:
    """Stream one trace as {"traceEvents": [...], "otherData": {...}}."""
    write_merged([path], out, min_duration_ns)


class _Plan:
    """What is known of every trace before streaming them: starts, pids, child links."""

    def __init__(self, paths: list[Path]) -> None:
        headers = []
        for path in paths:
            with TraceReader(path) as reader:
                headers.append(reader.header)
        starts = [h.get("start_ns") if isinstance(h.get("start_ns"), int) else 0
                  for h in headers]
        self.headers = headers
        self.base = min(starts)
        self.offsets = [start - self.base for start in starts]
        self.pids: list[int] = []
        for header in headers:
            pid = (header.get("process") or {}).get("pid")
            pid = pid if isinstance(pid, int) and not isinstance(pid, bool) else 1
            while pid in self.pids:  # two traces of the same pid: keep processes apart
                pid += 1_000_000
            self.pids.append(pid)
        index_of = {h.get("trace_id"): i for i, h in enumerate(headers)}
        # parent trace index -> [(child start on the parent's clock, flow id)]
        self.spawns: dict[int, list[tuple[int, int]]] = {}
        self.spawned_by: dict[int, int] = {}  # child trace index -> flow id
        for child, header in enumerate(headers):
            link = header.get("parent")
            parent = index_of.get(link.get("trace_id")) if isinstance(link, dict) else None
            if parent is not None and parent != child:
                flow = flow_id(len(headers) + child, 0)
                when = self.offsets[child] - self.offsets[parent]
                self.spawns.setdefault(parent, []).append((when, flow))
                self.spawned_by[child] = flow


def flow_id(trace_index: int, n: int) -> int:
    """A flow id unique in the file (and exact in JavaScript: below 2**53)."""
    return (trace_index << 32) + n


def write_merged(paths: list[Path], out: BinaryIO, min_duration_ns: int = 0) -> None:
    """Stream several traces into one Chrome trace, one process each."""
    plan = _Plan(paths)
    items = JsonItems(out, '{"displayTimeUnit":"ns","traceEvents":[')
    for index, path in enumerate(paths):
        _trace(items, path, index, plan, min_duration_ns)
    if len(paths) == 1:
        header = plan.headers[0]
        other = {"trace_id": header.get("trace_id"), "start_ns": plan.base,
                 "language": (header.get("agent") or {}).get("language"),
                 "service": header.get("service"), "exporter": "orion"}
    else:
        other = {"start_ns": plan.base, "traces": [h.get("trace_id") for h in plan.headers],
                 "exporter": "orion"}
    items.close('],"otherData":' + dumps(other) + "}")


def _trace(items: JsonItems, path: Path, index: int, plan: _Plan, min_duration_ns: int) -> None:
    pid, offset = plan.pids[index], plan.offsets[index]
    pending = sorted(plan.spawns.get(index, []))
    first_root: Span | None = None
    with SpanStream(path) as stream:
        for item in stream.items():
            if isinstance(item, LaneItem):
                items.add(instant(item.record, pid, item.lane, offset))
                continue
            if item.duration >= min_duration_ns:
                _span(items, item, pid, offset, index)
            for record in item.exceptions:
                items.add(instant(record, pid, item.lane, offset))
            for record in item.events:
                items.add(instant(record, pid, item.lane, offset))
            if item.parent is None and (first_root is None or item.start < first_root.start):
                first_root = item
            for spawn in [s for s in pending if item.start <= s[0] <= item.end]:
                pending.remove(spawn)  # the innermost call open when the child started
                items.add(_flow("s", spawn[1], offset + spawn[0], pid, item.lane))
        for when, flow in pending:  # nothing was open then: an unbound start
            items.add(_flow("s", flow, offset + when, pid, 0))
        flow = plan.spawned_by.get(index)
        if flow is not None:
            start, lane = (first_root.start, first_root.lane) if first_root else (0, 0)
            items.add(_flow("f", flow, offset + start, pid, lane))
        header = stream.header
        argv = (header.get("process") or {}).get("argv") or []
        name = header.get("service") or (argv[0] if argv else None) or "trace"
        items.add({"name": "process_name", "ph": "M", "pid": pid, "tid": 0,
                   "args": {"name": str(name)}})
        for lane in stream.lanes.values():
            items.add({"name": "thread_name", "ph": "M", "pid": pid, "tid": lane.id,
                       "args": {"name": lane.name}})
            items.add({"name": "thread_sort_index", "ph": "M", "pid": pid, "tid": lane.id,
                       "args": {"sort_index": lane.id}})


def _flow(phase: str, flow: int, t: int, pid: int, tid: int) -> dict:
    event = {"name": "spawn", "cat": "spawn", "ph": phase, "id": flow, "ts": _us(t),
             "pid": pid, "tid": tid}
    if phase == "f":
        event["bp"] = "e"
    return event


def _span(items: JsonItems, span: Span, pid: int, offset: int, trace_index: int) -> None:
    """A call as an X event. `args` holds only what is the same for every call of its
    function (speedscope tells frames apart by name and args); what is the call's own
    (span id, outcome) goes in top-level keys that viewers ignore."""
    fn = span.fn
    event = {"name": span.label, "cat": (fn.module if fn and fn.module else "call"),
             "ph": "X", "ts": _us(offset + span.start), "dur": _us(span.duration),
             "pid": pid, "tid": span.lane, "span_id": span.span_id,
             "outcome": span.outcome}
    if span.line is not None:
        event["unwound_at_line"] = span.line
    if span.failed:
        event["cname"] = "terrible"  # chrome://tracing's reserved red
    if fn is not None:
        event["args"] = {"module": fn.module, "file": fn.file, "line": fn.line}
    items.add(event)
    parent = span.parent
    if parent is not None and parent.lane != span.lane:
        t, flow = offset + span.start, flow_id(trace_index, span.index + 1)
        items.add(_flow("s", flow, t, pid, parent.lane))
        items.add(_flow("f", flow, t, pid, span.lane))
