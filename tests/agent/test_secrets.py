"""Secrets never reach the file: not through exception messages, not through argv."""

from __future__ import annotations

import pytest

from orion.format.summary import read_summary

from .agent_helpers import clean_env, python, raw_bytes, records, run, traces

SECRET = "supersecretvalue123"
FAILS = """\
import os
def work(n):
    raise RuntimeError("boom " + os.environ["MY_API_TOKEN"])
work(1)
"""


@pytest.mark.parametrize("mode", ["dev", "safe", "error"])
def test_secret_values_and_options_are_scrubbed_from_messages_and_argv(tmp_path, spool, mode):
    program = tmp_path / "app.py"
    program.write_text(FAILS)
    result = run([python(), "-m", "orion.agent", "--mode", mode, "--sample", "off",
                  "--spool", str(spool), str(program),
                  f"--api-key={SECRET}", "--password", "hunter99", "-auth-token", "tok42",
                  "--verbose", "plain"],
                 env=clean_env(MY_API_TOKEN=SECRET))
    assert result.returncode == 1, result.stderr
    (path,) = traces(spool)
    data = raw_bytes(path)  # every record, header and trailer included
    assert SECRET.encode() not in data
    assert b"hunter99" not in data and b"tok42" not in data
    recs = records(path)
    (crash,) = [r for r in recs if r["type"] == "crash"]
    assert crash["message"] == "boom <redacted>"
    assert [r["message"] for r in recs if r["type"] == "exception"] == ["boom <redacted>"]
    summary = read_summary(path)
    assert summary["exception"]["message"] == "boom <redacted>"
    assert summary["command"][1:] == ["--api-key=<redacted>", "--password", "<redacted>",
                                      "-auth-token", "<redacted>", "--verbose", "plain"]
    (header,) = [r for r in recs if r["type"] == "header"]
    assert header["process"]["argv"] == summary["command"]
