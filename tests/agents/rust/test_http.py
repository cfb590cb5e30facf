"""W3C `traceparent` helpers (`orion::traceparent`, `orion::http_client`,
`orion::http_server`): the workspace's `http` example sends a request over a real socket
to a server thread of its own; the trace holds both sides as events, the `traceparent`
sent is the one the server received and names the trace, and the URL's password is
redacted."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from orion.cli import cli as orion_cli
from tests.agents.rust.helpers import build_example
from tests.trace_records import by_type, decoded

pytestmark = pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed")


def test_requests_are_events_and_carry_the_traces_traceparent(tmp_path):
    program = build_example("http")
    done = subprocess.run([str(program)], env={**os.environ, "ORION_SPOOL": str(tmp_path)},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    status, printed = done.stdout.split()
    assert status == "200"
    [path] = tmp_path.glob("*.otrace")
    assert CliRunner().invoke(orion_cli, ["validate", str(path)]).exit_code == 0
    records = decoded(path)
    trace_id = records[0]["trace_id"]
    assert re.fullmatch(rf"00-{trace_id}-[0-9a-f]{{16}}-01", printed)
    events = {e["kind"]: e["attrs"] for e in by_type(records, "event")}
    server, client = events["http.server"], events["http.client"]
    assert (server["method"], server["route"], server["status"]) == ("GET", "/hello", 200)
    assert server["traceparent"] == client["traceparent"] == printed
    assert client["url"].startswith("http://user:<redacted>@127.0.0.1:")
    assert client["status"] == 200 and client["duration_ns"] > 0


def test_nothing_traced_gives_no_traceparent(tmp_path):
    program = build_example("http")
    done = subprocess.run([str(program)], env={**os.environ, "ORION_SPOOL": str(tmp_path),
                                                "ORION_MODE": "off"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["200"]  # no traceparent sent, none printed
    assert not list(tmp_path.glob("*.otrace"))
