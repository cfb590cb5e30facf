"""The spool: the directory where agents drop .otrace files and commands read them.

Where it is: `--spool DIR`, else `$ORION_SPOOL`, else `spool/` in the nearest `.orion/`
found upwards from the working directory, else the user's data directory. Agents in every
language resolve it the same way.

File names are `<UTC start time, microseconds>Z-<trace id>.otrace`: they sort by time,
and the random 128-bit trace id keeps concurrent writers from ever colliding. A writer
creates its file under a hidden temporary name and renames it into place once the header
frame is on disk, so readers never see a file without a header. (Locating the spool and
creating a file in it is orion.spooldir's, which the agents import: no pathlib there.)
"""

from __future__ import annotations

import os
import re
import stat
from collections import namedtuple
from pathlib import Path

from . import spooldir
from .errors import OrionError
from .spooldir import PROJECT_DIR_NAME, TRACE_SUFFIX, trace_filename  # noqa: F401 (re-exported)

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing would cost every `orion run`
    from typing import Any, Callable

_NAME = re.compile(r"^(\d{8}T\d{12})Z-([0-9a-f]{32})\.otrace$")


def user_data_dir() -> Path:
    return Path(spooldir.user_data_dir())


def resolve_spool(explicit: str | os.PathLike | None = None, cwd: Path | None = None) -> Path:
    return Path(spooldir.resolve_spool_dir(explicit, None if cwd is None else str(cwd)))


class Entry(namedtuple("Entry", ["path", "trace_id", "stamp"])):
    """One trace file in the spool, known from its name alone: its Path, trace id, and
    sortable UTC start time (from the name)."""

    __slots__ = ()


def _readable(path: str | os.PathLike) -> bool:
    """Root reads any file: the check (a system call an entry) is for other users only."""
    return os.geteuid() == 0 or os.access(path, os.R_OK)


def odd_entry(path: Path) -> str | None:
    """Why the spool entry at `path` is no trace file to open, or None when it may be one.

    A FIFO would block whoever opens it forever, a device or socket is no file, a
    directory cannot be read as one: such entries are never opened. Neither is a file
    this user cannot read (never the case for root, who may read anything).
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            return "a symbolic link to nothing"
        return None  # removed meanwhile, by a clean or a writer: not worth a warning
    except OSError as exc:  # a symbolic link loop, a name too long...
        return f"not readable ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        if _readable(path) or not os.path.exists(path):  # readable, or just removed
            return None
        return "not readable (permission denied)"
    kinds = {stat.S_ISDIR: "a directory", stat.S_ISFIFO: "a FIFO (named pipe)",
             stat.S_ISSOCK: "a socket", stat.S_ISCHR: "a character device",
             stat.S_ISBLK: "a block device"}
    return next((kind for test, kind in kinds.items() if test(mode)), "not a regular file")


class Spool:
    def __init__(self, path: str | os.PathLike,
                 warn: Callable[[str], None] | None = None) -> None:
        """`warn` is told, once per entry, about spool entries skipped as not traces."""
        self.path = Path(path)
        self._warn = warn
        self._warned: set[str] = set()

    def __repr__(self) -> str:
        return f"Spool({str(self.path)!r})"

    def _listing(self) -> dict[str, bool]:
        """Each name in the spool directory, and whether it is a plain regular file (known
        from the directory itself, no system call per name; False: look closer)."""
        try:
            with os.scandir(self.path) as listing:
                return {entry.name: entry.is_file(follow_symlinks=False) for entry in listing}
        except FileNotFoundError:
            return {}
        except OSError as exc:  # a file where the spool should be, no permission...
            raise OrionError(f"cannot read the spool {self.path}: "
                             f"{exc.strerror or exc}") from None

    def entries(self, among: set[str] | None = None) -> list[Entry]:
        """Every trace in the spool (or among the names `among`), newest first. Temporary
        files are never listed, and entries named like traces that are no readable regular
        files (odd_entry) are skipped, with a warning."""
        plain = self._listing() if among is None else dict.fromkeys(among, False)
        found = []
        for name in sorted(plain):
            match = _NAME.match(name)
            if not match:
                continue
            path = self.path / name
            problem = None if plain[name] and _readable(path) else odd_entry(path)
            if problem is None:
                found.append(Entry(path, match.group(2), match.group(1)))
            elif name not in self._warned:
                self._warned.add(name)
                if self._warn is not None:
                    self._warn(f"skipping {path}: {problem}, not a trace file")
        found.sort(key=lambda e: (e.stamp, e.trace_id), reverse=True)
        return found

    def path_for(self, trace_id: str, start_ns: int) -> Path:
        return self.path / trace_filename(start_ns, trace_id)

    def find(self, trace_id: str) -> Entry | None:
        return next((e for e in self.entries() if e.trace_id == trace_id), None)

    def open_writer(self, **writer_options: Any):
        """A TraceWriter on a new file in the spool, published once its header is written."""
        writer = spooldir.create_trace(str(self.path), **writer_options)
        writer.path = Path(writer.path)
        return writer

    def add(self, source: Path, trace_id: str, start_ns: int, replace: bool = False) -> Path:
        """Copy a finished trace file into the spool atomically; refuse a duplicate id."""
        existing = self.find(trace_id)
        if existing is not None and not replace:
            raise FileExistsError(existing.path)
        self.path.mkdir(parents=True, exist_ok=True)
        final = self.path_for(trace_id, start_ns)
        temporary = self.path / f".{final.name}.{os.getpid()}.tmp"
        try:
            with open(source, "rb") as src, open(temporary, "xb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
            os.replace(temporary, final)
        finally:
            temporary.unlink(missing_ok=True)
        if existing is not None and existing.path != final:
            existing.path.unlink(missing_ok=True)
        return final
