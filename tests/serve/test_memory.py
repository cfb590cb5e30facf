"""The server's memory with a big trace open: a real `orion serve` process, its peak
resident memory read from /proc while the page's routes are asked for."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from orion.spool import Spool
from tests.sample_traces import write_large_trace
from tests.serve.conftest import get, trace_id_of

CALLS = 300_000
# Holding the whole call tree took ~210 MB here; the trace indexed as `orion replay`
# reads it, ~90 MB.
PEAK_MB = 140

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def test_a_big_trace_open_in_the_page_keeps_the_server_small(tmp_path):
    spool = Spool(tmp_path / "spool")
    trace_id = trace_id_of(write_large_trace(spool, CALLS))
    server = subprocess.Popen([sys.executable, "-m", "orion", "serve", "--port", "0",
                               "--spool", str(spool.path)], stderr=subprocess.PIPE, text=True)
    try:
        url = re.search(r"(http://\S+)", server.stderr.readline()).group(1)
        for route in ("replay", "state?exception=1", "state?at=-1&move=back_out", "timeline"):
            answer = get(url, f"/api/trace/{trace_id}/{route}", timeout=120)
            assert answer.status == 200, answer.body[:200]
        first = get(url, f"/api/trace/{trace_id}/state?exception=1").json()
        assert [frame["function"] for frame in first["stack"]] == ["main", "handle", "parse"]
        assert first["stack"][-1]["args"] == {"text": "row 999"}  # parse raises every 1000th
        assert peak_rss_mb(server.pid) < PEAK_MB
    finally:
        server.terminate()
        server.wait()
