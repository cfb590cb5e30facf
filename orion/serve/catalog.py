"""The traces a server may show, found by id only, and the few it keeps loaded.

A web request names a trace by its id (or a unique prefix of it); the id is looked up
among the spool's entries and the given paths, and never joined into a path, so no request
can reach a file outside them. Loading a trace for replay is the expensive part: it is
read as `orion replay` reads it (indexed in flat arrays, a step's values decoded from its
record when shown); the catalog keeps the last few replays in memory (LRU, up to
KEPT_RECORDS records in all), and loads each at most once at a time.
"""

from __future__ import annotations

import gc
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..analysis.replay import Replay
from ..analysis.trace_index import open_replay
from ..format.reader import TraceReader
from ..spool import TRACE_SUFFIX, Entry, Spool
from .timeline import Timeline

TRACE_REF = re.compile(r"^[0-9a-f]{1,32}$")
HEAVY_AT_ONCE = 2
KEPT_RECORDS = 3_000_000  # loaded traces kept while their records add up to at most this


class CollectorPause:
    """Turns Python's cycle collector off while traces load, and back on when the last
    overlapping load ends. A load makes millions of objects, and each collection of the
    oldest generation rescans everything the server holds: with 10,000 summaries listed
    that was ~17% of a 1 M-event load's CPU."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loads = 0
        self._was_enabled = False

    def __enter__(self) -> None:
        with self._lock:
            if self._loads == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._loads += 1

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._loads -= 1
            if self._loads == 0 and self._was_enabled:
                gc.enable()


COLLECTOR_PAUSE = CollectorPause()  # one for the process, as the collector is


class Loading:
    """Counts the loads under way and tells `listeners` (True) when the first starts and
    (False) when the last ends: background work stops meanwhile (see Listing.pause)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loads = 0
        self.listeners: list[Callable[[bool], None]] = []

    def __enter__(self) -> None:
        with self._lock:
            self._loads += 1
            if self._loads == 1:
                for listener in self.listeners:
                    listener(True)

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._loads -= 1
            if self._loads == 0:
                for listener in self.listeners:
                    listener(False)


class NotFound(Exception):
    """No trace (or several) answers to a reference: a 404."""


def _entry_of_file(path: Path) -> Entry | None:
    """An Entry for a trace file outside a spool (its id read from the header)."""
    try:
        with TraceReader(path) as reader:
            trace_id = reader.header.get("trace_id")
    except Exception:  # noqa: BLE001 - an unreadable given file is simply not listed
        return None
    if not isinstance(trace_id, str) or not TRACE_REF.match(trace_id):
        return None
    return Entry(path, trace_id, "")


@dataclass
class Loaded:
    """A trace loaded for replay; `lock` serialises moves of its shared cursor."""

    replay: Replay
    records: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    timeline: Timeline | None = None  # made on the first timeline request


class Catalog:
    """The spool plus the given `.otrace` files and directories, newest first."""

    def __init__(self, spool: Spool, paths: list[Path] = ()) -> None:
        self.spool = spool
        self.directories = [Spool(p) for p in paths if p.is_dir()]
        self.files = [e for p in paths if p.is_file() and p.name.endswith(TRACE_SUFFIX)
                      for e in [_entry_of_file(p)] if e is not None]
        self._listed: tuple[list | None, list[Entry]] = (None, [])  # directory mtimes, entries
        self._replays: OrderedDict[tuple, Loaded] = OrderedDict()  # (id, size, mtime)
        self._loading: dict[tuple, threading.Lock] = {}
        self._lock = threading.Lock()
        # Loads, diffs and graphs take memory in proportion to a trace: a few at a time.
        self.heavy = threading.BoundedSemaphore(HEAVY_AT_ONCE)
        self.loading = Loading()

    def watched_directories(self) -> list[Path]:
        return [self.spool.path, *(d.path for d in self.directories)]

    def entries(self) -> list[Entry]:
        found: list[Entry] = []
        for spool in (self.spool, *self.directories):
            found.extend(spool.entries())
        found.extend(self.files)
        seen: set[str] = set()
        unique = [e for e in found if not (e.trace_id in seen or seen.add(e.trace_id))]
        if self.directories or self.files:
            unique.sort(key=lambda e: (e.stamp, e.trace_id), reverse=True)
        return unique

    def directory_times(self) -> list[int | None]:
        """The mtimes of the watched directories: they change when a trace is added,
        renamed or removed."""
        times = []
        for directory in self.watched_directories():
            try:
                times.append(directory.stat().st_mtime_ns)
            except OSError:
                times.append(None)
        return times

    def _matching(self, ref: str, again: bool) -> list[Entry]:
        """The entries whose id starts with `ref`, from the last listing unless a watched
        directory changed since (or `again`)."""
        times = self.directory_times()
        listed_for, listed = self._listed
        if again or times != listed_for:
            listed = self.entries()
            self._listed = (times, listed)
        return [e for e in listed if e.trace_id.startswith(ref)]

    def find(self, ref: str) -> Entry:
        """The one trace whose id is `ref` or starts with it; NotFound otherwise. The
        page asks for one trace at every step of its slider: a spool of 10,000 traces
        is listed again only when it changed (or the answer is not there any more)."""
        ref = ref.lower()
        if not TRACE_REF.match(ref):
            raise NotFound(f"{ref[:40]!r} is not a trace id")
        matches = self._matching(ref, again=False)
        if len(matches) != 1 or not matches[0].path.exists():
            matches = self._matching(ref, again=True)
        if len(matches) != 1:
            raise NotFound(f"no trace with id {ref!r}" if not matches
                           else f"ambiguous id {ref!r}: matches {len(matches)} traces")
        return matches[0]

    def _key(self, entry: Entry) -> tuple:
        stat = entry.path.stat()
        return entry.trace_id, stat.st_size, stat.st_mtime_ns

    def cached(self, entry: Entry) -> Loaded | None:
        """The trace's replay if it is loaded (this version of its file), else None."""
        with self._lock:
            return self._replays.get(self._key(entry))

    def preload(self, entry: Entry) -> None:
        """Start loading the trace in the background, unless it is loaded or loading: a
        deep link's page (/trace/ID) asks for the replay only once the browser has run
        its script, ~0.3 s later, and then shares the load already under way."""
        with self._lock:
            key = self._key(entry)
            if key in self._replays or key in self._loading:
                return

        def load() -> None:
            try:
                self.loaded(entry)
            except Exception:  # noqa: BLE001 - the page's own request reports the error
                pass

        threading.Thread(target=load, daemon=True, name="orion-preload").start()

    def loaded(self, entry: Entry) -> Loaded:
        """The trace loaded for replay, once per version of its file (a trace still being
        written is loaded again when it has grown), shared by every request."""
        key = self._key(entry)
        with self._lock:
            if key in self._replays:
                self._replays.move_to_end(key)
                return self._replays[key]
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:
            with self._lock:
                if key in self._replays:
                    return self._replays[key]
            with self.heavy, COLLECTOR_PAUSE, self.loading:
                # as `orion replay` reads it; its index is stored while the page shows it
                replay = open_replay(entry.path, store_in_background=True)
                records = (replay.trace.summary.get("counts") or {}).get("records") or 0
                loaded = Loaded(replay, records)
            with self._lock:
                for older in [k for k in self._replays if k[0] == entry.trace_id]:
                    del self._replays[older]
                self._replays[key] = loaded
                while len(self._replays) > 1 and sum(
                        kept.records for kept in self._replays.values()) > KEPT_RECORDS:
                    self._replays.popitem(last=False)
                self._loading.pop(key, None)
        return loaded
