"""Chrome Trace Event JSON to .otrace: one trace per file, one lane per (pid, tid).

Complete ("X") and begin/end ("B"/"E") events become calls; on each thread they are
nested as a call stack (a slice that overlaps its parent's end is cut there); instant
events become exceptions (category `exception`, or args with `type` and `message`),
crashes (category `crash`) or events. Flow, counter, async and sample events have no
place in a call tree and are skipped. A file that `orion export --format chrome` wrote
keeps its trace id and start time (from `otherData`); for others the id is a hash of the
file's content, so importing the same file twice is noticed, and the start comes from the
trace's own clock (VizTracer's `baseTimeNanoseconds`) or else is placed so that the trace
ends at the file's modification time (most tools write timestamps on a monotonic clock).
VizTracer's `name (file:line)` names are split and its `--log_exception` instants become
exceptions (see docs/interchange.md for the rule that picks the fatal one).
"""

from __future__ import annotations

import ast
import hashlib
import heapq
import re
from pathlib import Path
from typing import Any, Iterable

from .. import __version__
from ..format.writer import TraceWriter
from . import ImportFormatError

_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
_LOCATED_NAME = re.compile(r"^(?P<name>.+) \((?P<file>.+):(?P<line>\d+)\)$")
_VIZ_EXCEPTION = re.compile(r"^Exception(?: - .*?)? = (?P<repr>.*)$", re.DOTALL)
_CLASS_REPR = re.compile(r"^<class '(?P<type>[^']+)'>$")
_CALL_REPR = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)\((?P<args>.*)\)$", re.DOTALL)
SLICE_PHASES = ("X", "B", "E")
INSTANT_PHASES = ("i", "I", "n", "R")


def _ns(value: Any) -> int:
    return round(float(value) * 1000)


def _events(documents: list[Any]) -> tuple[list[dict], dict, dict | None]:
    """The events, `otherData`, and VizTracer's `viztracer_metadata` (None if absent)."""
    events: list[dict] = []
    other: dict = {}
    viztracer: dict | None = None
    for doc in documents:
        if isinstance(doc, dict):
            events.extend(doc.get("traceEvents") or [])
            if isinstance(doc.get("otherData"), dict):
                other = doc["otherData"]
            if isinstance(doc.get("viztracer_metadata"), dict):
                viztracer = doc["viztracer_metadata"]
        elif isinstance(doc, list):
            events.extend(doc)
    return [e for e in events if isinstance(e, dict)], other, viztracer


def split_location(name: str) -> tuple[str, str | None, int | None]:
    """VizTracer names Python functions `name (file:line)`: (name, file, line)."""
    match = _LOCATED_NAME.match(name)
    if match is None:
        return name, None, None
    return match["name"], match["file"], int(match["line"])


def viztracer_exception(name: str) -> tuple[str, str] | None:
    """(type, message) of VizTracer's `--log_exception` instant, named
    `Exception - <raised expression> = <repr of the exception>`; None for other instants."""
    match = _VIZ_EXCEPTION.match(name)
    if match is None:
        return None
    text = match["repr"]
    if (klass := _CLASS_REPR.match(text)) is not None:
        return klass["type"], ""
    if (call := _CALL_REPR.match(text)) is None:
        return "Exception", text
    try:
        args = ast.literal_eval(f"({call['args']},)") if call["args"] else ()
    except (ValueError, SyntaxError, RecursionError, MemoryError):
        return call["type"], call["args"]
    message = str(args[0]) if len(args) == 1 else ", ".join(map(repr, args))
    return call["type"], message


class _Lane:
    def __init__(self, pid: Any, tid: Any) -> None:
        self.pid, self.tid = pid, tid
        self.name = f"{pid}/{tid}"
        self.slices: list[list] = []  # [start, end, event]
        self.instants: list[tuple[int, dict]] = []
        self.open: list[list] = []  # B without E yet


def convert_documents(documents: list[Any], directory: Path, source: Path) -> list[Path]:
    events, other, viztracer = _events(documents)
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
    base = (viztracer or {}).get("baseTimeNanoseconds")
    if isinstance(start_ns, int) and start_ns >= 0:  # written by orion export
        origin = min(origin, 0)
    elif isinstance(base, int) and base > 0:  # VizTracer: wall clock = base + ts
        start_ns = base
    else:  # no clock of its own: the file was written when the trace ended
        start_ns = max(source.stat().st_mtime_ns - last, -origin)
    fatal = _viztracer_exceptions(lanes.values()) if viztracer is not None else None
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
                name, file, line = str(e.get("name") or "(unnamed)"), args.get("file"), \
                    args.get("line")
                if not file:
                    name, file, line = split_location(name)
                module = args.get("module") or (e.get("cat") if e.get("cat") != "call" else None)
                fn = w.function(name, str(module) if module else None,
                                str(file) if file else None,
                                line if isinstance(line, int) and line >= 0 else None)
                w.call(t, lane_id, fn)
            elif kind == "end":
                if e.get("outcome") == "unwound":  # as orion's chrome export writes it
                    line = e.get("unwound_at_line")
                    w.unwind(t, lane_id, line if isinstance(line, int) else None)
                    failed = True
                else:
                    w.ret(t, lane_id)
            else:
                _instant(w, t, lane_id, e, args)
        if fatal is not None:
            w.close(status="failed", exception={"type": fatal[0], "message": fatal[1]})
        else:
            w.close(status="failed" if failed else "ok")
    return [target]


def _viztracer_exceptions(lanes: Iterable[_Lane]) -> tuple[str, str] | None:
    """Make VizTracer's exception instants exceptions, and find the one that ended the
    program: the last one on a lane after which the call it happened in (at its outermost)
    started no other call. The calls it happened in then unwind rather than return (a
    VizTracer trace does not say which calls raised). Returns its (type, message)."""
    fatal = None
    for lane in lanes:
        last = None
        for t, e in lane.instants:
            found = viztracer_exception(str(e.get("name") or ""))
            if found is not None:
                e["cat"] = "exception"
                e["args"] = {"type": found[0], "message": found[1], "kind": "raised"}
                if last is None or t >= last[0]:
                    last = (t, found)
        if last is None:
            continue
        t, found = last
        around = [s for s in lane.slices if s[0] <= t <= s[1]]
        if not around:
            continue
        outermost_end = max(s[1] for s in around)
        if any(t < s[0] <= outermost_end for s in lane.slices):
            continue
        for enclosing in around:
            enclosing[2]["outcome"] = "unwound"
        fatal = found
    return fatal


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
    for order, (t, kind, e) in enumerate(_with_instants(out, instants)):
        yield (t - origin, order, lane_id, kind, e)


def _with_instants(slices: list[tuple], instants: list[tuple[int, dict]]):
    """Calls and ends with the instants merged in by time; an instant at the very time a
    call ends belongs to that call (an exception is recorded at the time its frame
    unwinds), one at the time a call starts to the call that starts."""
    pending = iter(instants)
    upcoming = next(pending, None)
    for t, kind, e in slices:
        while upcoming is not None and (upcoming[0] < t or (upcoming[0] == t
                                                             and kind == "end")):
            yield upcoming[0], "instant", upcoming[1]
            upcoming = next(pending, None)
        yield t, kind, e
    while upcoming is not None:
        yield upcoming[0], "instant", upcoming[1]
        upcoming = next(pending, None)


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
