"""/api/live: Server-Sent Events when a trace appears in the spool (watchdog)."""

from __future__ import annotations

import http.client
import json
import threading
import time
from urllib.parse import urlsplit

from tests.conftest import write_trace


def read_events(url: str, found: list, stop: threading.Event) -> None:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
    conn.request("GET", "/api/live")
    res = conn.getresponse()
    found.append(("status", res.status, res.getheader("Content-Type")))
    while not stop.is_set():
        line = res.fp.readline()
        if not line:
            break
        if line.startswith(b"data: "):
            found.append(json.loads(line[len(b"data: "):]))
            if any(isinstance(x, dict) and x.get("kind") in ("created", "moved")
                   for x in found):
                break
    conn.close()


def test_a_new_trace_is_announced(served):
    found: list = []
    stop = threading.Event()
    reader = threading.Thread(target=read_events, args=(served.url, found, stop), daemon=True)
    reader.start()
    for _ in range(100):  # connected (the status line read) before the trace is written
        if found:
            break
        stop.wait(0.05)
    assert found[0] == ("status", 200, "text/event-stream")
    path = write_trace(served.spool, root="fresh_run")
    reader.join(timeout=15)
    stop.set()
    new_id = path.rsplit("-", 1)[1].split(".")[0]
    assert {"id": new_id} in [{"id": x["id"]} for x in found[1:]]
    listed = served.get("/api/traces").json()
    assert listed[0]["id"] == new_id  # the cached list was refreshed


def test_a_growing_trace_is_listed_as_it_grows(served):
    """An incomplete trace being written: the list follows it without any new file."""
    w = served.spool.open_writer(language="python")
    lane = w.lane("MainThread")
    fn = w.function("main", "app", "app.py", 1)
    w.call(1, lane, fn)
    w.flush()
    trace_id = w.path.stem.rsplit("-", 1)[1]

    def calls() -> int | None:
        listed = {t["id"]: t for t in served.get("/api/traces").json()}
        return listed[trace_id]["counts"]["calls"] if trace_id in listed else None

    assert calls() == 1
    for t in range(2, 5):
        w.call(t, lane, fn)
    w.flush()
    deadline = time.monotonic() + 10
    while calls() != 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert calls() == 4
    w.close()
