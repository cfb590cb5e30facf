"""A trace as a call tree: what `orion show` draws and later analyses (diff, replay) walk.

`load_trace` reads a file once, frame by frame, and builds per lane a forest of `Call`
nodes. It never recurses (a 100,000-deep recursion is just a long list of stack entries)
and its node classes use __slots__, so a million-event trace fits in a few hundred MB.

Traces are untrusted and often cut short, so the builder is tolerant: a return or unwind
with no open call on its lane (the normal start of a `window: "ring"` trace, whose
outer frames began before the recorded window) closes a synthetic frame that adopts
everything the lane recorded so far; calls still open when the file ends stay open.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Protocol

from .format import constants as C
from .format.decode import MALFORMED, Decoder, malformed_record
from .format.errors import OutOfMemory, TraceError
from .format.reader import TraceReader
from .format.summary import scan_summary
from .format.writer import NO_VALUE

RETURNED = "returned"
UNWOUND = "unwound"
OPEN = "open"
OUTSIDE_LABEL = "(outside the recorded window)"
# Bookkeeping events `orion import` writes for spans from OpenTelemetry: what the call
# model has no place for, kept so that exporting back gives the same spans.
SPAN_META = "otel.span"  # first event of a call: its span ids, kind, status, attributes
RESOURCE_META = "otel.resource"  # lane-level, at time 0: a resource the spans refer to


class Function:
    """A FUNCTION record; `label` is what people read (name, or address and module)."""

    __slots__ = ("id", "name", "module", "file", "line", "addr", "label")

    def __init__(self, id: int, name: str | None, module: str | None = None,
                 file: str | None = None, line: int | None = None,
                 addr: int | None = None) -> None:
        self.id = id
        self.name = name
        self.module = module
        self.file = file
        self.line = line
        self.addr = addr
        self.label = name if name else f"0x{addr or 0:x}"

    @property
    def qualified(self) -> str:
        """`module:name`, which tells apart functions of one name in different modules (a
        native function keeps its bare name, unique in its program as a linker sees it)."""
        if not self.name or not self.module or self.addr is not None:
            return self.label
        return f"{self.module}:{self.label}"

    @classmethod
    def from_record(cls, d: dict) -> "Function":
        """From a decoded FUNCTION record."""
        return cls(d["id"], d["name"], d["module"], d["file"], d["line"], d.get("addr"))

    def to_json(self) -> dict:
        return {"id": self.id, "name": self.name, "module": self.module, "file": self.file,
                "line": self.line, "addr": self.addr, "label": self.label}


class Raised:
    """An EXCEPTION record: `kind` is "raised" or "caught"."""

    __slots__ = ("t", "kind", "type", "message", "line")

    def __init__(self, t: int, kind: str, type: str | None, message: str | None,
                 line: int | None) -> None:
        self.t = t
        self.kind = kind
        self.type = type
        self.message = message
        self.line = line

    def same_as(self, other: "Raised | None") -> bool:
        """The same exception seen in two frames (agents may report it once per frame)."""
        return other is not None and (other is self or (
            other.type == self.type and other.message == self.message))

    @property
    def is_clean_exit(self) -> bool:
        """`sys.exit()` / `sys.exit(0)`: how many scripts end on success, not a failure."""
        return self.type == "SystemExit" and self.message in (None, "", "0", "None", "False")

    def to_json(self) -> dict:
        return {"t": self.t, "kind": self.kind, "type": self.type, "message": self.message,
                "line": self.line}


class Event:
    """An EVENT record (log line, marker, HTTP request ...)."""

    __slots__ = ("t", "kind", "attrs")

    def __init__(self, t: int, kind: str | None, attrs: Any) -> None:
        self.t = t
        self.kind = kind
        self.attrs = attrs

    @property
    def bookkeeping(self) -> bool:
        """An `otel.span`/`otel.resource` record: shown through its call or the header."""
        return self.kind == SPAN_META or self.kind == RESOURCE_META

    def to_json(self) -> dict:
        return {"type": "event", "t": self.t, "kind": self.kind, "attrs": self.attrs}


class Crash:
    """A CRASH record; `path` holds the calls open on its lane when it happened, `stack`
    the stack snapshot the agent wrote with it (if any)."""

    __slots__ = ("t", "lane", "kind", "reason", "message", "detail", "path", "stack")

    def __init__(self, t: int, lane: int, kind: str, reason: str, message: str,
                 detail: Any, path: tuple) -> None:
        self.t = t
        self.lane = lane
        self.kind = kind
        self.reason = reason
        self.message = message
        self.detail = detail
        self.path = path
        self.stack: Stack | None = None

    def to_json(self) -> dict:
        return {"type": "crash", "t": self.t, "kind": self.kind, "reason": self.reason,
                "message": self.message, "detail": self.detail}


class Stack:
    """A STACK record: frames outermost first, as (Function, line, locals or None)."""

    __slots__ = ("t", "lane", "reason", "frames")

    def __init__(self, t: int, lane: int, reason: str, frames: list[tuple]) -> None:
        self.t = t
        self.lane = lane
        self.reason = reason
        self.frames = frames

    def to_json(self) -> dict:
        return {"type": "stack", "t": self.t, "reason": self.reason,
                "frames": [{"fn": fn.id, "name": fn.label, "line": line, "locals": locals_}
                           for fn, line, locals_ in self.frames]}


class Call:
    """One function activation. `fn` is None for a frame outside a ring window.

    `value` is NO_VALUE unless a return value was captured; `line` and `locals` come
    from the unwind; `error` is the exception the frame unwound with, when known.
    `children`, `exceptions` and `events` are empty tuples until something is added
    (most calls are leaves, and an empty list per leaf would cost memory for nothing).
    `errors_below` says a call below it raised, caught or unwound an exception (so that
    `orion show` never folds such a call into a run of uneventful ones); `dropped` counts
    the calls below it that a pruned load (`load_trace(prune=...)`) did not keep.
    """

    __slots__ = ("fn", "start", "end", "outcome", "args", "value", "line", "locals",
                 "error", "exceptions", "children", "events", "errors_below", "dropped",
                 "site")

    def __init__(self, fn: Function | None, start: int, args: dict | None) -> None:
        self.fn = fn
        self.start = start
        self.end: int | None = None
        self.outcome = OPEN
        self.args = args
        self.value: Any = NO_VALUE
        self.line: int | None = None
        self.locals: dict | None = None
        self.error: Raised | None = None
        self.exceptions: list[Raised] | tuple = ()
        self.children: list[Call] | tuple = ()
        self.events: list[Event | Crash | Stack] | tuple = ()
        self.errors_below = False
        self.dropped = 0
        self.site: int | None = None  # the call's return address in its caller (native), or
        # the caller's line (Python)

    @property
    def quiet(self) -> bool:
        """It returned, and no exception was raised, caught or unwound in or below it."""
        return self.outcome is RETURNED and not self.exceptions and not self.errors_below

    @property
    def label(self) -> str:
        return self.fn.label if self.fn is not None else OUTSIDE_LABEL

    @property
    def duration(self) -> int | None:
        return None if self.end is None else self.end - self.start

    @property
    def span(self) -> dict | None:
        """The `otel.span` attributes of an imported span (None for other calls)."""
        first = self.events[0] if self.events else None
        if isinstance(first, Event) and first.kind == SPAN_META and isinstance(first.attrs,
                                                                               dict):
            return first.attrs
        return None

    def to_json(self) -> dict:
        """This call without its children (callers nest them; trees may be very deep)."""
        fn = self.fn
        out: dict[str, Any] = {
            "fn": fn.id if fn is not None else None, "name": self.label,
            "file": fn.file if fn is not None else None,
            "def_line": fn.line if fn is not None else None,
            "start": self.start, "end": self.end, "outcome": self.outcome,
        }
        if self.args is not None:
            out["args"] = self.args
        if self.value is not NO_VALUE:
            out["value"] = self.value
        if self.outcome == UNWOUND:
            out["line"] = self.line
            out["locals"] = self.locals
            out["error"] = self.error.to_json() if self.error is not None else None
        if self.exceptions:
            out["exceptions"] = [e.to_json() for e in self.exceptions]
        if self.events:
            out["events"] = [e.to_json() for e in self.events]
        return out


class Folded:
    """Sibling calls to one function, all quiet, kept as one node: what `orion show` draws
    as `name ×N more`. A pruned load puts them in the tree in place of the calls."""

    __slots__ = ("fn", "label", "start", "count", "total", "below")
    outcome = RETURNED  # every folded call returned
    children = ()

    def __init__(self, call: Call) -> None:
        self.fn = call.fn
        self.label = call.label
        self.start = call.start
        self.count = self.total = self.below = 0
        self.add(call)

    def add(self, call: Call) -> None:
        self.count += 1
        self.total += call.end - call.start
        self.below += subtree_size(call)

    @property
    def t(self) -> int:
        return self.start

    @property
    def dropped(self) -> int:
        """The calls this node stands for beyond itself, for `subtree_size`."""
        return self.count - 1 + self.below


class Cut:
    """Where a pruned load stopped keeping a caller's calls: it tells the drawing that more
    follows (a `├─`, not a `└─`), is never drawn itself (it lies past the line cap), and
    counts the `calls` it stands for (with their callees)."""

    __slots__ = ("start", "calls")
    outcome = None
    children = ()

    def __init__(self, start: int) -> None:
        self.start = start
        self.calls = 0

    @property
    def dropped(self) -> int:
        """For `subtree_size`, which counts each child once: the Cut is not a call."""
        return self.calls - 1

    @property
    def t(self) -> int:
        return self.start


class Lane:
    """A thread or task: its root calls, plus what happened while no call was open."""

    __slots__ = ("id", "name", "kind", "native_id", "parent", "roots", "exceptions",
                 "events", "crashes", "calls", "stack")

    def __init__(self, id: int, name: str | None = None, kind: str | None = None,
                 native_id: int | None = None, parent: int | None = None) -> None:
        self.id = id
        self.name = name if name is not None else f"lane {id}"
        self.kind = kind
        self.native_id = native_id
        self.parent = parent
        self.roots: list[Call] = []
        self.exceptions: list[Raised] = []
        self.events: list[Event | Crash | Stack] = []
        self.crashes: list[Crash] = []
        self.calls = 0  # calls recorded on this lane (synthetic frames not counted)
        self.stack: list[Call] = []  # calls open on this lane (after loading: at the end)

    def to_json(self) -> dict:
        return {"id": self.id, "name": self.name, "kind": self.kind,
                "native_id": self.native_id, "parent": self.parent}


class Module:
    """A MODULE record: a loaded binary, for native addresses."""

    __slots__ = ("id", "path", "base", "build_id", "size", "mtime")

    def __init__(self, id: int, path: str | None, base: int | None, build_id: Any,
                 size: int | None = None, mtime: int | None = None) -> None:
        self.id = id
        self.path = path
        self.base = base
        self.build_id = build_id
        self.size = size  # of the file when recorded, with its mtime (ns): a rebuild shows
        self.mtime = mtime

    @classmethod
    def from_record(cls, d: dict) -> "Module":
        return cls(d["id"], d["path"], d["base"], d["build_id"], d.get("size"), d.get("mtime"))


class Definitions:
    """The functions and lanes a trace defines, by id: what both the call tree (`Trace`)
    and the span stream (`orion.export.spans`) keep while they read records."""

    def __init__(self) -> None:
        self.functions: dict[int, Function] = {}
        self.lanes: dict[int, Lane] = {}

    def lane(self, lane_id: int) -> Lane:
        """The lane with this id, created on first mention (a LANE record may be missing)."""
        lane = self.lanes.get(lane_id)
        if lane is None:
            lane = self.lanes[lane_id] = Lane(lane_id)
        return lane

    def function(self, fn_id: int) -> Function:
        """The function with this id, a placeholder if its FUNCTION record is missing."""
        fn = self.functions.get(fn_id)
        if fn is None:
            fn = self.functions[fn_id] = Function(fn_id, f"<function {fn_id}>")
        return fn

    def define(self, d: dict) -> None:
        """Take in a decoded FUNCTION or LANE record (other records are ignored)."""
        kind = d["type"]
        if kind == "function":
            self.functions[d["id"]] = Function.from_record(d)
        elif kind == "lane":
            lane = self.lane(d["id"])
            lane.name = d["name"] if d["name"] is not None else lane.name
            lane.kind, lane.native_id, lane.parent = d["kind"], d["native_id"], d["parent"]


class Trace(Definitions):
    """Everything read from one trace file."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.header: dict = {}
        self.summary: dict = {}
        self.complete = False
        self.truncated = False  # the file ends inside a frame
        self.modules: dict[int, Module] = {}
        self.crashes: list[Crash] = []
        self.end_t = 0  # the latest timestamp read

    @property
    def window(self) -> str | None:
        return self.header.get("window")

    @property
    def trace_id(self) -> str | None:
        """The summary's trace id, else the header's (None when neither has one)."""
        return self.summary.get("trace_id") or self.header.get("trace_id")

    @property
    def env(self) -> dict:
        """The environment snapshot: the header's, with the distributions the summary took
        when the program ended (a dev-mode header is written before it imports anything)."""
        env = self.header.get("env")
        env = dict(env) if isinstance(env, dict) else {}
        if isinstance(self.summary.get("distributions"), dict):
            env["distributions"] = self.summary["distributions"]
        return env

    def define(self, d: dict) -> None:
        """Take in a decoded FUNCTION, LANE or MODULE record."""
        if d["type"] == "module":
            self.modules[d["id"]] = Module.from_record(d)
        else:
            super().define(d)

    @property
    def resources(self) -> list[dict]:
        """The OpenTelemetry resources of an imported trace (`otel.resource` events)."""
        return [e.attrs for lane in self.lanes.values() for e in lane.events
                if isinstance(e, Event) and e.kind == RESOURCE_META and isinstance(e.attrs,
                                                                                   dict)]

    def open_calls(self) -> Iterator[Call]:
        for lane in self.lanes.values():
            yield from lane.stack


