"""`orion serve` as a user runs it: a real process, its printed URL, `orion status`."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys

import pytest

from tests.conftest import run_orion, write_trace
from tests.serve.conftest import get


@pytest.fixture
def serve_process(spool, tmp_path, monkeypatch):
    """Start `orion serve ARGS...` and return (process, printed URL)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # where it says its address
    started = []

    def start(*args: str):
        process = subprocess.Popen([sys.executable, "-m", "orion", "serve", "--port", "0", *args],
                                   stderr=subprocess.PIPE, text=True,
                                   env={**os.environ, "ORION_SPOOL": str(spool.path)})
        started.append(process)
        line = process.stderr.readline()
        match = re.search(r"(http://\S+)", line)
        assert match, line
        return process, match.group(1)

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=10)


def test_serves_the_spool_and_status_sees_it(serve_process, spool, tmp_path):
    write_trace(spool, root="main")
    process, url = serve_process()
    assert url.startswith("http://127.0.0.1:")
    answer = get(url, "/api/traces")
    assert answer.status == 200 and answer.json()[0]["root"] == "main"
    status = run_orion("status", "--json", env={"ORION_SPOOL": str(spool.path)})
    assert {"pid": process.pid, "url": url} in json.loads(status.stdout)["serve"]
    assert f"serve: running at {url} (pid {process.pid})" in run_orion(
        "status", env={"ORION_SPOOL": str(spool.path)}).stdout
    process.send_signal(signal.SIGINT)  # stopped: it no longer says where it was
    process.wait(timeout=10)
    assert not list((tmp_path / "data" / "orionis" / "serve").iterdir())


def test_beyond_loopback_a_token_is_made_and_printed(serve_process, spool):
    process, url = serve_process("--host", "0.0.0.0")
    token = re.search(r"\?token=(\S+)", url).group(1)
    port = url.split(":")[2].split("/")[0]
    base = f"http://127.0.0.1:{port}"
    assert get(base, "/api/traces").status == 403
    assert get(base, f"/api/traces?token={token}").status == 200


def test_a_port_in_use_is_a_one_line_error(spool):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_orion("serve", "--port", str(port))
    assert result.returncode == 2
    assert result.stderr.startswith("orion: error: cannot listen on 127.0.0.1:")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_missing_path_is_a_usage_error(spool, tmp_path):
    result = run_orion("serve", str(tmp_path / "nowhere.otrace"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
