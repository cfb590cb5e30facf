"""A trace read as a stream of finished spans, in bounded memory.

The exporters (chrome, otlp, jaeger, folded, speedscope) and the call-graph aggregation
need calls with their start, end, parent and exceptions, but not the whole call tree:
`SpanStream` reads records once with a per-lane stack of open calls and yields each call
as a `Span` when it ends, so memory is bounded by the deepest stack, not by the trace.

Span ids: a call whose first event is an `otel.span` event (written by `orion import` for
spans that came from OpenTelemetry or Jaeger) keeps the ids and attributes recorded there;
every other call gets a span id derived from the trace and its call number, stable from
one export to the next.

Crashes: a native crash (signal, abort) ends the calls open on its lane without a return
or unwind. Those calls keep the crash (`Span.crash`), so every export counts them as failed (error
status, an `exception` event on the innermost). A crash recorded with a stack snapshot on
a lane that recorded no calls (an uninstrumented native program, or the Python agent's
crash report) gets one zero-length span per stack frame, so that the crash still has a
stack of failed spans.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from ..format import constants as C
from ..format.decode import MALFORMED, Decoder, malformed_record
from ..format.errors import CorruptTrace
from ..format.reader import TraceReader
from ..model import (OPEN, OUTSIDE_LABEL, RESOURCE_META, RETURNED, SPAN_META, UNWOUND,
                     Definitions, Function, Module, crash_lines, read_native_functions)


def span_id_seed(header: dict) -> str:
    """What derived span ids hash besides the call number: the trace and its process."""
    process = header.get("process") or {}
    return f"{header.get('trace_id')}/{process.get('pid')}/{header.get('start_ns')}"


def derived_span_id(seed: str, index: int) -> str:
    """The span id of the `index`th call (counting from 0 in record order, frames
    outside a ring window included) of the trace `seed` stands for."""
    digest = hashlib.blake2b(f"{seed}/{index}".encode(), digest_size=8).digest()
    return (digest if any(digest) else b"\x00" * 7 + b"\x01").hex()


def spans_at_least(items: Iterable[Any], min_duration_ns: int) -> Iterator["Span"]:
    """The spans of `items` (as SpanStream.items() yields them, callees before callers)
    lasting at least `min_duration_ns`; the exceptions and events of a shorter one go to
    its caller, so that no failure vanishes from a filtered export."""
    for span in items:
        if not isinstance(span, Span):
            continue
        if span.duration >= min_duration_ns:
            yield span
        elif span.parent is not None:
            span.parent.exceptions.extend(span.exceptions)
            span.parent.events.extend(span.events)


def snapshot_frames(snapshot: dict, function: Callable[[int], Function],
                    modules: list[Module], crash: dict | None) -> list[tuple[Function, Any]]:
    """A STACK record's frames, outermost first, as (function, line); a native frame
    recorded without its line gets the one its crash's return addresses give (the
    crash at the snapshot's time, if `crash` is it)."""
    functions = [function(frame["fn"]) for frame in snapshot["frames"]]
    lines = [frame["line"] for frame in snapshot["frames"]]
    if crash is not None and crash.get("t") == snapshot["t"] and any(
            fn.addr is not None and line is None for fn, line in zip(functions, lines)):
        found = crash_lines(crash.get("detail"), functions, modules)
        lines = [line if line is not None else new for line, new in zip(lines, found)]
    return list(zip(functions, lines))


class FunctionNames:
    """FUNCTION records as Functions, a native one (an address) named from its binary as
    `orion show` names it: every export gives a C function the same name, file and line."""

    def __init__(self, path: str | Path) -> None:
        self.path = path
        self._native: dict[int, Function] | None = None  # read when first needed

    def function(self, d: dict) -> Function:
        """The Function a decoded FUNCTION record stands for."""
        if d["name"] is None and isinstance(d.get("addr"), int):
            if self._native is None:
                self._native = read_native_functions(self.path)
            fn = self._native.get(d["id"])
            if fn is not None:
                return fn
        return Function.from_record(d)