class Pruner(Protocol):
    """What a pruned load keeps: `orion show` keeps only what it can draw, so that a trace
    of millions of calls is read in bounded memory. The loader calls these in order."""

    def opened(self, lane: Lane) -> bool:
        """A call opens; keep it in the tree (attached to its caller)?"""

    def closed(self, lane: Lane, call: Call, caller: Call | None) -> None:
        """A call closed: leave it, attach it (if dropped at open), fold or drop it."""

    def keep(self, lane: Lane, item: Raised | Event | Crash | Stack,
             owner: Call | None) -> bool:
        """An exception or event in `owner` (None: outside every call): keep it?"""

    def ended(self, lane: Lane) -> None:
        """The file ended with the calls of `lane.stack` still open."""


def load_trace(path: str | os.PathLike, prune: Pruner | None = None,
               observe: Callable[[TraceReader, Iterator[list]], Iterator[list]] | None = None
               ) -> Trace:
    """Read a whole trace into a call tree (TraceError when the file cannot be read);
    with `prune`, only what it keeps (the crashes, lanes and counts are always whole);
    `observe` wraps the reader's records, to see them all in the same pass."""
    was_enabled = gc.isenabled()
    gc.disable()  # a large acyclic graph: the cycle collector would only rescan it
    try:
        return _load(Path(path), prune, observe)
    except TraceError as exc:
        exc.path = exc.path or str(path)
        raise
    except MemoryError:  # the tree outgrew memory: say so, not that the file is bad
        raise OutOfMemory(str(path)) from None
    finally:
        if was_enabled:
            gc.enable()


