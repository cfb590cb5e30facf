"""OTLP/JSON `TracesData` to .otrace: one trace file per trace id.

Accepted as OpenTelemetry tools actually write it: a single object, an array of them or
JSON Lines; hex or base64 ids; integer or named enums (`2`, `SPAN_KIND_SERVER`); 64-bit
integers as strings or numbers; `scopeSpans` or the older `instrumentationLibrarySpans`;
new and old semantic-convention names (`code.function.name`/`code.function`,
`code.file.path`/`code.filepath`, `code.line.number`/`code.lineno`).

A span becomes a call on a lane. Spans nest on a lane as calls do, so each span goes on
its parent's lane when it fits inside the parent there (and no event of the parent
happens while it runs), else on a free lane (one whose calls have all ended) or a new
one: concurrent children end up side by side, as threads would. Right after its call, an `otel.span` event keeps what the call model has no place
for (ids, kind, status, attributes, resource), so exporting it back to OTLP gives back
the same spans. Span events named `exception` become exception records, others events.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import re
from pathlib import Path
from typing import Any, Iterator

from .. import __version__
from ..export.spans import RESOURCE_META, SPAN_META
from ..format.writer import TraceWriter
from . import ImportFormatError

_HEX = re.compile(r"^[0-9a-fA-F]*$")
SPAN_KINDS = {"UNSPECIFIED": 0, "INTERNAL": 1, "SERVER": 2, "CLIENT": 3, "PRODUCER": 4,
              "CONSUMER": 5}
STATUS_CODES = {"UNSET": 0, "OK": 1, "ERROR": 2}
STATUS_ERROR = 2

# a code.* attribute under its new name, then its older names (the function is named
# after the span; code.function stays one of its attributes)
FILE_KEYS = ("code.file.path", "code.filepath")
LINE_KEYS = ("code.line.number", "code.lineno")
MODULE_KEYS = ("code.namespace",)


def _get(item: dict, *names: str, default: Any = None) -> Any:
    """A field under its JSON (lowerCamelCase) or proto (snake_case) name."""
    for name in names:
        if name in item:
            return item[name]
    return default


def normalize_id(value: Any, size: int) -> str:
    """A trace (16 bytes) or span (8 bytes) id given as hex or base64, as lowercase hex."""
    if not value:
        return ""
    text = str(value)
    if len(text) == 2 * size and _HEX.match(text):
        return text.lower()
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != size:
        raise ImportFormatError(f"id {text!r} is neither {2 * size} hex digits nor "
                                f"base64 of {size} bytes")
    return raw.hex()


def enum_value(value: Any, names: dict[str, int], prefix: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        name = value.upper().removeprefix(prefix)
        if name in names:
            return names[name]
        if value.isdigit():
            return int(value)
    if value is None:
        return 0
    raise ImportFormatError(f"unknown enum value {value!r}")


def nanos(value: Any) -> int:
    return int(value) if value not in (None, "") else 0


def any_value(value: Any) -> Any:
    """An OTLP AnyValue as a plain value (ints from strings, lists, dicts)."""
    if not isinstance(value, dict):
        return value
    for key, convert in (("stringValue", str), ("string_value", str), ("boolValue", bool),
                         ("bool_value", bool), ("intValue", int), ("int_value", int),
                         ("doubleValue", float), ("double_value", float),
                         ("bytesValue", str), ("bytes_value", str)):
        if key in value:
            return convert(value[key])
    array = _get(value, "arrayValue", "array_value")
    if array is not None:
        return [any_value(v) for v in array.get("values") or []]
    kvlist = _get(value, "kvlistValue", "kvlist_value")
    if kvlist is not None:
        return attributes(kvlist.get("values"))
    return None


def attributes(items: Any) -> dict:
    return {str(kv["key"]): any_value(kv.get("value")) for kv in items or []}


class _Span:
    __slots__ = ("span_id", "parent_id", "name", "kind", "start", "end", "attrs", "events",
                 "status_code", "status_message", "resource", "scope", "trace_state",
                 "flags", "lane", "children")

    def __init__(self, raw: dict, resource: int, scope: int) -> None:
        self.span_id = normalize_id(_get(raw, "spanId", "span_id"), 8)
        self.parent_id = normalize_id(_get(raw, "parentSpanId", "parent_span_id"), 8)
        self.name = str(raw.get("name") or "")
        self.kind = enum_value(raw.get("kind", 0), SPAN_KINDS, "SPAN_KIND_")
        self.start = nanos(_get(raw, "startTimeUnixNano", "start_time_unix_nano"))
        self.end = max(self.start, nanos(_get(raw, "endTimeUnixNano", "end_time_unix_nano")))
        self.attrs = attributes(raw.get("attributes"))
        self.events = sorted(
            ((min(max(nanos(_get(e, "timeUnixNano", "time_unix_nano")), self.start), self.end),
              str(e.get("name") or ""), attributes(e.get("attributes")))
             for e in raw.get("events") or []), key=lambda e: e[0])
        status = raw.get("status") or {}
        self.status_code = enum_value(status.get("code", 0), STATUS_CODES, "STATUS_CODE_")
        self.status_message = status.get("message") or ""
        self.resource = resource
        self.scope = scope
        self.trace_state = _get(raw, "traceState", "trace_state") or ""
        flags = raw.get("flags")
        self.flags = flags if isinstance(flags, int) and not isinstance(flags, bool) else 0
        self.lane = 0
        self.children: list[_Span] = []


def _resource_spans(documents: list[Any]) -> Iterator[dict]:
    for doc in documents:
        for item in doc if isinstance(doc, list) else [doc]:
            if not isinstance(item, dict):
                raise ImportFormatError("an OTLP document must be a JSON object")
            yield from _get(item, "resourceSpans", "resource_spans", default=[]) or []


def read_traces(documents: list[Any]) -> tuple[list[dict], dict[str, list[_Span]]]:
    """(resources, spans by trace id). A resource: {attributes, scopes, schema_url}."""
    resources: list[dict] = []
    traces: dict[str, list[_Span]] = {}
    for rs in _resource_spans(documents):
        resource = {"attributes": attributes((rs.get("resource") or {}).get("attributes")),
                    "scopes": []}
        if _get(rs, "schemaUrl", "schema_url"):
            resource["schema_url"] = _get(rs, "schemaUrl", "schema_url")
        index = len(resources)
        resources.append(resource)
        for ss in _get(rs, "scopeSpans", "scope_spans", "instrumentationLibrarySpans",
                       "instrumentation_library_spans", default=[]) or []:
            scope = _get(ss, "scope", "instrumentationLibrary", "instrumentation_library",
                         default={}) or {}
            resource["scopes"].append({k: scope[k] for k in ("name", "version") if k in scope})
            for raw in ss.get("spans") or []:
                trace_id = normalize_id(_get(raw, "traceId", "trace_id"), 16)
                if not trace_id:
                    raise ImportFormatError("a span has no trace id")
                traces.setdefault(trace_id, []).append(
                    _Span(raw, index, len(resource["scopes"]) - 1))
    return resources, traces


def _assign_lanes(spans: list[_Span]) -> tuple[list[tuple[int, int | None]], list[_Span]]:
    """Place spans on lanes where they nest; return lanes as (resource, parent lane) and
    the roots of every lane, in start order."""
    spans.sort(key=lambda s: (s.start, -s.end))
    by_id = {s.span_id: s for s in spans}
    stacks: list[list[_Span]] = []
    lanes: list[tuple[int, int | None]] = []
    roots: list[_Span] = []
    for span in spans:
        for stack in stacks:
            while stack and stack[-1].end <= span.start and stack[-1] is not by_id.get(
                    span.parent_id):
                stack.pop()
        parent = by_id.get(span.parent_id)
        lane = None
        if parent is not None:
            stack = stacks[parent.lane]
            if (stack and stack[-1] is parent and span.end <= parent.end
                    and not any(span.start < e[0] < span.end for e in parent.events)):
                lane = parent.lane
                parent.children.append(span)
        if lane is None:
            lane = next((i for i, stack in enumerate(stacks)
                         if not stack and lanes[i][0] == span.resource), None)
            if lane is None:
                lane = len(stacks)
                stacks.append([])
                lanes.append((span.resource, parent.lane if parent is not None else None))
            roots.append(span)
        span.lane = lane
        stacks[lane].append(span)
    return lanes, roots


def _lane_records(root: _Span) -> Iterator[tuple]:
    """(t, kind, span, payload) for a lane root and everything nested in it, in time order.
    A parent's event that happened while a child ran is recorded as the child ends (the
    lane's clock never goes back)."""
    pending: list[tuple[_Span, Iterator]] = []
    last = root.start

    def enter(span: _Span) -> tuple:
        items = heapq.merge(((e[0], 0, "event", e) for e in span.events),
                            ((c.start, 1, "child", c) for c in span.children),
                            key=lambda x: (x[0], x[1]))
        pending.append((span, items))
        return (span.start, "call", span, None)

    yield enter(root)
    while pending:
        span, items = pending[-1]
        item = next(items, None)
        if item is None:
            pending.pop()
            last = max(last, span.end)
            yield (last, "end", span, None)
        elif item[2] == "event":
            last = max(last, item[0])
            yield (last, "event", span, item[3])
        else:
            yield enter(item[3])


