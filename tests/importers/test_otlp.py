"""`orion import` of OTLP/JSON: the shapes tools write, and otlp -> .otrace -> otlp."""

from __future__ import annotations

import base64
import json

from orion.model import UNWOUND, load_trace

from ..conftest import invoke as orion
from ..export.sample import write_rich_trace

TRACE = "5b8efff798038103d269b633813fc60c"


def spans_of(doc: dict) -> list[dict]:
    return [s for rs in doc["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]


def test_otlp_round_trips_through_otrace(spool, tmp_path):
    write_rich_trace(spool)
    first = orion("export", "@", "--format", "otlp")
    assert first.exit_code == 0
    source = tmp_path / "spans.json"
    source.write_text(first.stdout)
    other = tmp_path / "other"
    result = orion("import", str(source), "--spool", str(other))
    assert result.exit_code == 0, result.output
    again = orion("export", "@", "--format", "otlp", "--spool", str(other))
    assert again.exit_code == 0, again.output
    before, after = json.loads(first.stdout), json.loads(again.stdout)
    key = lambda s: s["spanId"]  # noqa: E731
    assert sorted(spans_of(before), key=key) == sorted(spans_of(after), key=key)
    assert before["resourceSpans"][0]["resource"] == after["resourceSpans"][0]["resource"]


def otlp_span(span_id: str, name: str, start: int, end: int, parent: str = "", **extra) -> dict:
    span = {"traceId": TRACE, "spanId": span_id, "name": name,
            "startTimeUnixNano": str(start), "endTimeUnixNano": str(end), **extra}
    if parent:
        span["parentSpanId"] = parent
    return span


def document(spans: list[dict], service: str = "checkout") -> dict:
    return {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"scope": {"name": "manual"}, "spans": spans}]}]}


def b64(hex_id: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_id)).decode()


def test_base64_ids_named_enums_and_old_semconv_names(spool, tmp_path):
    root = otlp_span(b64("00000000000000a1"), "GET /cart", 1_000, 9_000,
                     kind="SPAN_KIND_SERVER", status={"code": "STATUS_CODE_ERROR",
                                                      "message": "boom"},
                     attributes=[{"key": "code.function", "value": {"stringValue": "cart"}},
                                 {"key": "code.filepath", "value": {"stringValue": "cart.py"}},
                                 {"key": "code.lineno", "value": {"intValue": 42}}],
                     events=[{"timeUnixNano": "8000", "name": "exception", "attributes": [
                         {"key": "exception.type", "value": {"stringValue": "KeyError"}},
                         {"key": "exception.message", "value": {"stringValue": "'sku'"}}]}])
    root["traceId"] = b64(TRACE)
    child = otlp_span("00000000000000b2", "SELECT", 2_000, 3_000, "00000000000000a1", kind=3)
    source = tmp_path / "trace.json"
    source.write_text(json.dumps(document([root, child])))
    result = orion("import", str(source))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == TRACE
    trace = load_trace(spool.entries()[0].path)
    assert trace.header["service"] == "checkout" and trace.header["start_ns"] == 1_000
    [lane] = trace.lanes.values()
    [top] = lane.roots
    assert top.fn.name == "GET /cart" and top.fn.file == "cart.py" and top.fn.line == 42
    assert top.outcome == UNWOUND and top.end - top.start == 8_000
    assert [c.fn.name for c in top.children] == ["SELECT"]
    assert [(e.type, e.message) for e in top.exceptions] == [("KeyError", "'sku'")]
    spans = {s["name"]: s for s in spans_of(json.loads(
        orion("export", "@", "--format", "otlp").stdout))}
    assert spans["GET /cart"]["kind"] == 2 and spans["SELECT"]["kind"] == 3
    assert spans["GET /cart"]["status"] == {"code": 2, "message": "boom"}
    assert spans["SELECT"]["parentSpanId"] == "00000000000000a1"


def test_arrays_and_json_lines_with_several_traces(spool, tmp_path):
    other = "0af7651916cd43dd8448eb211c80319c"
    one = document([otlp_span("00000000000000a1", "a", 10, 20)])
    two = document([dict(otlp_span("00000000000000c1", "b", 30, 40), traceId=other)],
                   service="billing")
    as_array = tmp_path / "array.json"
    as_array.write_text(json.dumps([one]))
    lines = tmp_path / "lines.jsonl"
    lines.write_text(json.dumps(two) + "\n\n")
    result = orion("import", str(as_array), str(lines))
    assert result.exit_code == 0, result.output
    assert sorted(result.stdout.split()) == sorted([TRACE, other])
    assert {e.trace_id for e in spool.entries()} == {TRACE, other}


