"""Choosing what to delete from the spool, and deleting it.

Selection by age and by count uses only file names (start time and id), so it also
removes files too damaged to read; the summary filters (status, language, grep ...) read
summaries and skip what they cannot read. Hidden `.*.tmp` files older than an hour are
what writers killed between creating and publishing a file leave behind.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

from .query import TraceFilter, select
from .spool import Entry, Spool

STALE_TEMPORARY_NS = 3600 * 10**9


@dataclass(frozen=True)
class Doomed:
    """A file to delete: a trace (with its id) or a stale temporary file (id None)."""

    path: Path
    size: int
    trace_id: str | None = None

    def as_json(self) -> dict:
        return {"id": self.trace_id, "path": str(self.path), "bytes": self.size}


@dataclass
class CleanPlan:
    traces: list[Doomed] = field(default_factory=list)
    temporaries: list[Doomed] = field(default_factory=list)

    @property
    def files(self) -> list[Doomed]:
        return self.traces + self.temporaries

    @property
    def size(self) -> int:
        return sum(item.size for item in self.files)


def stamp_ns(stamp: str) -> int:
    """A spool file name's start time (`20261125T143000123456`, UTC) in ns since the epoch."""
    when = datetime.strptime(stamp[:15], "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc)
    return int(when.timestamp()) * 10**9 + int(stamp[15:]) * 1000


def _sized(path: Path, trace_id: str | None = None) -> Doomed | None:
    try:
        return Doomed(path, path.stat().st_size, trace_id)
    except FileNotFoundError:  # deleted meanwhile by someone else
        return None


def stale_temporaries(spool: Spool, now_ns: int,
                      max_age_ns: int = STALE_TEMPORARY_NS) -> list[Doomed]:
    """Hidden `.*.tmp` files in the spool untouched for longer than `max_age_ns`."""
    stale = []
    for path in sorted(spool.path.glob(".*.tmp")):
        try:
            if now_ns - path.stat().st_mtime_ns > max_age_ns:
                stale.append(_sized(path))
        except FileNotFoundError:
            continue
    return [item for item in stale if item is not None]


def plan_clean(spool: Spool, trace_filter: TraceFilter | None = None,
               older_than_ns: int | None = None, keep: int | None = None,
               now_ns: int | None = None,
               on_error: Callable[[Entry, Exception], None] | None = None) -> CleanPlan:
    """What a clean would delete: traces started more than `older_than_ns` ago that pass
    the filter, less the newest `keep` of them, plus stale temporary files."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    entries = spool.entries()
    if older_than_ns is not None:
        entries = [e for e in entries if stamp_ns(e.stamp) < now_ns - older_than_ns]
    if trace_filter is not None:
        entries = [item.entry for item in select(entries, trace_filter, on_error=on_error)]
    if keep is not None:
        entries = entries[keep:]
    traces = [_sized(entry.path, entry.trace_id) for entry in entries]
    return CleanPlan([item for item in traces if item is not None],
                     stale_temporaries(spool, now_ns))


def delete(items: Iterable[Doomed]) -> tuple[list[Doomed], list[tuple[Doomed, OSError]]]:
    """Delete the files (a plan's `files`); return those deleted and those that could not be."""
    deleted, failed = [], []
    for item in items:
        try:
            os.unlink(item.path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            failed.append((item, exc))
        else:
            deleted.append(item)
    return deleted, failed