# What an exception record holds of an `exception` span event; the rest of its
# attributes are kept in the span's otel.span event.
EXCEPTION_RECORDED = ("exception.type", "exception.message", "orion.exception.caught")


def _meta(span: _Span) -> dict:
    meta: dict[str, Any] = {"span_id": span.span_id, "parent_span_id": span.parent_id,
                            "kind": span.kind, "status_code": span.status_code,
                            "attributes": span.attrs, "resource": span.resource,
                            "scope": span.scope}
    if span.status_message:
        meta["status_message"] = span.status_message
    if span.trace_state:
        meta["trace_state"] = span.trace_state
    if span.flags:
        meta["flags"] = span.flags
    extra = [{k: v for k, v in attrs.items() if k not in EXCEPTION_RECORDED}
             for _, name, attrs in span.events if name == "exception"]
    if any(extra):  # exception.stacktrace, exception.escaped ...: the record has no place
        meta["exception_attributes"] = extra
    return meta


def write_trace(trace_id: str, spans: list[_Span], resources: list[dict], out) -> None:
    """One trace's spans as an .otrace stream."""
    lanes, roots = _assign_lanes(spans)
    used = sorted({s.resource for s in spans})
    first = resources[used[0]]["attributes"]
    start_ns = min(s.start for s in spans)
    argv = first.get("process.command_args")
    if not isinstance(argv, list) and first.get("process.command_line"):
        argv = str(first["process.command_line"]).split()
    pid = first.get("process.pid")
    process = {"pid": pid if isinstance(pid, int) else None,
               "argv": [str(a) for a in argv] if isinstance(argv, list) else None,
               "cwd": first.get("process.working_directory"),
               "executable": first.get("process.executable.path"),
               "host": first.get("host.name")}
    service = first.get("service.name")
    w = TraceWriter(out, language=str(first.get("telemetry.sdk.language") or "otlp"),
                    agent="orion-import-otlp", agent_version=__version__, mode="dev",
                    trace_id=trace_id, start_ns=start_ns, process=process,
                    service=str(service) if service else None)
    lane_ids = []
    for resource, parent in lanes:
        name = resources[resource]["attributes"].get("service.name") or "spans"
        lane_ids.append(w.lane(str(name), "span", None,
                               lane_ids[parent] if parent is not None else None))
    for index in used:
        w.event(0, lane_ids[0], RESOURCE_META, dict(resources[index], index=index))
    streams = [((t - start_ns, order, kind, span, payload)
                for order, (t, kind, span, payload) in enumerate(_lane_records(root)))
               for root in roots]
    failed = False
    for t, _, kind, span, payload in heapq.merge(*streams, key=lambda x: x[0]):
        lane = lane_ids[span.lane]
        if kind == "call":
            fn = w.function(span.name or "(unnamed span)",
                            _first(span.attrs, MODULE_KEYS), _first(span.attrs, FILE_KEYS),
                            _line(_first(span.attrs, LINE_KEYS)))
            w.call(t, lane, fn)
            w.event(t, lane, SPAN_META, _meta(span))
        elif kind == "event":
            _, name, attrs = payload
            if name == "exception":
                w.exception(t, lane, str(attrs.get("exception.type") or "exception"),
                            str(attrs.get("exception.message") or ""),
                            kind="caught" if attrs.get("orion.exception.caught") else "raised")
            else:
                w.event(t, lane, name, attrs)
        elif span.status_code == STATUS_ERROR:
            w.unwind(t, lane, None)
            failed = failed or not span.parent_id
        else:
            w.ret(t, lane)
    w.close(status="failed" if failed else "ok")


def _first(attrs: dict, keys: tuple[str, ...]) -> Any:
    value = next((attrs[k] for k in keys if attrs.get(k) is not None), None)
    return None if value is None else str(value) if not isinstance(value, int) else value


def _line(value: Any) -> int | None:
    try:
        line = int(value)
    except (TypeError, ValueError):
        return None
    return line if line >= 0 else None


def convert_documents(documents: list[Any], directory: Path, source: Path) -> list[Path]:
    resources, traces = read_traces(documents)
    if not traces:
        raise ImportFormatError("OTLP data without any span")
    paths = []
    for trace_id, spans in traces.items():
        target = directory / f"{trace_id}.otrace"
        with open(target, "wb") as out:
            write_trace(trace_id, spans, resources, out)
        paths.append(target)
    return paths