class Span:
    """One call, finished (or still open when the trace ended).

    Times are nanoseconds since the trace started. `parent` is the span that was running
    when this one began: the caller on the same lane, or for the first call of a lane the
    call open on its parent lane (the thread or task that started it), or for an imported
    span the open span its recorded parent id names. `child_ns` is the
    time spent in direct callees, so self time is duration - child_ns.
    """

    __slots__ = ("index", "lane", "fn", "start", "end", "outcome", "parent", "depth",
                 "span_id", "exceptions", "events", "meta", "child_ns", "line", "stack",
                 "crash")

    def __init__(self, index: int, lane: int, fn: Function | None, start: int,
                 parent: "Span | None", depth: int, span_id: str) -> None:
        self.index = index
        self.lane = lane
        self.fn = fn
        self.start = start
        self.end = start
        self.outcome = OPEN
        self.parent = parent
        self.depth = depth
        self.span_id = span_id
        self.exceptions: list[dict] = []
        self.events: list[dict] = []  # events, crashes and stacks recorded inside the call
        self.meta: dict | None = None  # the otel.span event's attributes, if any
        self.child_ns = 0
        self.line: int | None = None
        self.stack = 0  # its call path: a node of SpanStream.paths (0 is the empty path)
        self.crash: dict | None = None  # the crash that ended it, while it was open

    @property
    def label(self) -> str:
        return self.fn.label if self.fn is not None else OUTSIDE_LABEL

    @property
    def duration(self) -> int:
        return self.end - self.start

    @property
    def self_ns(self) -> int:
        return max(0, self.duration - self.child_ns)

    @property
    def failed(self) -> bool:
        return (self.outcome == UNWOUND or self.crash is not None
                or bool(self.meta and self.meta.get("status_code") == 2))

    @property
    def parent_span_id(self) -> str | None:
        if self.meta is not None and "parent_span_id" in self.meta:
            return self.meta["parent_span_id"] or None
        return self.parent.span_id if self.parent is not None else None


class LaneItem:
    """An exception, event, crash or stack recorded while no call was open on its lane."""

    __slots__ = ("lane", "record")

    def __init__(self, lane: int, record: dict) -> None:
        self.lane = lane
        self.record = record


class Opened:
    """A span beginning (`SpanStream.items(opens=True)`); the span is yielded again when
    it ends."""

    __slots__ = ("span",)

    def __init__(self, span: Span) -> None:
        self.span = span


