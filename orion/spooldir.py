"""Where the spool is, and how a trace file is created in it, with plain str paths.

Every traced Python process imports this module while it starts, so it stays small and
imports neither pathlib nor re nor typing (together ~10 ms there). orion.spool, which lists
and reads the spool for the commands, builds on it with pathlib.
"""

from __future__ import annotations

import os
import sys
import time

SPOOL_ENV = "ORION_SPOOL"
PROJECT_DIR_NAME = ".orion"
TRACE_SUFFIX = ".otrace"

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only
    from typing import Any, Iterator

    from .format.writer import TraceWriter


def user_data_dir() -> str:
    home = os.path.expanduser("~")
    if sys.platform == "darwin":
        return os.path.join(home, "Library", "Application Support", "orionis")
    if os.name == "nt":
        return os.path.join(os.environ.get("LOCALAPPDATA", home), "orionis")
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(home, ".local", "share")
    return os.path.join(base, "orionis")


def self_and_parents(path: str) -> Iterator[str]:
    """`path`, then each directory above it up to the root."""
    while True:
        yield path
        parent = os.path.dirname(path)
        if parent == path:
            return
        path = parent


def find_project_dir(start: str | None = None) -> str | None:
    """The nearest `.orion/` directory at or above `start` (the working directory)."""
    for directory in self_and_parents(os.path.realpath(start or os.getcwd())):
        candidate = os.path.join(directory, PROJECT_DIR_NAME)
        if os.path.isdir(candidate):
            return candidate
    return None


def resolve_spool_dir(explicit: str | os.PathLike | None = None, cwd: str | None = None) -> str:
    """`explicit`, else $ORION_SPOOL, else the project's `.orion/spool`, else the user's."""
    if explicit:
        return os.path.expanduser(os.fspath(explicit))
    from_env = os.environ.get(SPOOL_ENV)
    if from_env:
        return os.path.expanduser(from_env)
    project = find_project_dir(cwd)
    if project is not None:
        return os.path.join(project, "spool")
    return os.path.join(user_data_dir(), "spool")


def trace_filename(start_ns: int, trace_id: str) -> str:
    seconds, nanos = divmod(start_ns, 1_000_000_000)
    # not datetime: every agent names its file
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(seconds))
    return f"{stamp}{nanos // 1000:06d}Z-{trace_id}{TRACE_SUFFIX}"


def trace_id_of(name: str) -> str | None:
    """The trace id in a trace file's name (trace_filename's), or None for another name."""
    if not name.endswith(TRACE_SUFFIX):
        return None
    trace_id = name[:-len(TRACE_SUFFIX)].rpartition("Z-")[2]
    if len(trace_id) == 32 and all(c in "0123456789abcdef" for c in trace_id):
        return trace_id
    return None


def create_trace(directory: str, **writer_options: Any) -> TraceWriter:
    """A TraceWriter on a new file in `directory` (made if missing), published under its
    final name once its header is written; its `path` is that name."""
    from .format.writer import TraceWriter, new_trace_id

    os.makedirs(directory, exist_ok=True)
    trace_id = writer_options.pop("trace_id", None) or new_trace_id()
    start_ns = writer_options.pop("start_ns", None) or time.time_ns()
    name = trace_filename(start_ns, trace_id)
    final = os.path.join(directory, name)
    temporary = os.path.join(directory, f".{name}.tmp")
    sink = open(temporary, "xb")
    try:
        writer = TraceWriter(sink, trace_id=trace_id, start_ns=start_ns, **writer_options)
        os.replace(temporary, final)
    except BaseException:
        sink.close()
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    writer.path = final
    return writer
