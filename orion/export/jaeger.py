"""The `jaeger` export: the JSON that Jaeger UI's "Upload JSON" accepts (the shape of its
query API: {"data": [{"traceID", "spans", "processes"}]}).

Times are microseconds since the epoch, ids are hex, tags are typed; a call that unwound
gets the `error` tag, exceptions are span logs with `event=exception`. Parent links are
CHILD_OF references. The header becomes the process `p1` (imported spans keep their own
service as further processes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

from ..render.jsonout import dumps
from .jsonstream import JsonItems
from .otlp import header_resource, span_events, span_json
from .spans import Span, SpanStream, spans_at_least

# OTLP span kind -> Jaeger's span.kind tag, as the OpenTelemetry Collector's Jaeger
# translator writes it (an unspecified kind gets no tag).
OTLP_KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


def tag(key: str, value: Any) -> dict:
    if isinstance(value, bool):
        return {"key": key, "type": "bool", "value": value}
    if isinstance(value, int):
        return {"key": key, "type": "int64", "value": value}
    if isinstance(value, float):
        return {"key": key, "type": "float64", "value": value}
    if not isinstance(value, str):
        value = dumps(value)
    return {"key": key, "type": "string", "value": value}


def _value(any_value: dict) -> Any:
    """An OTLP AnyValue (as span_json writes it) back to a plain value for a tag."""
    if "intValue" in any_value:
        return int(any_value["intValue"])
    return next(iter(any_value.values()), None)


def write(path: Path, out: BinaryIO, min_duration_ns: int = 0) -> None:
    with SpanStream(path) as stream:
        items = JsonItems(out, '{"data":[{"traceID":' + dumps(stream.trace_id) + ',"spans":[')
        processes: dict[str, str] = {}  # service name -> process id
        resources: dict[str, dict] = {}  # service name -> its resource attributes

        def process_of(span: Span) -> str:
            resource = stream.resources.get((span.meta or {}).get("resource"))
            attrs = resource.get("attributes") if resource else header_resource(stream.header)
            service = str(attrs.get("service.name") or "unknown_service")
            if service not in processes:
                processes[service] = f"p{len(processes) + 1}"
                resources[service] = attrs
            return processes[service]

        for span in spans_at_least(stream.items(), min_duration_ns):
            otlp = span_json(span, stream)
            tags = [tag(kv["key"], _value(kv["value"])) for kv in otlp["attributes"]]
            kind = OTLP_KINDS.get(otlp["kind"])
            if kind:
                tags.append(tag("span.kind", kind))
            if otlp["status"].get("code") == 2:
                tags.append(tag("error", True))
                if otlp["status"].get("message"):
                    tags.append(tag("otel.status_description", otlp["status"]["message"]))
            logs = [{"timestamp": int(e["timeUnixNano"]) // 1000,
                     "fields": [tag("event", e["name"])] + [
                         tag(kv["key"], _value(kv["value"])) for kv in e["attributes"]]}
                    for e in span_events(span, stream)]
            references = [{"refType": "CHILD_OF", "traceID": stream.trace_id,
                           "spanID": otlp["parentSpanId"]}] if "parentSpanId" in otlp else []
            start_us = (stream.start_ns + span.start) // 1000
            items.add({"traceID": stream.trace_id, "spanID": otlp["spanId"],
                       "operationName": otlp["name"], "references": references,
                       "flags": 1, "startTime": start_us,
                       "duration": max(0, (stream.start_ns + span.end) // 1000 - start_us),
                       "tags": tags, "logs": logs, "processID": process_of(span),
                       "warnings": None})
        procs = {pid: {"serviceName": service,
                       "tags": [tag(k, v) for k, v in resources[service].items()
                                if k != "service.name" and v is not None]}
                 for service, pid in processes.items()}
        items.close('],"processes":' + dumps(procs) + ',"warnings":null}]}')
