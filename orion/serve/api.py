"""The JSON routes of `orion serve`, as plain functions of a request path and its query.

Everything here is computed by the library the CLI uses (query, replay, diff, callgraph,
flame); this module only chooses what to compute for a route and shapes the answer. It
knows nothing of HTTP beyond the status code an error deserves.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
from collections import Counter, OrderedDict
from pathlib import Path
from itertools import islice
from typing import Any, Callable, Iterator

from ..analysis.callgraph import KINDS, CallGraph
from ..analysis.diff import DiffOptions, diff_traces, result_json
from ..analysis.fingerprint import Fingerprints
from ..analysis.flame import fold_lanes
from ..analysis.replay import ReplayError
from ..errors import OrionError
from ..format.constants import STATUSES
from ..format.errors import TraceError
from ..format.reader import TraceReader
from ..format.summary import read_summary
from ..model import failing_path, load_trace
from ..query import FAILED_STATUSES, Listed, TraceFilter, listed_json
from ..render.diff import render_side_by_side
from ..render.graphviz import to_dot
from ..render.jsonout import dumps
from ..spool import Entry
from ..timeparse import parse_when_ns
from .catalog import Catalog, Loaded, NotFound
from .difftree import diff_rows
from .fingerprinting import Fingerprinter
from .timeline import Timeline

PAGE_SIZE = 500  # traces per /api/traces answer unless ?limit= says otherwise
MAX_PAGE = 10_000
FINGERPRINT_MAX_RECORDS = 200_000  # bigger traces are listed without fingerprints here
DIFF_MAX_RECORDS = 1_000_000  # both traces are loaded whole to be diffed
SIDE_BY_SIDE_WIDTH = 200  # characters of `orion diff -y`'s text in the diff view
FLAME_MAX_NODES = 3_000
GRAPH_TRACES = 200  # traces merged into /api/graph unless ?limit= says otherwise
GRAPH_MAX_TRACES = 2_000
KEPT_ANSWERS = 16  # graphs, flame graphs and diffs kept for their files (see Computed)
MOVES = ("forward", "backward", "over", "back_over", "out", "back_out")
HEADER_KEYS = ("format", "version", "trace_id", "agent", "mode", "start_ns", "process", "env")


class ApiError(Exception):
    """An answer other than 200: its status and a one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Listing:
    """Every trace's summary, kept between requests and read again only for a file whose
    size or mtime changed. The list is checked when a watched directory's mtime changes
    (a trace added, renamed or deleted) or the watcher reports a trace written
    (`changed()`: an incomplete trace growing). While one request rebuilds the list, the
    others are answered from the previous one rather than kept waiting. Fingerprints are
    computed in the background, in a child process (see fingerprinting.py), and appear
    in later answers."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._built_for: list | None = None
        self._stale = False
        self._items: list[Listed] = []
        self._summaries: dict[Path, tuple[int, int, dict]] = {}  # size, mtime, summary
        self._fingerprints: dict[str, Fingerprints | None] = {}
        self._answers: dict[tuple[int, str], bytes] = {}  # (version, query) -> body
        self._version = 0  # of the items and fingerprints the answers were made from
        self._lock = threading.Lock()
        self._answering = threading.Lock()
        self._fingerprinting: threading.Thread | None = None
        self._fingerprinter: Fingerprinter | None = None
        self._paused = False  # while a trace loads (see pause)
        self._pausing = threading.Lock()
        self.stopped = threading.Event()  # set by stop(): background work ends

    def changed(self) -> None:
        """The watcher saw a trace written: check the list at the next request."""
        self._stale = True

    def items(self) -> tuple[int, list[Listed]]:
        """The summaries of every trace, newest first, and their version."""
        if not self._lock.acquire(blocking=self._built_for is None):
            return self._version, self._items  # being rebuilt by another request
        try:
            times = self.catalog.directory_times()
            if times != self._built_for or self._stale:
                self._stale = False
                self._rebuild()
                self._built_for = times
                self._new_version()
            return self._version, self._items
        finally:
            self._lock.release()

    def _new_version(self) -> None:
        self._version += 1
        self._answers = {}

    def _rebuild(self) -> None:
        items, summaries = [], {}
        for entry in self.catalog.entries():
            try:
                stat = entry.path.stat()
                known = self._summaries.get(entry.path)
                if known is not None and known[:2] == (stat.st_size, stat.st_mtime_ns):
                    summary = known[2]
                else:
                    summary = read_summary(entry.path)
            except (TraceError, OSError):
                continue  # unreadable or vanished: `orion list` warns, a page skips it
            summaries[entry.path] = (stat.st_size, stat.st_mtime_ns, summary)
            items.append(Listed(entry, summary))
        self._items, self._summaries = items, summaries
        if any(item.entry.trace_id not in self._fingerprints for item in items) and not (
                self._fingerprinting and self._fingerprinting.is_alive()):
            self._fingerprinting = threading.Thread(target=self._fingerprint, args=(items,),
                                                    daemon=True, name="orion-fingerprints")
            self._fingerprinting.start()

    def _fingerprint(self, items: list[Listed]) -> None:
        todo = [(item.entry.trace_id, item.entry.path, item.summary) for item in items
                if item.entry.trace_id not in self._fingerprints]
        child = Fingerprinter(self.catalog.spool.path, todo, FINGERPRINT_MAX_RECORDS)
        with self._pausing:
            self._fingerprinter = child
            if self._paused:
                child.pause(True)
        if self.stopped.is_set():
            child.stop()
        for trace_id, found in child.results():
            self._fingerprints[trace_id] = found
        with self._lock:
            self._new_version()

    def pause(self, paused: bool) -> None:
        """A trace loads (True) or the last load ended (False): the fingerprinting child
        stops meanwhile. Run beside a load, even niced and on the other core, it made the
        load's CPU time ~30% longer on this 2-core machine, and took chromium's time."""
        with self._pausing:
            self._paused = paused
            if self._fingerprinter is not None:
                self._fingerprinter.pause(paused)

    def stop(self) -> None:
        """The server stops: background work ends now."""
        self.stopped.set()
        if self._fingerprinter is not None:
            self._fingerprinter.stop()

    def answer(self, query: dict[str, str]) -> bytes:
        """The JSON bytes of /api/traces for `query`, cached until something changes."""
        version, _ = self.items()
        key = (version, json.dumps(sorted(query.items())))
        cached = self._answers.get(key)
        if cached is not None:
            return cached
        with self._answering:  # fifty requests for the same new answer compute it once
            cached = self._answers.get(key)
            if cached is None:
                cached = self._answers[key] = self._answer(query)
                if len(self._answers) > 64:
                    self._answers = {key: cached}
            return cached

    def matching(self, query: dict[str, str]) -> Iterator[tuple[Listed, Fingerprints | None]]:
        """The traces that `query`'s filters (those of `orion list`, plus a fingerprint
        prefix) select, newest first, with their fingerprints when known."""
        trace_filter = trace_filter_of(query)
        prefix = query.get("fingerprint") or None
        for item in self.items()[1]:
            if not trace_filter.matches(item.summary, item.entry.path if trace_filter.grep
                                        else None):
                continue
            found = self._fingerprints.get(item.entry.trace_id)
            if prefix is not None and (found is None or not found.matches(prefix)):
                continue
            yield item, found

    def _answer(self, query: dict[str, str]) -> bytes:
        offset = _int(query, "offset", 0, 0, 1 << 40)
        limit = _int(query, "limit", PAGE_SIZE, 1, MAX_PAGE)
        page = [listed_json(item, found) for item, found in
                islice(self.matching(query), offset, offset + limit)]
        return dumps(page).encode("utf-8")


def _int(query: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    text = query.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ApiError(400, f"{name}={text[:40]!r} is not a whole number") from None
    if not low <= value <= high:
        raise ApiError(400, f"{name}={value} is out of range ({low} to {high})")
    return value


def trace_filter_of(query: dict[str, str]) -> TraceFilter:
    """`orion list`'s filters from a query string: status, failed, lang, since, until, grep."""
    statuses = frozenset(s for s in (query.get("status") or "").split(",") if s) or None
    if statuses and statuses - set(STATUSES):
        raise ApiError(400, f"unknown status {','.join(sorted(statuses - set(STATUSES)))!r}")
    if query.get("failed") in ("1", "true"):
        statuses = (statuses or FAILED_STATUSES) & FAILED_STATUSES
    languages = frozenset(s for s in (query.get("lang") or "").split(",") if s) or None
    try:
        grep = re.compile(query["grep"], re.IGNORECASE) if query.get("grep") else None
        since = parse_when_ns(query["since"]) if query.get("since") else None
        until = parse_when_ns(query["until"]) if query.get("until") else None
    except re.error as exc:
        raise ApiError(400, f"grep is not a valid regular expression ({exc})") from None
    except OrionError as exc:
        raise ApiError(400, str(exc)) from None
    return TraceFilter(statuses=statuses, languages=languages, since_ns=since,
                       until_ns=until, grep=grep)


