"""Shared fixtures: throwaway spools and a way to write small traces with the real writer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from orion.cli import cli
from orion.spool import Spool


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A user config directory (XDG_CONFIG_HOME) and a working directory outside any
    project; returns the working directory."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def spool(tmp_path, monkeypatch) -> Spool:
    """An empty spool that every command and agent in this test resolves to."""
    path = tmp_path / "spool"
    monkeypatch.setenv("ORION_SPOOL", str(path))
    return Spool(path)


def write_trace(spool: Spool, *, status: str = "ok", language: str = "python",
                root: str = "main", calls: int = 3, exception: tuple[str, str] | None = None,
                start_ns: int | None = None, **writer_options) -> str:
    """A small real trace in `spool`: `calls` nested calls under `root`; returns its path."""
    w = spool.open_writer(language=language, start_ns=start_ns, **writer_options)
    lane = w.lane("MainThread")
    fns = [w.function(root, "app", "app.py", 1)] + [
        w.function(f"step{i}", "app", "app.py", 10 + i) for i in range(1, calls)]
    t = 0
    for fn in fns:
        t += 100
        w.call(t, lane, fn, w.encode_pairs({"n": t}))
    if exception:
        w.exception(t + 1, lane, exception[0], exception[1], line=3)
        for _ in fns:
            t += 100
            w.unwind(t, lane, 3, w.encode_pairs({"local": 1}))
    else:
        for _ in fns:
            t += 100
            w.ret(t, lane, t)
    exc = {"type": exception[0], "message": exception[1]} if exception else None
    w.close(status=status, exception=exc)
    return str(w.path)


def invoke(*args: str, input: str | None = None) -> Result:
    """The CLI in this process through click's CliRunner (stdout and stderr kept apart)."""
    return CliRunner().invoke(cli, list(args), input=input)


def run_orion(*args: str, input: str | None = None, env: dict | None = None,
              timeout: float = 60) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess, as a user or a shell script would run it."""
    return subprocess.run([sys.executable, "-m", "orion", *args], input=input,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def read_until_closed(leader: int, shown: bytes = b"") -> bytes:
    """Everything a pseudo-terminal's other side writes until it is closed and drained."""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the other side is closed and everything was read
            return shown
        if not chunk:
            return shown
        shown += chunk
