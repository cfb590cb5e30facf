"""`orion export --format jaeger`: the shape Jaeger UI's JSON upload reads."""

from __future__ import annotations

import json

from click.testing import CliRunner

from orion.cli import cli

from .sample import write_rich_trace


def test_jaeger_trace_shape(spool):
    write_rich_trace(spool)
    result = CliRunner().invoke(cli, ["export", "@", "--format", "jaeger"])
    assert result.exit_code == 0, result.output
    [trace] = json.loads(result.stdout)["data"]
    spans = {s["operationName"]: s for s in trace["spans"]}
    assert set(spans) == {"main", "handle", "parse", "save", "work", "helper"}
    assert trace["processes"]["p1"]["serviceName"] == "shop"
    assert all(s["traceID"] == trace["traceID"] and s["processID"] == "p1"
               for s in spans.values())
    assert spans["main"]["references"] == []
    assert spans["work"]["references"] == [{"refType": "CHILD_OF", "traceID": trace["traceID"],
                                            "spanID": spans["handle"]["spanID"]}]
    assert spans["main"]["startTime"] == 1_700_000_000_000_000  # microseconds
    tags = {t["key"]: t for t in spans["save"]["tags"]}
    assert tags["error"] == {"key": "error", "type": "bool", "value": True}
    assert tags["code.line.number"] == {"key": "code.line.number", "type": "int64", "value": 7}
    [log] = spans["save"]["logs"]
    fields = {f["key"]: f["value"] for f in log["fields"]}
    assert fields == {"event": "exception", "exception.type": "IOError",
                      "exception.message": "disk full"}
    process_tags = {t["key"]: t["value"] for t in trace["processes"]["p1"]["tags"]}
    assert process_tags["host.name"] == "box" and process_tags["process.pid"] == 77


def test_every_span_says_its_kind(spool):
    """span.kind as the OpenTelemetry Collector's Jaeger translator writes it: calls are
    `internal`, imported spans keep theirs."""
    write_rich_trace(spool)
    result = CliRunner().invoke(cli, ["export", "@", "--format", "jaeger"])
    assert result.exit_code == 0, result.output
    spans = json.loads(result.stdout)["data"][0]["spans"]
    kinds = [[t["value"] for t in s["tags"] if t["key"] == "span.kind"] for s in spans]
    assert kinds == [["internal"]] * len(spans)