def _identity(path: Path) -> tuple:
    """What says a file is unchanged since an answer was computed from it."""
    try:
        stat = path.stat()
    except OSError:
        return str(path), None, None
    return str(path), stat.st_size, stat.st_mtime_ns


class Computed:
    """Answers that read whole traces (graphs, flame graphs, diffs), kept per the files
    they were computed from: asking again (a tab opened twice) is free until one of the
    files changes size or mtime. The newest KEPT_ANSWERS are kept."""

    def __init__(self) -> None:
        self._kept: OrderedDict[tuple, dict] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, what: tuple, paths: list[Path], compute: Callable[[], dict]) -> dict:
        key = (what, tuple(map(_identity, paths)))
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
        answer = compute()
        with self._lock:
            self._kept[key] = answer
            while len(self._kept) > KEPT_ANSWERS:
                self._kept.popitem(last=False)
        return answer


class Api:
    """Answers every /api/ route from a catalog of traces."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.listing = Listing(catalog)
        catalog.loading.listeners.append(self.listing.pause)
        self.computed = Computed()

    def route(self, parts: list[str], query: dict[str, str]) -> Any:
        """The answer to GET /api/<parts...>: JSON-ready data, or bytes already encoded."""
        if parts == ["traces"]:
            return self.listing.answer(query)
        if parts == ["diff"]:
            return self.diff(query)
        if parts == ["graph"]:
            return self.spool_graph(query)
        if len(parts) in (2, 3) and parts[0] == "trace":
            entry = self._find(parts[1])
            view = parts[2] if len(parts) == 3 else "summary"
            handler: Callable | None = {
                "summary": self.trace, "replay": self.replay_info, "state": self.state,
                "timeline": self.timeline, "graph": self.graph, "flame": self.flame,
            }.get(view)
            if handler is not None:
                return handler(entry, query)
        raise ApiError(404, "no such route")

    def preload(self, ref: str) -> None:
        """The page of trace `ref` is being served: start loading the trace (see
        Catalog.preload); nothing when no trace answers to `ref` or it cannot be read."""
        try:
            self.catalog.preload(self.catalog.find(ref))
        except (NotFound, OSError):
            pass

    def _find(self, ref: str) -> Entry:
        try:
            return self.catalog.find(ref)
        except NotFound as exc:
            raise ApiError(404, str(exc)) from None

    def _loaded(self, entry: Entry) -> Loaded:
        try:
            return self.catalog.loaded(entry)
        except ReplayError as exc:
            raise ApiError(422, str(exc)) from None
        except (TraceError, OSError) as exc:
            raise ApiError(422, f"cannot read the trace: {exc}") from None
        except MemoryError:
            raise ApiError(507, "the trace is too big to load in this server's memory") from None

    # -- one trace ---------------------------------------------------------------------

    def trace(self, entry: Entry, query: dict[str, str]) -> dict:
        """What a page shows first, read without loading the trace: summary and header."""
        try:
            summary = read_summary(entry.path)
            with TraceReader(entry.path) as reader:
                header = {k: reader.header.get(k) for k in HEADER_KEYS}
        except (TraceError, OSError) as exc:
            raise ApiError(422, f"cannot read the trace: {exc}") from None
        return {"id": entry.trace_id, "path": str(entry.path), "summary": summary,
                "header": header}

    def replay_info(self, entry: Entry, query: dict[str, str]) -> dict:
        """What needs the loaded trace: lanes, event count, failing path, first exception."""
        loaded = self._loaded(entry)
        replay = loaded.replay
        with loaded.lock:
            try:
                exception_index = replay.first_exception()
            except ReplayError:
                exception_index = None
        trace = replay.trace
        steps = replay.steps
        return {"id": entry.trace_id, "events": len(steps),
                "end_t": steps.time(len(steps) - 1),
                "lanes": [lane.to_json() for lane in trace.lanes.values()],
                "failing_path": [call.to_json() for call in failing_path(trace)],
                "exception_index": exception_index}

    def state(self, entry: Entry, query: dict[str, str]) -> dict:
        """`orion replay --json` at ?at=N, ?time=NS or ?exception=1, then ?move=MOVE."""
        loaded = self._loaded(entry)
        replay = loaded.replay
        move = query.get("move")
        if move is not None and move not in MOVES:
            raise ApiError(400, f"move={move[:40]!r}: choose from {', '.join(MOVES)}")
        with loaded.lock:
            try:
                if query.get("exception") in ("1", "true"):
                    replay.first_exception()
                elif query.get("time"):
                    replay.at_time(_int(query, "time", 0, 0, 1 << 62))
                else:
                    replay.goto(_int(query, "at", 0, -(1 << 40), 1 << 40))
                moved = None
                if move is not None:
                    try:
                        getattr(replay, move)()
                    except ReplayError as exc:
                        moved = str(exc)  # stay where we are and say why
                out = replay.state()
            except ReplayError as exc:
                raise ApiError(400, str(exc)) from None
        out["move_error"] = moved
        return out

    def timeline(self, entry: Entry, query: dict[str, str]) -> dict:
        """Calls to draw per lane between ?start= and ?end= (ns since the trace began)."""
        loaded = self._loaded(entry)
        with loaded.lock:
            if loaded.timeline is None:
                loaded.timeline = Timeline(loaded.replay.steps)
        timeline = loaded.timeline
        start = _int(query, "start", 0, 0, 1 << 62)
        end = _int(query, "end", timeline.end_t, 0, 1 << 62)
        chosen, sampled = timeline.window(start, end)
        return {"start": start, "end": end, "end_t": timeline.end_t, "sampled": sampled,
                "spans": [timeline.span(i) for i in chosen]}

    # -- graphs --------------------------------------------------------------------------

    def graph(self, entry: Entry, query: dict[str, str]) -> dict:
        """The call (or module, service) graph of one trace, with a position per node."""
        return self._graph([entry.path], query)

    def spool_graph(self, query: dict[str, str]) -> dict:
        """One graph merged over the traces `orion list`'s filters select (all of them
        when none is given), newest first, at most ?limit= of them."""
        limit = _int(query, "limit", GRAPH_TRACES, 1, GRAPH_MAX_TRACES)
        chosen = [item.entry.path for item, _ in islice(self.listing.matching(query), limit)]
        if not chosen:
            raise ApiError(404, "no trace matches these filters")
        return self._graph(chosen, query)

    def _graph(self, paths: list[Path], query: dict[str, str]) -> dict:
        kind = query.get("kind") or "function"
        if kind not in KINDS:
            raise ApiError(400, f"kind={kind[:40]!r}: choose from {', '.join(KINDS)}")
        return self.computed.get(("graph", kind), paths, lambda: self._build_graph(paths, kind))

    def _build_graph(self, paths: list[Path], kind: str) -> dict:
        graph, unreadable = CallGraph(kind), []
        with self.catalog.heavy:
            for path in paths:
                try:
                    graph.add_trace(path)
                except (TraceError, OSError) as exc:
                    unreadable.append(str(exc))
            graph.link_processes()
        if len(unreadable) == len(paths):  # one trace asked for, or none readable
            raise ApiError(422, f"cannot read the trace: {unreadable[0]}")
        out = graph.to_json()
        out["unreadable"] = unreadable  # a damaged trace among many leaves the rest shown
        out["layout"], out["layout_engine"] = layout(graph)
        return out

    def flame(self, entry: Entry, query: dict[str, str]) -> dict:
        """Self time per call path as a tree {name, value (total ns), children}."""
        return self.computed.get(("flame",), [entry.path], lambda: self._flame(entry.path))

    def _flame(self, path: Path) -> dict:
        try:
            with self.catalog.heavy:
                lanes = fold_lanes(path)
        except (TraceError, OSError) as exc:
            raise ApiError(422, f"cannot read the trace: {exc}") from None
        total: Counter = Counter()
        for _, stacks in lanes:
            total.update(stacks)
        return flame_tree(total)

    # -- two traces ----------------------------------------------------------------------

    def diff(self, query: dict[str, str]) -> dict:
        """`orion diff --json` of ?a=ID and ?b=ID, plus `tree`: the two call trees side by
        side (see difftree.py), and `side_by_side`: the lines of `orion diff -y`."""
        if not query.get("a") or not query.get("b"):
            raise ApiError(400, "give two traces: ?a=ID&b=ID")
        entries = [self._find(query["a"]), self._find(query["b"])]
        return self.computed.get(("diff",), [e.path for e in entries],
                                 lambda: self._diff(entries))

    def _diff(self, entries: list[Entry]) -> dict:
        try:
            for entry in entries:
                records = (read_summary(entry.path).get("counts") or {}).get("records") or 0
                if records > DIFF_MAX_RECORDS:
                    raise ApiError(413, f"{entry.trace_id[:12]} has {records} records: too "
                                        f"big to diff here (use `orion diff`)")
            with self.catalog.heavy:
                options = DiffOptions()
                result = diff_traces(*(load_trace(e.path) for e in entries), options)
        except (TraceError, OSError) as exc:
            raise ApiError(422, f"cannot read the trace: {exc}") from None
        out = result_json(result)
        out["tree"] = diff_rows(result)
        out["side_by_side"] = list(render_side_by_side(result, options, colour=False,
                                                       width=SIDE_BY_SIDE_WIDTH))
        return out


def flame_tree(stacks: Counter) -> dict:
    """Folded stacks as a tree whose values are total (not self) times; at most
    FLAME_MAX_NODES nodes, the heaviest paths first."""
    root: dict = {"name": "all", "value": 0, "children": {}}
    nodes = 1
    for stack, weight in sorted(stacks.items(), key=lambda kv: -kv[1]):
        if weight <= 0:
            continue
        root["value"] += weight
        node = root
        for name in stack:
            child = node["children"].get(name)
            if child is None:
                if nodes >= FLAME_MAX_NODES:
                    break
                child = node["children"][name] = {"name": name, "value": 0, "children": {}}
                nodes += 1
            child["value"] += weight
            node = child

    def listed(node: dict) -> dict:
        return {"name": node["name"], "value": node["value"],
                "children": sorted((listed(c) for c in node["children"].values()),
                                   key=lambda c: -c["value"])}

    return listed(root)


def layout(graph) -> tuple[dict[str, list[float]], str]:
    """Node positions: Graphviz's `dot` when installed, else layers by call depth."""
    if shutil.which("dot") and graph.nodes:
        try:
            done = subprocess.run(["dot", "-Tjson"], input=to_dot(graph), capture_output=True,
                                  text=True, timeout=20, check=True)
            positions = {}
            for obj in json.loads(done.stdout).get("objects", []):
                if "pos" in obj and obj.get("name") in graph.nodes:
                    x, y = (float(v) for v in obj["pos"].split(","))
                    positions[obj["name"]] = [x, -y]
            if len(positions) == len(graph.nodes):
                return positions, "dot"
        except (OSError, subprocess.SubprocessError, ValueError):
            pass
    layers: dict[int, int] = {}
    positions = {}
    for node in sorted(graph.nodes.values(), key=lambda n: (n.min_depth or 0, n.id)):
        depth = node.min_depth or 0
        row = layers.get(depth, 0)
        layers[depth] = row + 1
        positions[node.id] = [depth * 220.0, row * 70.0]
    return positions, "layers"
