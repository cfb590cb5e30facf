"""A real `orion serve` server over a throwaway spool, and a small HTTP client for it."""

from __future__ import annotations

import http.client
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from orion.serve.catalog import Catalog
from orion.serve.server import OrionServer
from orion.spool import Spool
from tests.conftest import write_trace
from tests.sample_traces import write_demo_trace

@pytest.fixture(autouse=True)
def index_cache_of_its_own(tmp_path, monkeypatch):
    """Indexes of big traces go to a cache directory of the test's own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


HOSTILE = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


def get(base: str, path: str, headers: dict[str, str] | None = None,
        method: str = "GET", timeout: float = 30) -> Answer:
    """One request, the path sent exactly as given (no normalising of `..` or `%2F`)."""
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    try:
        conn.request(method, path, headers=headers or {})
        res = conn.getresponse()
        return Answer(res.status, {k.lower(): v for k, v in res.getheaders()}, res.read())
    finally:
        conn.close()


@dataclass
class Served:
    url: str
    spool: Spool
    server: OrionServer
    failed_id: str
    ok_id: str
    hostile_id: str

    def get(self, path: str, **kwargs) -> Answer:
        return get(self.url, path, **kwargs)


def write_hostile_trace(spool: Spool) -> str:
    """A failing trace whose captured strings are HTML that would run if not kept text."""
    w = spool.open_writer(language="python", agent="hostile", mode="dev")
    lane = w.lane("MainThread")
    fn = w.function("render", "web", "web.py", 1)
    named = w.function(HOSTILE, HOSTILE, HOSTILE, 5)  # names are captured strings too
    w.call(100, lane, fn, w.encode_pairs({"html": HOSTILE}))
    w.call(110, lane, named, w.encode_pairs({HOSTILE: HOSTILE}))
    w.ret(120, lane, HOSTILE)
    w.exception(150, lane, "ValueError", HOSTILE, line=2)
    w.unwind(200, lane, 2, w.encode_pairs({"html": HOSTILE}))
    w.close(status="failed", exception={"type": "ValueError", "message": HOSTILE})
    return str(w.path)


def trace_id_of(path: str) -> str:
    return Path(path).stem.rsplit("-", 1)[1]


def start_server(catalog: Catalog, host: str = "127.0.0.1",
                 token: str | None = None) -> OrionServer:
    server = OrionServer((host, 0), catalog, token=token)
    threading.Thread(target=server.serve, daemon=True).start()
    return server


@pytest.fixture
def served(tmp_path) -> Served:
    """A server on loopback over a spool with a failing demo trace, an ok trace of the
    same program and a trace holding hostile strings."""
    spool = Spool(tmp_path / "spool")
    failed = write_demo_trace(spool)
    ok = write_trace(spool, root="main", calls=3)
    hostile = write_hostile_trace(spool)
    server = start_server(Catalog(spool))
    yield Served(server.url, spool, server, trace_id_of(failed), trace_id_of(ok),
                 trace_id_of(hostile))
    server.shutdown()
    server.server_close()