def test_overlapping_children_go_to_separate_lanes(spool, tmp_path):
    spans = [otlp_span("00000000000000a1", "fanout", 0, 100),
             otlp_span("00000000000000b1", "call-1", 10, 60, "00000000000000a1"),
             otlp_span("00000000000000b2", "call-2", 20, 80, "00000000000000a1"),
             otlp_span("00000000000000b3", "call-3", 70, 90, "00000000000000a1")]
    source = tmp_path / "fan.json"
    source.write_text(json.dumps(document(spans)))
    assert orion("import", str(source)).exit_code == 0
    trace = load_trace(spool.entries()[0].path)
    layout = sorted([c.fn.name for c in root.children] if root.children else [root.fn.name]
                    for lane in trace.lanes.values() for root in lane.roots)
    assert layout == [["call-1", "call-3"], ["call-2"]]
    exported = spans_of(json.loads(orion("export", "@", "--format", "otlp").stdout))
    assert {s["name"]: s.get("parentSpanId") for s in exported} == {
        "fanout": None, "call-1": "00000000000000a1", "call-2": "00000000000000a1",
        "call-3": "00000000000000a1"}


def test_malformed_otlp_is_unreadable_not_a_traceback(spool, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(document([otlp_span("xyz", "a", 1, 2)])))
    weird = tmp_path / "weird.json"
    weird.write_text('{"hello": 1}')
    result = orion("import", str(bad), str(weird))
    assert result.exit_code == 2
    assert "'xyz'" in result.stderr and "neither OTLP" in result.stderr
    assert spool.entries() == []


def test_json_written_by_protobuf_itself_imports(spool, tmp_path):
    """protobuf's own JSON: base64 ids, enum names, int64 as strings, absent defaults."""
    import pytest
    json_format = pytest.importorskip("google.protobuf.json_format")
    trace_pb2 = pytest.importorskip("opentelemetry.proto.trace.v1.trace_pb2")
    data = trace_pb2.TracesData()
    rs = data.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", "inventory"
    ss = rs.scope_spans.add()
    ss.scope.name = "io.opentelemetry.jdbc"
    span = ss.spans.add()
    span.trace_id, span.span_id = bytes.fromhex(TRACE), bytes.fromhex("1111111111111111")
    span.name, span.kind = "SELECT stock", trace_pb2.Span.SPAN_KIND_CLIENT
    span.start_time_unix_nano, span.end_time_unix_nano = 5_000, 7_500
    attr = span.attributes.add()
    attr.key, attr.value.int_value = "db.rows", 3
    event = span.events.add()
    event.time_unix_nano, event.name = 6_000, "exception"
    for key, value in (("exception.type", "SQLException"), ("exception.message", "locked")):
        item = event.attributes.add()
        item.key, item.value.string_value = key, value
    span.status.code = trace_pb2.Status.STATUS_CODE_ERROR
    text = json_format.MessageToJson(data)
    assert '"SPAN_KIND_CLIENT"' in text and '"5000"' in text  # names and strings, as said
    source = tmp_path / "pb.json"
    source.write_text(text)
    result = orion("import", str(source))
    assert result.exit_code == 0, result.output
    [exported] = spans_of(json.loads(orion("export", "@", "--format", "otlp").stdout))
    assert exported["spanId"] == "1111111111111111" and exported["kind"] == 3
    assert exported["status"] == {"code": 2}
    assert exported["attributes"] == [{"key": "db.rows", "value": {"intValue": "3"}}]
    assert exported["events"][0]["timeUnixNano"] == "6000"
    assert (exported["startTimeUnixNano"], exported["endTimeUnixNano"]) == ("5000", "7500")


def test_flags_and_exception_stacktrace_survive_the_round_trip(spool, tmp_path):
    """What the call model has no place for comes back out: span flags (W3C trace flags,
    the remote-parent bits), the exception event's other attributes, the resource's
    schema URL."""
    stack = 'Traceback (most recent call last):\n  File "cart.py", line 42, in cart\nKeyError'
    root = otlp_span("00000000000000a1", "GET /cart", 1_000, 9_000, kind=2, flags=0x301,
                     status={"code": 2},
                     events=[{"timeUnixNano": "8000", "name": "exception", "attributes": [
                         {"key": "exception.type", "value": {"stringValue": "KeyError"}},
                         {"key": "exception.message", "value": {"stringValue": "'sku'"}},
                         {"key": "exception.stacktrace", "value": {"stringValue": stack}},
                         {"key": "exception.escaped", "value": {"boolValue": True}}]}])
    child = otlp_span("00000000000000b2", "SELECT", 2_000, 3_000, "00000000000000a1", kind=3)
    source = tmp_path / "trace.json"
    doc = document([root, child])
    doc["resourceSpans"][0]["schemaUrl"] = "https://opentelemetry.io/schemas/1.26.0"
    source.write_text(json.dumps(doc))
    assert orion("import", str(source)).exit_code == 0
    exported = json.loads(orion("export", "@", "--format", "otlp").stdout)
    assert exported["resourceSpans"][0]["schemaUrl"] == doc["resourceSpans"][0]["schemaUrl"]
    spans = {s["name"]: s for s in spans_of(exported)}
    assert spans["GET /cart"]["flags"] == 0x301 and "flags" not in spans["SELECT"]
    [event] = spans["GET /cart"]["events"]
    assert event["name"] == "exception" and event["attributes"] == root["events"][0][
        "attributes"]