def _outside(lane: Lane, t: int) -> Call:
    """A frame that began before the recorded window; it adopts all the lane holds so far."""
    starts = [t]
    if lane.roots:
        starts.append(lane.roots[0].start)
    starts += [x.t for x in lane.exceptions[:1]] + [x.t for x in lane.events[:1]]
    call = Call(None, min(starts), None)
    call.children = lane.roots
    call.exceptions, call.events = lane.exceptions, lane.events
    lane.roots, lane.exceptions, lane.events = [call], [], []
    return call


def _error_of(call: Call) -> Raised | None:
    """The exception a frame unwinds with: its own latest raise, or a child's propagating."""
    own = next((e for e in reversed(call.exceptions) if e.kind == "raised"), None)
    child = next((c for c in reversed(call.children) if c.outcome is UNWOUND), None)
    if child is None or child.error is None:
        return own
    if own is not None and own.t >= child.end:
        return own
    if any(e.kind == "caught" and e.t >= child.end for e in call.exceptions):
        return own
    return child.error


def _add(call: Call, slot: str, item: Any) -> None:
    items = getattr(call, slot)
    if items:
        items.append(item)
    else:
        setattr(call, slot, [item])


def _load(path: Path, prune: Pruner | None, observe: Callable | None = None) -> Trace:
    trace = Trace(path)
    decoder = Decoder()
    lanes = trace.lanes
    functions = trace.functions
    pairs, value = decoder.pairs, decoder.value
    sites: dict[int, int] = {}  # function id -> its last call's site (native)
    end_t = 0
    with TraceReader(path) as reader:
        trace.header = reader.header
        records = reader.records()
        for rec in records if observe is None else observe(reader, records):
            code = rec[0]
            try:
                if code == C.CALL or code == C.RETURN or code == C.UNWIND:
                    t = rec[1]
                    if t > end_t:
                        end_t = t
                    lane = lanes.get(rec[2]) or trace.lane(rec[2])
                    stack = lane.stack
                    if code == C.CALL:
                        fn = functions.get(rec[3]) or trace.function(rec[3])
                        lane.calls += 1
                        if len(rec) > 5:  # absent: the site of the function's last call
                            sites[rec[3]] = rec[5]
                        if prune is not None and not prune.opened(lane):
                            stack.append(Call(fn, t, None))  # attached if it unwinds
                            continue
                        call = Call(fn, t, pairs(rec[4]) if len(rec) > 4 else None)
                        site = sites.get(rec[3])
                        if site is not None and isinstance(fn.addr, int):
                            call.site = fn.addr + site
                        elif site and fn.addr is None:  # Python: the caller's line itself
                            call.site = site
                        if stack:
                            parent = stack[-1]
                            if parent.children:
                                parent.children.append(call)
                            else:
                                parent.children = [call]
                        else:
                            lane.roots.append(call)
                        stack.append(call)
                        continue
                    call = stack.pop() if stack else _outside(lane, t)
                    call.end = t
                    if code == C.RETURN:
                        call.outcome = RETURNED
                        if len(rec) > 3:
                            call.value = value(rec[3])
                    else:
                        call.outcome = UNWOUND
                        call.line = rec[3]
                        if len(rec) > 4:
                            call.locals = pairs(rec[4])
                        call.error = _error_of(call)
                    if stack and (call.errors_below or call.exceptions
                                  or call.outcome is UNWOUND):
                        stack[-1].errors_below = True
                    if prune is not None:
                        prune.closed(lane, call, stack[-1] if stack else None)
                    continue
                if code in C.TIMED_TYPES:
                    end_t = max(end_t, rec[1])
                    _add_timed(trace, decoder.record(rec), prune)
                elif code < C.FIRST_EXTENSION and code not in (C.HEADER, C.END):
                    trace.define(decoder.record(rec))
            except MALFORMED as exc:
                raise malformed_record(code, exc) from None
        if prune is not None:
            for lane in lanes.values():
                prune.ended(lane)
        trace.complete = reader.complete
        trace.truncated = reader.truncated
        end_summary = reader.end_summary
    trace.end_t = end_t
    if trace.complete and end_summary is not None:
        trace.summary = dict(end_summary, complete=True)
    else:
        trace.summary = scan_summary(path)
    resolve_native(trace.functions.values(), trace.modules.values())
    for crash in trace.crashes:
        _place_crash(crash, trace.modules.values())
    _take_failure_locals(trace)
    return trace


