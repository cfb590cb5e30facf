"""Chrome Trace Event JSON to .otrace: one trace per file, one lane per (pid, tid).

Complete ("X") and begin/end ("B"/"E") events become calls; on each thread they are
nested as a call stack (a slice that overlaps its parent's end is cut there); instant
events become exceptions (category `exception`, or args with `type` and `message`),
crashes (category `crash`) or events. Flow, counter, async and sample events have no
place in a call tree and are skipped. A file that `orion export --format chrome` wrote
keeps its trace id and start time (from `otherData`); for others the id is a hash of the
file's content, so importing the same file twice is noticed.
"""

from __future__ import annotations

import hashlib
import heapq
import re
from pathlib import Path
from typing import Any

from .. import __version__
from ..format.writer import TraceWriter
from . import ImportFormatError

_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
SLICE_PHASES = ("X", "B", "E")
INSTANT_PHASES = ("i", "I", "n", "R")


def _ns(value: Any) -> int:
    return round(float(value) * 1000)


def _events(documents: list[Any]) -> tuple[list[dict], dict]:
    events: list[dict] = []
    other: dict = {}
    for doc in documents:
        if isinstance(doc, dict):
            events.extend(doc.get("traceEvents") or [])
            if isinstance(doc.get("otherData"), dict):
                other = doc["otherData"]
        elif isinstance(doc, list):
            events.extend(doc)
    return [e for e in events if isinstance(e, dict)], other


class _Lane:
    def __init__(self, pid: Any, tid: Any) -> None:
        self.pid, self.tid = pid, tid
        self.name = f"{pid}/{tid}"
        self.slices: list[list] = []  # [start, end, event]
        self.instants: list[tuple[int, dict]] = []
        self.open: list[list] = []  # B without E yet


