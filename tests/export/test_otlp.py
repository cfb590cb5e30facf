"""`orion export --format otlp`: checked with the official opentelemetry-proto package."""

from __future__ import annotations

import base64
import json

import pytest
from click.testing import CliRunner

from orion.cli import cli

from .sample import write_rich_trace

json_format = pytest.importorskip("google.protobuf.json_format")
trace_pb2 = pytest.importorskip("opentelemetry.proto.trace.v1.trace_pb2")


def export_otlp(ref: str = "@", *args: str) -> dict:
    result = CliRunner().invoke(cli, ["export", ref, "--format", "otlp", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def hex_ids_to_base64(doc: dict) -> dict:
    """OTLP/JSON ids are hex, but protobuf's JSON parser reads bytes fields as base64."""
    for rs in doc["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for span in ss["spans"]:
                for item in [span, *span.get("links", [])]:
                    for key in ("traceId", "spanId", "parentSpanId"):
                        if key in item:
                            item[key] = base64.b64encode(bytes.fromhex(item[key])).decode()
    return doc


def parse(doc: dict):
    return json_format.Parse(json.dumps(hex_ids_to_base64(doc)), trace_pb2.TracesData())


def spans_of(message) -> list:
    return [s for rs in message.resource_spans for ss in rs.scope_spans for s in ss.spans]


def test_otlp_export_parses_with_opentelemetry_proto(spool):
    path = write_rich_trace(spool)
    doc = export_otlp()
    raw_spans = [s for rs in doc["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
    assert all(len(s["traceId"]) == 32 and len(s["spanId"]) == 16 for s in raw_spans)
    assert all(isinstance(s["kind"], int) and isinstance(s["startTimeUnixNano"], str)
               for s in raw_spans)
    message = parse(doc)
    spans = {s.name: s for s in spans_of(message)}
    assert set(spans) == {"main", "handle", "parse", "save", "work", "helper"}
    trace_id = path.rsplit("-", 1)[1].split(".")[0]
    assert all(s.trace_id.hex() == trace_id for s in spans.values())
    assert spans["handle"].parent_span_id == spans["main"].span_id
    assert spans["work"].parent_span_id == spans["handle"].span_id  # across threads
    assert spans["helper"].parent_span_id == spans["work"].span_id
    assert spans["main"].parent_span_id == b""
    assert spans["main"].start_time_unix_nano == 1_700_000_000_000_000_100
    assert spans["main"].end_time_unix_nano == 1_700_000_000_000_000_900
    assert spans["save"].status.code == trace_pb2.Status.STATUS_CODE_ERROR
    assert spans["save"].status.message == "IOError: disk full"
    assert spans["work"].status.code == trace_pb2.Status.STATUS_CODE_UNSET
    assert spans["main"].kind == trace_pb2.Span.SPAN_KIND_INTERNAL
    attrs = {kv.key: kv.value for kv in spans["parse"].attributes}
    assert attrs["code.function.name"].string_value == "parse"
    assert attrs["code.file.path"].string_value == "shop/parse.py"
    assert attrs["code.line.number"].int_value == 3
    [event] = spans["parse"].events
    assert event.name == "exception" and event.time_unix_nano == 1_700_000_000_000_000_350
    event_attrs = {kv.key: kv.value.string_value for kv in event.attributes}
    assert event_attrs["exception.type"] == "ValueError"
    assert event_attrs["exception.message"] == "bad number 'x'"
    resource = {kv.key: kv.value for kv in message.resource_spans[0].resource.attributes}
    assert resource["service.name"].string_value == "shop"
    assert resource["process.pid"].int_value == 77
    assert resource["host.name"].string_value == "box"
    assert [v.string_value for v in resource["process.command_args"].array_value.values] == [
        "shop", "serve"]


def test_min_duration_drops_short_spans(spool):
    write_rich_trace(spool)
    spans = {s.name: s for s in spans_of(parse(export_otlp("@", "--min-duration", "300")))}
    assert set(spans) == {"main", "handle", "work"}
    # parse (100 ns) and save (100 ns) are gone; their exceptions are on their caller
    events = [{kv.key: kv.value.string_value for kv in e.attributes}
              for e in spans["handle"].events]
    assert [e["exception.type"] for e in events] == ["ValueError", "ValueError", "IOError"]


def test_min_duration_is_refused_where_it_means_nothing(spool):
    write_rich_trace(spool)
    result = CliRunner().invoke(cli, ["export", "@", "--format", "folded",
                                      "--min-duration", "1ms"])
    assert result.exit_code == 2 and "--min-duration" in result.output


def test_a_child_process_links_to_the_span_that_started_it(spool):
    parent = {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7"}
    w = spool.open_writer(language="python", parent=parent)
    lane = w.lane("MainThread")
    w.call(0, lane, w.function("main", "app"))
    w.ret(10, lane)
    w.close()
    [span] = spans_of(parse(export_otlp()))
    assert span.parent_span_id == b""
    [link] = span.links
    assert (link.trace_id.hex(), link.span_id.hex()) == (parent["trace_id"], parent["span_id"])
