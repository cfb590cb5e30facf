"""A native crash is an error in every export: OTLP status and `exception` event, Jaeger's
`error` tag, `orion graph`'s error counts. Real programs crash under `orion run`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import invoke, run_orion

C_CRASH = """
#include <stdio.h>
int fault(int *p) { return *p; }
int middle(int *p) { return fault(p) + 1; }
int main(void) { printf("start\\n"); return middle(0); }
"""

PY_CRASH = """
import ctypes
def fault():
    return ctypes.string_at(0)
def middle():
    return fault()
middle()
"""


def crashed_trace(spool: Path) -> str:
    """The id of the one crashed trace in `spool`."""
    listed = run_orion("list", "--spool", str(spool), "--json")
    rows = [row for row in json.loads(listed.stdout) if row["status"] == "crashed"]
    assert len(rows) == 1, listed.stdout
    return rows[0]["trace_id"]


@pytest.fixture(scope="module")
def c_crash(tmp_path_factory) -> tuple[Path, str]:
    """A C program built with -finstrument-functions that dereferences NULL two calls deep."""
    if shutil.which("gcc") is None:
        pytest.skip("needs gcc")
    work = tmp_path_factory.mktemp("ccrash")
    (work / "crash.c").write_text(C_CRASH)
    subprocess.run(["gcc", "-g", "-O0", "-finstrument-functions", "crash.c", "-o", "crash"],
                   cwd=work, check=True)
    spool = work / "spool"
    result = run_orion("run", "--mode", "dev", "--spool", str(spool), "--", str(work / "crash"))
    assert result.returncode in (139, -11), result.stderr  # -11: it died as the program did
    return spool, crashed_trace(spool)


@pytest.fixture(scope="module")
def python_crash(tmp_path_factory) -> tuple[Path, str]:
    """A Python program that segfaults in ctypes: the agent's crash report holds only the
    crashing stack, no calls."""
    work = tmp_path_factory.mktemp("pycrash")
    (work / "crash.py").write_text(PY_CRASH)
    spool = work / "spool"
    result = run_orion("run", "--spool", str(spool), "--", sys.executable,
                       str(work / "crash.py"))
    assert result.returncode in (139, -11), result.stderr  # -11: it died as the program did
    return spool, crashed_trace(spool)


def otlp_spans(spool: Path, trace: str) -> dict[str, dict]:
    result = invoke("export", "--spool", str(spool), trace, "--format", "otlp")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    return {s["name"]: s for rs in doc["resourceSpans"] for ss in rs["scopeSpans"]
            for s in ss["spans"]}


def event_attributes(event: dict) -> dict:
    return {a["key"]: next(iter(a["value"].values())) for a in event["attributes"]}


@pytest.mark.parametrize("program", ["c_crash", "python_crash"])
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


@pytest.mark.parametrize("program", ["c_crash", "python_crash"])
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


@pytest.mark.parametrize("program", ["c_crash", "python_crash"])
def test_graph_counts_the_crash_as_errors(program, request):
    spool, trace = request.getfixturevalue(program)
    result = invoke("graph", "--spool", str(spool), trace, "--json")
    assert result.exit_code == 0, result.output
    nodes = {n["label"]: n for n in json.loads(result.stdout)["nodes"]}
    assert nodes["fault"]["errors"] == 1 and nodes["middle"]["errors"] == 1
    assert nodes["fault"]["failing_traces"] == [trace]
