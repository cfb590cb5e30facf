"""Crashes that Python code cannot see happen (SIGSEGV, SIGABRT in C code).

faulthandler writes the Python stacks of a dying process to a sidecar file in the spool
(`.<trace id>.<pid>.fault`); a clean exit deletes it. A sidecar left by a dead process
becomes a `crashed` trace: right after the command when `orion run` started the process
(the agent reports its sidecar to it), else when the next agent starts with the same spool.
"""

from __future__ import annotations

import os

from .. import __version__
from ..lazyre import LazyPattern
from ..spooldir import create_trace

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: typing costs every traced process its import
    from typing import Iterable

# .<trace id>-<process span id>.<pid>.fault (sidecars of older agents have no span id)
_SIDECAR = LazyPattern(r"^\.(?P<trace>[0-9a-f]{32})(?:-(?P<span>[0-9a-f]{16}))?\.(?P<pid>\d+)\.fault$")
_FRAME = LazyPattern(r'^\s*File "(?P<file>.*)", line (?P<line>\d+) in (?P<name>\S+)')
_FATAL = LazyPattern(r"(?m)^Fatal Python error: (?P<reason>.+)$")
# faulthandler's words for the signals it catches
_SIGNALS = {"Segmentation fault": "SIGSEGV", "Aborted": "SIGABRT", "Bus error": "SIGBUS",
            "Floating point exception": "SIGFPE", "Illegal instruction": "SIGILL"}


def open_sidecar(session) -> int | None:
    """Open the sidecar file faulthandler will write to (None if the spool is unusable).
    A descriptor, not a file object: once something else (pytest) enables faulthandler,
    the agent's file object would be left for the interpreter's teardown to collect, with
    a ResourceWarning about an unclosed file."""
    try:
        os.makedirs(session.spool_dir, exist_ok=True)
        name = f".{session.trace_id}-{session.span_id}.{os.getpid()}.fault"
        path = os.path.join(session.spool_dir, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except OSError:
        return None
    session.sidecar = path
    session.announce(path)
    sweep(session.spool_dir, exclude=name)
    return fd


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def sweep(spool_dir: str, exclude: str | None = None) -> list[str]:
    """Convert the sidecars of dead processes in the spool into traces (the one named
    `exclude` aside); returns the paths written. Runs as every traced process starts:
    a spool's other entries are passed over by their names alone."""
    try:
        names = os.listdir(spool_dir)
    except OSError:
        return []
    return [written for name in names
            if name.endswith(".fault") and name.startswith(".") and name != exclude
            for written in _convert_dead(spool_dir, name)]


def recover(sidecars: Iterable[str]) -> list[str]:
    """After `orion run`: the traces of its processes that died without closing them, from
    the sidecars they reported: the process's own trace (left incomplete in dev/safe mode,
    already reported when a handled signal closed it) and the crash faulthandler dumped."""
    written = []
    for path in sidecars:
        spool_dir, name = os.path.split(path)
        if not os.path.exists(path):
            continue  # closed normally (most runs: no pattern to compile), or converted
        match = _SIDECAR.match(name)
        if match is None or _alive(int(match["pid"])):
            continue  # not a sidecar, or still running
        from ..spool import Spool

        own = Spool(spool_dir).find(match["trace"])
        if own is not None:
            written.append(str(own.path))
        written += _convert_dead(spool_dir, name)
    return written


def _convert_dead(spool_dir: str, name: str) -> list[str]:
    """The crashed trace in a dead process's sidecar, which is then removed; claimed first
    by a rename, so that an agent starting meanwhile does not convert it a second time."""
    match = _SIDECAR.match(name)
    if match is None or _alive(int(match["pid"])):
        return []
    path = os.path.join(spool_dir, name)
    claimed = f"{path}.{os.getpid()}"
    try:
        os.rename(path, claimed)
    except OSError:
        return []  # gone: another process converted it
    try:
        with open(claimed, errors="replace") as file:
            text = file.read()
        written = ([convert(spool_dir, match["trace"], int(match["pid"]), text, match["span"])]
                   if text.strip() else [])
    except OSError:
        os.replace(claimed, path)  # for the next agent to try again
        return []
    os.unlink(claimed)
    return written


def convert(spool_dir: str, trace_id: str, pid: int, text: str,
            span_id: str | None = None) -> str:
    """One faulthandler dump -> a crashed trace with the faulting thread's stack, whose
    parent is the dead process's own trace and span (as a child process names its parent;
    a W3C span id is never all zeros, so an older sidecar without one gets no parent)."""
    import signal  # not at the top: every traced process imports this module

    fatal = _FATAL.search(text)
    message = fatal.group("reason").strip() if fatal else "fatal error"
    name = _SIGNALS.get(message)
    signum = getattr(signal, name, None) if name else None
    reason = name if signum is not None else message
    writer = create_trace(spool_dir, language="python", agent="orion-python",
                          agent_version=__version__, mode="error",
                          process={"pid": pid, "argv": None, "cwd": None,
                                   "executable": None, "host": None},
                          env={"faulthandler": text[:20000]},
                          parent={"trace_id": trace_id, "span_id": span_id} if span_id
                          else None)
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
    detail = {"pid": pid, "trace_id": trace_id}
    if signum is not None:
        detail["signal"] = int(signum)
    writer.crash(0, lane, "signal", reason, message, detail)
    writer.close(status="crashed", exit_code=128 + signum if signum is not None else None)
    writer.sink.close()
    return writer.path


def discard_sidecar(session) -> None:
    path = getattr(session, "sidecar", None)
    if path is not None:
        try:
            os.unlink(path)
        except OSError:
            pass
