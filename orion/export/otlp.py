"""The `otlp` export: OpenTelemetry OTLP/JSON `TracesData`, one span per call.

As the OTLP/JSON mapping requires: trace and span ids are lowercase hex, enums are
integers, 64-bit integers (times, int attributes) are strings. Calls become INTERNAL spans
with `code.function.name`, `code.file.path` and `code.line.number`; a call that unwound,
or was open on the lane of a native crash, has status ERROR; exceptions and crashes are
span events named `exception` (a crash's with `exception.stacktrace`, innermost first); the header becomes the
resource (`service.name`, `process.*`, `host.*`, `telemetry.sdk.*`). Spans imported from
OpenTelemetry keep their own ids, kind, status, attributes and resource, so that
otlp -> .otrace -> otlp gives back what came in.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any, BinaryIO

from ..model import UNWOUND
from ..render.jsonout import dumps
from .jsonstream import JsonItems
from .spans import Span, SpanStream, spans_at_least

KIND_INTERNAL = 1
STATUS_UNSET, STATUS_OK, STATUS_ERROR = 0, 1, 2
SDK_LANGUAGES = {"c": "cpp", "cpp": "cpp", "node": "nodejs", "python": "python", "go": "go",
                 "rust": "rust", "java": "java"}


def any_value(value: Any) -> dict:
    """A Python value as an OTLP AnyValue."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, (bytes, bytearray)):
        return {"bytesValue": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": attributes(value)}}
    if value is None:
        return {}
    return {"stringValue": str(value)}


def attributes(mapping: dict) -> list[dict]:
    return [{"key": str(key), "value": any_value(value)} for key, value in mapping.items()
            if value is not None]


def header_resource(header: dict) -> dict:
    """The resource attributes a trace's header stands for."""
    process = header.get("process") or {}
    agent = header.get("agent") or {}
    argv = process.get("argv") if isinstance(process.get("argv"), list) else None
    executable = process.get("executable")
    service = header.get("service") or (
        f"unknown_service:{os.path.basename(str(executable))}" if executable
        else "unknown_service")
    env = header.get("env") if isinstance(header.get("env"), dict) else {}
    return {
        "service.name": service,
        "process.pid": process.get("pid"),
        "process.command_args": argv,
        "process.executable.path": executable,
        "process.working_directory": process.get("cwd"),
        "process.runtime.description": env.get("runtime"),
        "host.name": process.get("host"),
        "os.type": env.get("os"),
        "telemetry.sdk.name": "orion",
        "telemetry.sdk.language": SDK_LANGUAGES.get(str(agent.get("language")),
                                                    agent.get("language")),
        "orion.agent.name": agent.get("name"),
        "orion.trace.mode": header.get("mode"),
    }


def span_events(span: Span, stream: SpanStream) -> list[dict]:
    """A call's exceptions and events as OTLP span events, in time order."""
    events = []
    kept = (span.meta or {}).get("exception_attributes")
    kept = kept if isinstance(kept, list) and len(kept) == len(span.exceptions) else None
    for number, record in enumerate(span.exceptions):
        attrs = {"exception.type": record["exc_type"], "exception.message": record["message"]}
        if record["kind"] == "caught":
            attrs["orion.exception.caught"] = True
        if kept is not None and isinstance(kept[number], dict):
            attrs.update(kept[number])  # an imported span's other exception attributes
        events.append((record["t"], "exception", attrs))
    for record in span.events:
        if record["type"] == "event":
            attrs = record["attrs"] if isinstance(record["attrs"], dict) else {
                "value": record["attrs"]}
            events.append((record["t"], str(record["kind"]), attrs))
        elif record["type"] == "crash":
            events.append((record["t"], "exception", {
                "exception.type": record["reason"], "exception.message": record["message"],
                "exception.stacktrace": stream.stacktrace(span),
                "orion.crash.kind": record["kind"]}))
    events.sort(key=lambda e: e[0])
    return [{"timeUnixNano": str(stream.start_ns + t), "name": name,
             "attributes": attributes(attrs)} for t, name, attrs in events]


def span_json(span: Span, stream: SpanStream) -> dict:
    meta = span.meta or {}
    out: dict[str, Any] = {"traceId": stream.trace_id, "spanId": span.span_id}
    parent = span.parent_span_id
    links = []
    if parent is None and span.parent is None and span.meta is None:
        link = stream.header.get("parent")  # the process that started this one
        if isinstance(link, dict) and str(link.get("span_id") or "").strip("0"):
            if link.get("trace_id") == stream.trace_id:
                parent = link["span_id"]
            else:
                links = [{"traceId": link.get("trace_id"), "spanId": link["span_id"]}]
    if parent:
        out["parentSpanId"] = parent
    if meta.get("trace_state"):
        out["traceState"] = meta["trace_state"]
    if meta.get("flags"):
        out["flags"] = meta["flags"]
    out["name"] = meta.get("name") or span.label
    out["kind"] = meta.get("kind", KIND_INTERNAL)
    out["startTimeUnixNano"] = str(stream.start_ns + span.start)
    out["endTimeUnixNano"] = str(stream.start_ns + span.end)
    if span.meta is not None:
        attrs = meta.get("attributes") or {}
    else:
        fn = span.fn
        lane = stream.lanes.get(span.lane)
        attrs = {"code.function.name": span.label}
        if fn is not None:
            attrs.update({"code.file.path": fn.file, "code.line.number": fn.line,
                          "code.namespace": fn.module})
        if lane is not None:
            attrs.update({"thread.id": lane.native_id, "thread.name": lane.name})
    out["attributes"] = attributes(attrs)
    out["events"] = span_events(span, stream)
    if span.meta is not None and "status_code" in meta:
        status = {"code": meta["status_code"]} if meta["status_code"] else {}
        if meta.get("status_message"):
            status["message"] = meta["status_message"]
    elif span.outcome == UNWOUND:
        status = {"code": STATUS_ERROR}
        raised = next((e for e in reversed(span.exceptions) if e["kind"] == "raised"), None)
        if raised is not None:
            status["message"] = f"{raised['exc_type']}: {raised['message']}"
    elif span.crash is not None:
        status = {"code": STATUS_ERROR,
                  "message": f"{span.crash['reason']}: {span.crash['message']}"}
    else:
        status = {}
    out["status"] = status
    if links:
        out["links"] = links
    return out


class _Groups:
    """resourceSpans/scopeSpans opened and closed as the spans' resource changes."""

    def __init__(self, items: JsonItems, stream: SpanStream) -> None:
        self.items = items
        self.stream = stream
        self.current: tuple | None = None

    def enter(self, span: Span) -> None:
        meta = span.meta or {}
        key = (meta.get("resource"), meta.get("scope"))
        if key == self.current:
            return
        resource = self.stream.resources.get(meta.get("resource"))
        schema = ""
        if resource is not None:
            resource_attrs = resource.get("attributes") or {}
            if resource.get("schema_url"):
                schema = ',"schemaUrl":' + dumps(str(resource["schema_url"]))
            scopes = resource.get("scopes") or []
            index = meta.get("scope")
            scope = scopes[index] if isinstance(index, int) and 0 <= index < len(scopes) else {}
        else:
            resource_attrs = header_resource(self.stream.header)
            scope = {"name": "orion"}
        opening = ('{"resource":{"attributes":' + dumps(attributes(resource_attrs))
                   + '}' + schema + ',"scopeSpans":[{"scope":' + dumps(scope) + ',"spans":[')
        self.items.restart(("]}]}," if self.current is not None else "") + opening)
        self.current = key

    def close(self) -> None:
        self.items.close(("]}]}" if self.current is not None else "") + "]}")


def write(path: Path, out: BinaryIO, min_duration_ns: int = 0) -> None:
    """Stream the trace as one OTLP/JSON TracesData object."""
    with SpanStream(path) as stream:
        items = JsonItems(out, '{"resourceSpans":[')
        groups = _Groups(items, stream)
        for span in spans_at_least(stream.items(), min_duration_ns):
            groups.enter(span)
            items.add(span_json(span, stream))
        groups.close()