def convert_documents(documents: list[Any], directory: Path, source: Path) -> list[Path]:
    events, other = _events(documents)
    lanes: dict[tuple, _Lane] = {}
    process_names: dict[Any, str] = {}
    last = None
    for e in events:
        ph = e.get("ph")
        key = (e.get("pid", 0), e.get("tid", 0))
        if ph == "M":
            args = e.get("args") or {}
            if e.get("name") == "thread_name" and "name" in args:
                lanes.setdefault(key, _Lane(*key)).name = str(args["name"])
            elif e.get("name") == "process_name" and "name" in args:
                process_names[key[0]] = str(args["name"])
            continue
        if ph not in SLICE_PHASES and ph not in INSTANT_PHASES:
            continue
        t = _ns(e.get("ts", 0))
        last = t if last is None else max(last, t)
        lane = lanes.setdefault(key, _Lane(*key))
        if ph == "X":
            end = t + max(0, _ns(e.get("dur", 0)))
            last = max(last, end)
            lane.slices.append([t, end, e])
        elif ph == "B":
            lane.open.append([t, None, e])
        elif ph == "E":
            if lane.open:
                begun = lane.open.pop()
                begun[1] = t
                lane.slices.append(begun)
        else:
            lane.instants.append((t, e))
    if last is None:
        raise ImportFormatError("Chrome trace without any slice or instant event")
    for lane in lanes.values():
        for begun in lane.open:
            begun[1] = last
            lane.slices.append(begun)
    origin = min(min((s[0] for s in lane.slices), default=last) for lane in lanes.values())
    origin = min(origin, min((t for lane in lanes.values() for t, _ in lane.instants),
                             default=origin))
    trace_id = str(other.get("trace_id") or "")
    if not _TRACE_ID.match(trace_id):
        trace_id = hashlib.blake2b(source.read_bytes(), digest_size=16).hexdigest()
    start_ns = other.get("start_ns")
    if isinstance(start_ns, int) and start_ns >= 0:
        origin = min(origin, 0)
    else:
        start_ns = source.stat().st_mtime_ns
    first_pid = next(iter(lanes.values())).pid
    pids = {lane.pid for lane in lanes.values()}
    if len(pids) > 1:  # several processes (`orion export --merge`): say whose each lane is
        for lane in lanes.values():
            lane.name = f"{process_names.get(lane.pid, f'pid {lane.pid}')}: {lane.name}"
    service = other.get("service") or (process_names.get(first_pid) if len(pids) == 1
                                       else None)
    target = directory / f"{trace_id}.otrace"
    with open(target, "wb") as out:
        w = TraceWriter(out, language=str(other.get("language") or "chrome"),
                        agent="orion-import-chrome", agent_version=__version__, mode="dev",
                        trace_id=trace_id, start_ns=start_ns + origin,
                        process={"pid": first_pid if isinstance(first_pid, int) else None,
                                 "argv": None, "cwd": None, "executable": None, "host": None},
                        service=str(service) if service else None)
        streams = []
        for lane in sorted(lanes.values(), key=lambda lane: (str(lane.pid), str(lane.tid))):
            lane_id = w.lane(lane.name, "thread",
                             lane.tid if isinstance(lane.tid, int) else None)
            streams.append(_lane_records(lane, lane_id, origin))
        failed = False
        for t, _, lane_id, kind, e in heapq.merge(*streams, key=lambda r: (r[0], r[1])):
            args = e.get("args") if isinstance(e.get("args"), dict) else {}
            if kind == "call":
                line = args.get("line")
                module = args.get("module") or (e.get("cat") if e.get("cat") != "call" else None)
                fn = w.function(str(e.get("name") or "(unnamed)"),
                                str(module) if module else None,
                                str(args["file"]) if args.get("file") else None,
                                line if isinstance(line, int) and line >= 0 else None)
                w.call(t, lane_id, fn)
            elif kind == "end":
                if args.get("outcome") == "unwound":
                    w.unwind(t, lane_id, args.get("unwound_at_line")
                             if isinstance(args.get("unwound_at_line"), int) else None)
                    failed = True
                else:
                    w.ret(t, lane_id)
            else:
                _instant(w, t, lane_id, e, args)
        w.close(status="failed" if failed else "ok")
    return [target]


def _lane_records(lane: _Lane, lane_id: int, origin: int):
    """(t, order, lane, kind, event): calls and ends nested as a stack, instants merged in."""
    lane.slices.sort(key=lambda s: (s[0], -s[1]))
    out: list[tuple] = []
    stack: list[list] = []
    for start, end, e in lane.slices:
        while stack and stack[-1][1] <= start:
            out.append((stack[-1][1], "end", stack.pop()[2]))
        if stack:
            end = min(end, stack[-1][1])
        out.append((start, "call", e))
        stack.append([start, end, e])
    while stack:
        out.append((stack[-1][1], "end", stack.pop()[2]))
    instants = sorted(lane.instants, key=lambda i: i[0])
    merged = heapq.merge(out, ((t, "instant", e) for t, e in instants), key=lambda r: r[0])
    for order, (t, kind, e) in enumerate(merged):
        yield (t - origin, order, lane_id, kind, e)


def _instant(w: TraceWriter, t: int, lane: int, e: dict, args: dict) -> None:
    cat, name = str(e.get("cat") or ""), str(e.get("name") or "")
    if cat == "exception" or ("type" in args and "message" in args):
        kind = args.get("kind") if args.get("kind") in ("raised", "caught") else "raised"
        line = args.get("line")
        w.exception(t, lane, str(args.get("type") or name), str(args.get("message") or ""),
                    kind=kind, line=line if isinstance(line, int) and line >= 0 else None)
    elif cat == "crash":
        w.crash(t, lane, str(args.get("kind") or "crash"), str(args.get("reason") or name),
                str(args.get("message") or ""))
    else:
        attrs = args.get("attrs") if isinstance(args.get("attrs"), dict) else args
        w.event(t, lane, name or cat or "event", attrs)
