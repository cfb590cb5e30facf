"""Crashes that Python code cannot see happen (SIGSEGV, SIGABRT in C code).

faulthandler writes the Python stacks of a dying process to a sidecar file in the spool
(`.<trace id>.<pid>.fault`); a clean exit deletes it. The next agent that starts with the
same spool turns every sidecar left by a dead process into a `crashed` trace.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .. import __version__

_SIDECAR = re.compile(r"^\.([0-9a-f]{32})\.(\d+)\.fault$")
_FRAME = re.compile(r'^\s*File "(?P<file>.*)", line (?P<line>\d+) in (?P<name>\S+)')
_FATAL = re.compile(r"^Fatal Python error: (?P<reason>.+)$", re.MULTILINE)


def open_sidecar(session):
    """Open the sidecar file faulthandler will write to (None if the spool is unusable)."""
    try:
        session.spool.path.mkdir(parents=True, exist_ok=True)
        path = session.spool.path / f".{session.trace_id}.{os.getpid()}.fault"
        handle = open(path, "w")
    except OSError:
        return None
    session.sidecar = path
    sweep(session.spool, exclude=path)
    return handle


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def sweep(spool, exclude: Path | None = None) -> list[str]:
    """Convert the sidecars of dead processes into traces; returns the paths written."""
    written = []
    try:
        names = os.listdir(spool.path)
    except OSError:
        return written
    for name in names:
        match = _SIDECAR.match(name)
        path = spool.path / name
        if not match or path == exclude or _alive(int(match.group(2))):
            continue
        try:
            text = path.read_text(errors="replace")
            if text.strip():
                written.append(convert(spool, match.group(1), int(match.group(2)), text))
            path.unlink()
        except OSError:
            continue
    return written


def convert(spool, trace_id: str, pid: int, text: str) -> str:
    """One faulthandler dump -> a crashed trace with the faulting thread's stack."""
    fatal = _FATAL.search(text)
    reason = fatal.group("reason").strip() if fatal else "fatal error"
    writer = spool.open_writer(language="python", agent="orion-python",
                               agent_version=__version__, mode="error",
                               process={"pid": pid, "argv": None, "cwd": None,
                                        "executable": None, "host": None},
                               env={"faulthandler": text[:20000]},
                               parent={"trace_id": trace_id, "span_id": "0" * 16})
    lane = writer.lane("MainThread", "thread", None, None)
    frames = []
    for line in text.split("Current thread", 1)[-1].splitlines()[1:]:
        found = _FRAME.match(line)
        if not found:
            if frames:
                break
            continue
        fid = writer.function(found["name"], None, found["file"], None)
        frames.append([fid, int(found["line"]), None])
    frames.reverse()  # faulthandler prints innermost first
    writer.stack(0, lane, "signal", frames)
    writer.crash(0, lane, "signal", reason, reason, {"pid": pid, "trace_id": trace_id})
    writer.close(status="crashed")
    writer.sink.close()
    return str(writer.path)


def discard_sidecar(session) -> None:
    path = getattr(session, "sidecar", None)
    if path is not None:
        try:
            path.unlink()
        except OSError:
            pass