def failure_stack(trace: Trace) -> Stack | None:
    """The stack record a Python agent writes just before its crash record (error mode
    keeps the failing frames' locals only there; their unwinds carry none)."""
    crash = trace.crashes[0] if trace.crashes else None
    if crash is None or crash.path or crash.stack is not None:
        return None  # a native crash's stack, placed by _place_crash
    lane = trace.lane(crash.lane)
    return next((item for item in reversed(lane.events) if isinstance(item, Stack)
                 and item.t == crash.t and item.reason != "sample"), None)


def _take_failure_locals(trace: Trace) -> None:
    """Give the calls of the failing path the locals (and lines) of the failure's stack
    record where their unwinds had none, matching frames from the innermost up."""
    stack = failure_stack(trace)
    if stack is None:
        return
    frames = iter(reversed(stack.frames))
    for call in reversed(failing_path(trace)):
        for fn, line, locals_ in frames:
            if fn is call.fn:
                if call.locals is None and locals_ is not None:
                    call.locals = locals_
                if call.line is None:
                    call.line = line
                break
        else:
            break


def _add_timed(trace: Trace, d: dict, prune: Pruner | None = None) -> None:
    """Exceptions, crashes, stacks and events go to the innermost open call of their lane."""
    lane = trace.lane(d["lane"])
    stack = lane.stack
    kind = d["type"]
    if kind == "exception":
        item = Raised(d["t"], d["kind"], d["exc_type"], d["message"], d["line"])
        if prune is not None and not prune.keep(lane, item, stack[-1] if stack else None):
            return
        if stack:
            _add(stack[-1], "exceptions", item)
        else:
            lane.exceptions.append(item)
        return
    if kind == "crash":
        item = Crash(d["t"], lane.id, d["kind"], d["reason"], d["message"], d["detail"],
                     tuple(stack))
        lane.crashes.append(item)
        trace.crashes.append(item)
    elif kind == "stack":
        frames = [(trace.function(f["fn"]), f["line"], f["locals"]) for f in d["frames"]]
        item = Stack(d["t"], lane.id, d["reason"], frames)
        crash = lane.crashes[-1] if lane.crashes else None
        if d["reason"] == "crash" and crash is not None and crash.t == item.t \
                and crash.stack is None:
            crash.stack = item
    elif kind == "event":
        item = Event(d["t"], d["kind"], d["attrs"])
    else:
        return
    if prune is not None and not prune.keep(lane, item, stack[-1] if stack else None):
        return
    if stack:
        _add(stack[-1], "events", item)
    else:
        lane.events.append(item)