class SpanStream(Definitions):
    """Open with `with SpanStream(path) as stream:` and iterate `stream.items()` once.

    Definitions (functions, lanes, resources) are filled in as they are read, so by the
    time a span is yielded, its function and lane are known.
    """

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.reader = TraceReader(path)
        self.header: dict = self.reader.header
        self.trace_id: str = str(self.header.get("trace_id") or "0" * 32)
        self.resources: dict[int, dict] = {}  # imported resource index -> its metadata
        self.end_t = 0
        self.calls = 0
        # Call paths as a trie, so a span names its whole stack with one int whatever
        # the depth: node -> (parent node, label); node 0 is the empty path.
        self.paths: list[tuple[int, str]] = [(0, "")]
        self._path_ids: dict[tuple[int, str], int] = {}
        self._open_by_id: dict[str, Span] = {}  # open imported spans, for their children
        self._id_seed = span_id_seed(self.header)
        self.names = FunctionNames(self.reader.path)
        self._opens = False  # yield Opened items too (see items)
        self.modules: list[Module] = []  # loaded binaries, for native crash lines

    def __enter__(self) -> "SpanStream":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.reader.close()

    @property
    def start_ns(self) -> int:
        start = self.header.get("start_ns")
        return start if isinstance(start, int) else 0

    @property
    def complete(self) -> bool:
        return self.reader.complete

    def derived_span_id(self, index: int) -> str:
        return derived_span_id(self._id_seed, index)

    def items(self, opens: bool = False) -> Iterator[Span | LaneItem | Opened]:
        """Spans as they end (then those still open, innermost first) and lane-level items,
        in record order; with `opens`, also an `Opened` as each span begins, for writers
        that replay calls in time order."""
        self._opens = opens
        try:
            yield from self._items()
        except CorruptTrace as exc:
            exc.path = exc.path or str(self.reader.path)
            raise

    def _items(self) -> Iterator[Span | LaneItem]:
        decoder = Decoder()
        stacks: dict[int, list[Span]] = {}
        first_t: dict[int, int] = {}  # lane -> its first timestamp
        root_ns: dict[int, int] = {}  # lane -> time in its finished root calls
        held: dict[int, list[dict]] = {}  # lane -> crash/stack records of a lane without calls
        called: set[int] = set()  # lanes that recorded calls
        for rec in self.reader.records():
            code = rec[0]
            try:
                if code in C.TIMED_TYPES:
                    t = rec[1]
                    if t > self.end_t:
                        self.end_t = t
                    lane_id = rec[2]
                    first_t.setdefault(lane_id, t)
                    stack = stacks.get(lane_id)
                    if stack is None:
                        stack = stacks[lane_id] = []
                        self.lane(lane_id)
                    if code == C.CALL:
                        stack.append(self._open(rec, stack, stacks))
                        called.add(lane_id)
                        if self._opens:
                            yield Opened(stack[-1])
                    elif code == C.RETURN or code == C.UNWIND:
                        if stack:
                            span = stack.pop()
                        else:  # a ring window: this frame began before the recording
                            span = Span(self.calls, lane_id, None, first_t[lane_id], None, 0,
                                        self.derived_span_id(self.calls))
                            self.calls += 1
                            span.stack = self.path(0, OUTSIDE_LABEL)
                            span.child_ns = root_ns.get(lane_id, 0)  # it adopts the roots
                            root_ns[lane_id] = 0
                        span.end = t
                        if code == C.RETURN:
                            span.outcome = RETURNED
                        else:
                            span.outcome = UNWOUND
                            span.line = rec[3]
                        if stack:
                            stack[-1].child_ns += span.duration
                        else:
                            root_ns[lane_id] = root_ns.get(lane_id, 0) + span.duration
                        if span.meta is not None:
                            self._open_by_id.pop(span.span_id, None)
                        yield span
                    else:
                        d = decoder.record(rec)
                        if stack:
                            if d["type"] == "crash":
                                for span in stack:
                                    span.crash = d
                            self._attach(stack[-1], d)
                        elif d["type"] == "event" and d["kind"] == RESOURCE_META:
                            attrs = d["attrs"] if isinstance(d["attrs"], dict) else {}
                            self.resources[attrs.get("index", len(self.resources))] = attrs
                        elif d["type"] in ("crash", "stack") and lane_id not in called:
                            yield from self._hold(held, lane_id, d)
                        else:
                            yield LaneItem(lane_id, d)
                    if lane_id in held and code not in (C.CRASH, C.STACK):
                        yield from (LaneItem(lane_id, r) for r in held.pop(lane_id))
                elif code == C.STRING:
                    decoder.record(rec)
                elif code == C.FUNCTION or code == C.LANE or code == C.MODULE:
                    self.define(decoder.record(rec))
            except MALFORMED as exc:
                raise malformed_record(code, exc) from None
        for lane_id, records in held.items():
            yield from (LaneItem(lane_id, r) for r in records)
        for stack in stacks.values():
            while stack:  # calls still open when the trace ended
                span = stack.pop()
                span.end = max(self.end_t, span.start)
                if stack:
                    stack[-1].child_ns += span.duration
                yield span

    def _open(self, rec: list, stack: list[Span], stacks: dict[int, list[Span]]) -> Span:
        lane_id = rec[2]
        fn = self.functions.get(rec[3]) or self.function(rec[3])
        if stack:
            parent = stack[-1]
        else:
            parent_lane = self.lane(lane_id).parent
            spawner = stacks.get(parent_lane) if parent_lane is not None else None
            parent = spawner[-1] if spawner else None
        index = self.calls
        self.calls += 1
        span = Span(index, lane_id, fn, rec[1], parent, len(stack),
                    self.derived_span_id(index))
        span.stack = self.path(stack[-1].stack if stack else 0, fn.qualified)
        return span

    def _hold(self, held: dict[int, list[dict]], lane_id: int, d: dict
              ) -> Iterator[Span | Opened]:
        """Keep a crash or stack recorded outside any call until its pair arrives (agents
        write the two in either order); a crash with its stack snapshot becomes the
        snapshot's frames as crashed spans, the records attached to the innermost."""
        records = held.setdefault(lane_id, [])
        records.append(d)
        crash = next((r for r in records if r["type"] == "crash"), None)
        snapshot = next((r for r in records if r["type"] == "stack" and r["frames"]), None)
        if crash is None or snapshot is None:
            return
        del held[lane_id]
        spans: list[Span] = []
        for frame in snapshot["frames"]:
            parent = spans[-1] if spans else None
            fn = self.functions.get(frame["fn"]) or self.function(frame["fn"])
            span = Span(self.calls, lane_id, fn, crash["t"], parent, len(spans),
                        self.derived_span_id(self.calls))
            self.calls += 1
            span.stack = self.path(parent.stack if parent else 0, fn.qualified)
            span.line = frame["line"]
            span.crash = crash
            spans.append(span)
        spans[-1].events.extend(records)
        if self._opens:
            yield from map(Opened, spans)
        yield from reversed(spans)

    def stacktrace(self, span: Span) -> str:
        """The crash that ended `span` as a stack trace, innermost frame first, one
        `name (file:line)` a line: from the stack snapshot recorded with it, else from
        the calls that were open."""
        crash = span.crash or {}
        snapshot = next((e for e in span.events if e["type"] == "stack" and e["frames"]
                         and e["t"] == crash.get("t")), None)
        if snapshot is not None:
            frames = snapshot_frames(snapshot, self.function, self.modules, crash)
        else:
            frames, node = [], span
            while node is not None and node.lane == span.lane:
                frames.append((node.fn, node.line))
                node = node.parent
            frames.reverse()
        out = []
        for fn, line in reversed(frames):
            label = fn.label if fn is not None else OUTSIDE_LABEL
            line = line if line is not None else (fn.line if fn is not None else None)
            where = (fn.file or fn.module) if fn is not None else None
            out.append(f"{label} ({where}:{line})" if where and line is not None
                       else f"{label} ({where})" if where else label)
        return "\n".join(out)

    def path(self, parent: int, label: str) -> int:
        """The trie node for `parent`'s path extended by `label`."""
        key = (parent, label)
        node = self._path_ids.get(key)
        if node is None:
            node = self._path_ids[key] = len(self.paths)
            self.paths.append(key)
        return node

    def labels(self, node: int) -> list[str]:
        """The labels of a call path, outermost first."""
        out = []
        while node:
            node, label = self.paths[node]
            out.append(label)
        out.reverse()
        return out

    def define(self, d: dict) -> None:
        """Take in a FUNCTION, LANE or MODULE record; a native function (an address) comes
        named, as `orion show` names it."""
        if d["type"] == "module":
            self.modules.append(Module.from_record(d))
            return
        if d["type"] == "function":
            self.functions[d["id"]] = self.names.function(d)
            return
        super().define(d)

    def _attach(self, span: Span, d: dict) -> None:
        if d["type"] == "exception":
            span.exceptions.append(d)
        elif d["type"] == "event" and d["kind"] == SPAN_META and span.meta is None:
            span.meta = d["attrs"] if isinstance(d["attrs"], dict) else {}
            if span.meta.get("span_id"):
                span.span_id = span.meta["span_id"]
                self._open_by_id[span.span_id] = span
            wanted = span.meta.get("parent_span_id")
            if wanted and (span.parent is None or span.parent.span_id != wanted):
                span.parent = self._open_by_id.get(wanted, span.parent)
        else:
            span.events.append(d)
