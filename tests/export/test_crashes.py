"""A native crash is an error in every export: OTLP status and `exception` event, Jaeger's
`error` tag, `orion graph`'s error counts. Real programs crash under `orion run`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from ..conftest import invoke, run_orion


def otlp_span_list(spool: Path, trace: str) -> list[dict]:
    result = invoke("export", "--spool", str(spool), trace, "--format", "otlp")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    return [s for rs in doc["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]


def otlp_spans(spool: Path, trace: str) -> dict[str, dict]:
    return {s["name"]: s for s in otlp_span_list(spool, trace)}


def event_attributes(event: dict) -> dict:
    return {a["key"]: next(iter(a["value"].values())) for a in event["attributes"]}


@pytest.mark.parametrize("program", ["c_crash", "c_plain_crash", "python_crash"])
def test_otlp_crashing_stack_has_error_status_and_an_exception_event(program, request):
    spool, trace = request.getfixturevalue(program)
    spans = otlp_spans(spool, trace)
    for name in ("fault", "middle"):
        assert spans[name]["status"]["code"] == 2
        assert "SIGSEGV" in spans[name]["status"]["message"]
    innermost = "string_at" if program == "python_crash" else "fault"
    events = [e for e in spans[innermost]["events"] if e["name"] == "exception"]
    assert len(events) == 1
    attrs = event_attributes(events[0])
    assert attrs["exception.type"] == "SIGSEGV"
    assert attrs["exception.message"]
    frames = attrs["exception.stacktrace"].splitlines()
    assert [line.split(" ")[0] for line in frames[-3:]] == (
        ["fault", "middle", "<module>"] if program == "python_crash"
        else ["fault", "middle", "main"])
    source = "crash.py" if program == "python_crash" else "crash.c"
    fault_line = 4 if program == "python_crash" else 3
    assert f"{source}:{fault_line})" in frames[-3]
    assert not any(e["name"] == "exception" for e in spans["middle"]["events"])


@pytest.mark.parametrize("program", ["c_crash", "c_plain_crash", "python_crash"])
def test_jaeger_tags_the_crashing_stack_as_errors(program, request):
    spool, trace = request.getfixturevalue(program)
    result = invoke("export", "--spool", str(spool), trace, "--format", "jaeger")
    assert result.exit_code == 0, result.output
    spans = {s["operationName"]: s for s in json.loads(result.stdout)["data"][0]["spans"]}
    for name in ("fault", "middle"):
        assert {"key": "error", "type": "bool", "value": True} in spans[name]["tags"]
    fields = {f["key"]: f["value"] for log in spans["fault"]["logs"] for f in log["fields"]}
    if program == "c_crash":
        assert fields["event"] == "exception" and fields["exception.type"] == "SIGSEGV"


@pytest.mark.parametrize("program", ["c_crash", "c_plain_crash", "python_crash"])
def test_graph_counts_the_crash_as_errors(program, request):
    spool, trace = request.getfixturevalue(program)
    result = invoke("graph", "--spool", str(spool), trace, "--json")
    assert result.exit_code == 0, result.output
    nodes = {n["label"]: n for n in json.loads(result.stdout)["nodes"]}
    assert nodes["fault"]["errors"] == 1 and nodes["middle"]["errors"] == 1
    assert nodes["fault"]["failing_traces"] == [trace]


def test_an_uncaught_exception_exports_each_call_once(spool, tmp_path):
    """The Python agent writes the failing stack again after the calls unwound: it must
    not become spans a second time."""
    program = tmp_path / "app.py"
    program.write_text("def inner():\n    raise KeyError('k')\n\ndef outer():\n"
                       "    inner()\n\nouter()\n")
    assert run_orion("run", "--mode", "dev", "--", sys.executable, str(program)).returncode == 1
    spans = otlp_span_list(spool.path, "@")
    assert sorted(s["name"] for s in spans) == ["<module>", "inner", "outer"]
    assert all(s["status"]["code"] == 2 for s in spans)