def resolve_native(functions: Iterable[Function], modules: Iterable[Module]) -> None:
    """Name native functions (recorded as bare addresses) from their binaries, in place;
    those that stay unnamed read `0x401136 (libshop.so)`: address plus module.

    The one place that gives native functions their names, file and line, so that the
    call tree (`load_trace`), the span stream (exports, graphs) and the `.otrace` export
    all show the same ones.
    """
    from .native.symbols import resolve_functions

    functions, modules = list(functions), list(modules)
    resolve_functions(functions, modules)
    bases = sorted((m.base, m.path) for m in modules if isinstance(m.base, int) and m.path)
    for fn in functions:
        if fn.name or not isinstance(fn.addr, int):
            continue
        module = fn.module
        if module is None:
            module = next((p for base, p in reversed(bases) if base <= fn.addr), None)
        if module:
            fn.label = f"0x{fn.addr:x} ({os.path.basename(module) or module})"


def crash_lines(detail: Any, functions: list[Function], modules: Iterable[Module]
                ) -> list[int | None]:
    """The line each native frame of a crash stack (outermost first) was executing: the
    innermost at the faulting pc, the others at their callee's return address minus one
    (inside the call instruction), both from the crash detail (`pc`, `returns`). An
    innermost frame that crashed in code it called (the C library's abort) is placed by
    the first return address into it among those unwound below it (`unwound`)."""
    from .native.symbols import resolve_lines

    modules = list(modules)
    detail = detail if isinstance(detail, dict) else {}
    returns = detail.get("returns")
    if not isinstance(returns, list) or len(returns) != len(functions):
        returns = [None] * len(functions)
    addrs = [r - 1 if isinstance(r, int) and r > 0 else None for r in returns]
    if addrs:
        addrs[-1] = detail.get("pc")
    lines = resolve_lines(zip((fn.addr for fn in functions), addrs), modules)
    unwound = detail.get("unwound")
    if lines and lines[-1] is None and isinstance(unwound, list):
        innermost = functions[-1].addr
        found = resolve_lines(((innermost, r - 1) for r in unwound
                               if isinstance(r, int) and r > 0), modules)
        lines[-1] = next((line for line in found if line is not None), None)
    return lines


