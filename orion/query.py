"""Selecting traces by their summaries: the filters `list`, `clean` and others share."""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

from .format import constants as C
from .format.errors import OutOfMemory, TraceError
from .spool import Entry

if TYPE_CHECKING:
    from .analysis.fingerprint import Fingerprints

FAILED_STATUSES = frozenset({"failed", "crashed", "incomplete"})


@dataclass
class TraceFilter:
    statuses: frozenset[str] | None = None
    languages: frozenset[str] | None = None
    since_ns: int | None = None
    until_ns: int | None = None
    grep: re.Pattern | None = None

    def matches(self, summary: dict, path: Path | None = None) -> bool:
        """Whether a trace passes; with `path`, --grep also searches every function the
        trace defines when its summary does not match (slower: it reads the body)."""
        if self.statuses is not None and summary.get("status") not in self.statuses:
            return False
        if self.languages is not None and summary.get("language") not in self.languages:
            return False
        start = summary.get("start_ns") or 0
        if self.since_ns is not None and start < self.since_ns:
            return False
        if self.until_ns is not None and start > self.until_ns:
            return False
        if self.grep is not None:
            texts = searchable_texts(summary)
            if path is not None:
                texts = chain(texts, function_names(path))
            if not any(self.grep.search(text) for text in texts):
                return False
        return True


def searchable_texts(summary: dict) -> Iterator[str]:
    """What --grep looks at: entry point, name, exception type, message and function."""
    for key in ("root", "name"):
        if isinstance(summary.get(key), str):
            yield summary[key]
    exception = summary.get("exception") or {}
    for key in ("type", "message", "function"):
        if isinstance(exception.get(key), str):
            yield exception[key]
    for name in summary.get("stack") or ():
        if isinstance(name, str):
            yield name


def function_names(path: Path) -> Iterator[str]:
    """The names of the functions a trace defines, read lazily; nothing if it is unreadable."""
    from .format.reader import TraceReader  # on use: `orion run` never reads a trace here

    strings: dict[int, str] = {}
    try:
        with TraceReader(path) as reader:
            for rec in reader.records():
                if rec[0] == C.STRING:
                    strings[rec[1]] = rec[2]
                elif rec[0] == C.FUNCTION and rec[2] in strings:
                    yield strings[rec[2]]
    except OutOfMemory:
        raise  # not a trace without names: an error naming the file
    except (TraceError, OSError):
        return


@dataclass(frozen=True)
class Listed:
    entry: Entry
    summary: dict


def listed_json(item: Listed, found: "Fingerprints | None") -> dict:
    """A trace as `orion list --json` (and `orion serve`'s /api/traces) give it;
    `fingerprints` is null when not computed."""
    return {"id": item.entry.trace_id, "path": str(item.entry.path), **item.summary,
            "fingerprints": found.to_json() if found is not None else None}


def select(entries: Iterable[Entry], trace_filter: TraceFilter, limit: int | None = None,
           on_error=None) -> list[Listed]:
    """Summaries of the entries that pass the filter, in the entries' order, at most
    `limit` of them (see `selected`)."""
    return list(islice(selected(entries, trace_filter, on_error), limit))


def selected(entries: Iterable[Entry], trace_filter: TraceFilter,
             on_error=None) -> Iterator[Listed]:
    """Summaries of the entries that pass the filter, in the entries' order, read as they
    are asked for (a caller that drops some can ask for more: see `orion list -n`).

    A file that cannot be read is passed to `on_error(entry, error)` and skipped, so one
    bad file never hides the rest of the spool; a file removed meanwhile is no error.
    Running out of memory is no property of the file: OutOfMemory naming it is raised
    instead, never a shorter result.
    """
    from .format.summary import read_summary  # on use, as in function_names

    for entry in entries:
        try:
            with memory_named(entry.path):
                summary = read_summary(entry.path)
        except OutOfMemory:
            raise
        except (TraceError, OSError) as exc:
            if on_error is not None and entry.path.exists():  # a vanished file is no error
                on_error(entry, exc)
            continue
        with memory_named(entry.path):
            matched = trace_filter.matches(summary, entry.path)
        if matched:
            yield Listed(entry, summary)


@contextmanager
def memory_named(path: Path) -> Iterator[None]:
    """A MemoryError while reading `path` becomes OutOfMemory naming it: a TraceError, so
    a command reports it in one line, and no reason to call the file corrupt."""
    try:
        yield
    except MemoryError:
        raise OutOfMemory(str(path)) from None
