"""The `chrome` export: Chrome Trace Event JSON, for Perfetto UI and chrome://tracing.

Calls are complete ("X") events on their lane's thread, so they nest as the calls did;
a lane started by another (a thread, a task) gets a flow arrow from the call that was
running on the parent lane to the lane's first call; exceptions, crashes and events are
instant events carrying their message. Times are microseconds since the trace started
(with nanosecond decimals); `otherData` holds the trace's id and absolute start.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from ..render.jsonout import dumps
from .jsonstream import JsonItems
from .spans import LaneItem, Span, SpanStream


def _us(ns: int) -> float:
    return ns / 1000


def instant(record: dict, pid: int, tid: int) -> dict:
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
    return {"name": name, "cat": cat, "ph": "i", "s": scope, "ts": _us(record["t"]),
            "pid": pid, "tid": tid, "args": args}


def write(path: Path, out: BinaryIO, min_duration_ns: int = 0) -> None:
    """Stream the trace as {"traceEvents": [...], ...}."""
    with SpanStream(path) as stream:
        header = stream.header
        process = header.get("process") or {}
        pid = process.get("pid") if isinstance(process.get("pid"), int) else 1
        items = JsonItems(out, '{"displayTimeUnit":"ns","traceEvents":[')
        for item in stream.items():
            if isinstance(item, LaneItem):
                items.add(instant(item.record, pid, item.lane))
                continue
            if item.duration >= min_duration_ns:
                _span(items, item, pid)
            for record in item.exceptions:
                items.add(instant(record, pid, item.lane))
            for record in item.events:
                items.add(instant(record, pid, item.lane))
        argv = process.get("argv") or []
        name = header.get("service") or (argv[0] if argv else None) or "trace"
        items.add({"name": "process_name", "ph": "M", "pid": pid, "tid": 0,
                   "args": {"name": str(name)}})
        for lane in stream.lanes.values():
            items.add({"name": "thread_name", "ph": "M", "pid": pid, "tid": lane.id,
                       "args": {"name": lane.name}})
            items.add({"name": "thread_sort_index", "ph": "M", "pid": pid, "tid": lane.id,
                       "args": {"sort_index": lane.id}})
        other = {"trace_id": stream.trace_id, "start_ns": stream.start_ns,
                 "language": (header.get("agent") or {}).get("language"),
                 "service": header.get("service"), "exporter": "orion"}
        items.close('],"otherData":' + dumps(other) + "}")


def _span(items: JsonItems, span: Span, pid: int) -> None:
    fn = span.fn
    args = {"outcome": span.outcome, "span_id": span.span_id}
    if fn is not None:
        args.update(module=fn.module, file=fn.file, line=fn.line)
    if span.line is not None:
        args["unwound_at_line"] = span.line
    items.add({"name": span.label, "cat": (fn.module if fn and fn.module else "call"),
               "ph": "X", "ts": _us(span.start), "dur": _us(span.duration), "pid": pid,
               "tid": span.lane, "args": args})
    parent = span.parent
    if parent is not None and parent.lane != span.lane:
        flow = {"name": "spawn", "cat": "lane", "id": span.index + 1, "ts": _us(span.start),
                "pid": pid}
        items.add(dict(flow, ph="s", tid=parent.lane))
        items.add(dict(flow, ph="f", bp="e", tid=span.lane))