def caller_line(parent: Call, child: Call, modules: Iterable[Module], last: bool) -> int | None:
    """The line `parent` was at while its call `child` ran: from the call site agents
    record (native: an address; Python: the line), else, when `parent` ended through that
    call (its `last` call: an exception that unwound both, a crash with both open), the
    line it ended at; None when the trace cannot tell."""
    from .native.symbols import resolve_lines

    fn = parent.fn
    if child.site is not None and child.fn is not None and child.fn.addr is None:
        return child.site  # a Python call's site is the caller's line
    if child.site is not None and fn is not None and isinstance(fn.addr, int):
        line = resolve_lines([(fn.addr, child.site - 1)], modules)[0]
        if line is not None:
            return line
    if parent.line is not None and last and child.outcome in (UNWOUND, OPEN):
        return parent.line
    return None


def _place_crash(crash: Crash, modules: Iterable[Module]) -> None:
    """Put a native crash on its source lines: the frames of its stack, and the calls
    open when it happened (their `line`, as an unwound call has the line it left at)."""
    stack = crash.stack
    if stack is None:
        return
    if any(fn.addr is not None and line is None for fn, line, _ in stack.frames):
        found = crash_lines(crash.detail, [fn for fn, _, _ in stack.frames], modules)
        stack.frames = [(fn, line if line is not None else new, locals_)
                        for (fn, line, locals_), new in zip(stack.frames, found)]
    # The open calls match the stack from the innermost frame up (a sampled or ring
    # trace may lack some of the calls, never the other way round).
    frames = iter(reversed(stack.frames))
    for call in reversed(crash.path):
        for fn, line, _ in frames:
            if fn is call.fn:
                if line is not None:
                    call.line = line
                break
        else:
            break


def read_native_functions(path: str | os.PathLike) -> dict[int, Function]:
    """The unnamed native functions of the trace at `path`, by id, resolved: for readers
    that stream a trace and need a function's name when it is first called."""
    decoder = Decoder()
    functions: dict[int, Function] = {}
    modules: list[Module] = []
    try:
        with TraceReader(path) as reader:
            for rec in reader.records():
                if rec[0] not in (C.STRING, C.FUNCTION, C.MODULE):
                    continue
                d = decoder.record(rec)
                if d["type"] == "module":
                    modules.append(Module.from_record(d))
                elif d["type"] == "function" and d["name"] is None and isinstance(
                        d.get("addr"), int):
                    functions[d["id"]] = Function.from_record(d)
    except (TraceError, *MALFORMED):
        pass  # the reader that asked reports a damaged trace where it meets the damage
    resolve_native(functions.values(), modules)
    return functions


def failing_path(trace: Trace) -> list[Call]:
    """Calls from a root down to where the failure began: the frame that raised the first
    uncaught exception, or the innermost frame open when the first crash happened."""
    crash = trace.crashes[0] if trace.crashes else None
    if crash is not None and crash.path:
        return list(crash.path)
    if crash is not None and crash.stack is not None and crash.stack.frames:
        return _stack_path(crash)
    if crash is not None:
        lanes = [trace.lane(crash.lane)]
    else:
        lanes = list(trace.lanes.values())
    roots = [r for lane in lanes for r in lane.roots if r.outcome is UNWOUND
             and not (r.error is not None and r.error.is_clean_exit)
             and (crash is None or r.end <= crash.t)]
    if not roots:
        return []
    node = max(roots, key=lambda r: r.end) if crash is not None else min(roots,
                                                                          key=lambda r: r.end)
    path = [node]
    while (child := propagating_child(node)) is not None:
        node = child
        path.append(node)
    return path


def _stack_path(crash: Crash) -> list[Call]:
    """A crash with a stack but no open calls (an uninstrumented native program, whose
    stack the agent unwound): the stack's frames, as calls open at the crash."""
    path = []
    for fn, line, locals_ in crash.stack.frames:
        call = Call(fn, crash.t, None)
        call.line = line
        call.locals = locals_
        path.append(call)
    return path


def propagating_child(call: Call) -> Call | None:
    """The callee whose exception this frame unwound with, if it came from one."""
    if call.error is None:
        return None
    child = next((c for c in reversed(call.children) if c.outcome is UNWOUND), None)
    if child is None or not call.error.same_as(child.error):
        return None
    return child


def subtree_size(call: Call | Folded) -> int:
    """How many calls lie below `call`, kept or not (iteratively: trees may be very deep)."""
    count, pending = 0, [call]
    while pending:
        node = pending.pop()
        count += len(node.children) + node.dropped
        pending.extend(node.children)
    return count
