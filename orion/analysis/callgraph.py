"""Call graphs aggregated over traces: who calls whom, how often, how long, how often failing.

Three views of the same calls, by what a node stands for:

- `function`: a node per function (module + name), an edge per caller -> callee pair.
  `calls` counts every call; `total_ns` counts only calls not made by the function itself,
  so recursion is not counted twice.
- `module`: calls collapsed at module boundaries. A node's `calls` are the entries into the
  module from outside it; an edge is a call crossing from one module into another.
- `service`: the same at service boundaries (the header's `service`, or the resource of
  spans imported from OpenTelemetry); a process started by another links their services
  when both traces are in the graph.

Every view keeps per node: self time (time in the node's own code), error count (calls
that unwound or whose span status is ERROR), latency percentiles over entry durations, and
the ids of the most recent traces in which it failed. Traces are read as span streams, so
memory grows with the number of nodes and calls-per-node durations, not with trace size.
"""

from __future__ import annotations

import os
from array import array
from collections import deque
from pathlib import Path
from typing import Iterable

from ..export.spans import Span, SpanStream

KINDS = ("function", "module", "service")
RECENT_FAILURES = 5
UNKNOWN_MODULE = "(no module)"
UNKNOWN_SERVICE = "(no service)"


def percentile(sorted_values, q: float) -> int | None:
    """Nearest-rank percentile of already sorted values."""
    if not len(sorted_values):
        return None
    rank = max(1, -(-len(sorted_values) * q // 100))
    return int(sorted_values[int(rank) - 1])


class Node:
    __slots__ = ("id", "label", "module", "file", "calls", "errors", "total_ns", "self_ns",
                 "durations", "failing", "min_depth")

    def __init__(self, id: str, label: str, module: str | None, file: str | None) -> None:
        self.id = id
        self.label = label
        self.module = module
        self.file = file
        self.calls = 0
        self.errors = 0
        self.total_ns = 0
        self.self_ns = 0
        self.durations = array("q")
        self.failing: dict[str, int] = {}  # trace id -> trace start, the newest few
        self.min_depth: int | None = None

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 0.0

    def recent_failures(self) -> list[str]:
        return [tid for tid, _ in sorted(self.failing.items(), key=lambda kv: kv[1],
                                         reverse=True)]

    def note_failure(self, trace_id: str, start_ns: int) -> None:
        self.failing[trace_id] = start_ns
        if len(self.failing) > RECENT_FAILURES:
            oldest = min(self.failing, key=self.failing.__getitem__)
            del self.failing[oldest]

    def to_json(self) -> dict:
        durations = sorted(self.durations)
        return {"id": self.id, "label": self.label, "module": self.module, "file": self.file,
                "calls": self.calls, "errors": self.errors,
                "error_rate": round(self.error_rate, 4), "total_ns": self.total_ns,
                "self_ns": self.self_ns, "p50_ns": percentile(durations, 50),
                "p95_ns": percentile(durations, 95),
                "failing_traces": self.recent_failures()}


class Edge:
    __slots__ = ("caller", "callee", "calls", "errors", "total_ns")

    def __init__(self, caller: str, callee: str) -> None:
        self.caller = caller
        self.callee = callee
        self.calls = 0
        self.errors = 0
        self.total_ns = 0

    def to_json(self) -> dict:
        return {"from": self.caller, "to": self.callee, "calls": self.calls,
                "errors": self.errors, "total_ns": self.total_ns}


class CallGraph:
    """An aggregate over traces; `add_trace` as many as needed, then read nodes/edges."""

    def __init__(self, kind: str = "function") -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown graph kind {kind!r}")
        self.kind = kind
        self.nodes: dict[str, Node] = {}
        self.edges: dict[tuple[str, str], Edge] = {}
        self.traces: list[str] = []
        # Processes: trace id -> [service, parent trace id, root time, root calls failed].
        self._processes: dict[str, list] = {}

    def add_trace(self, path: Path) -> None:
        with SpanStream(path) as stream:
            trace_id, start_ns = stream.trace_id, stream.start_ns
            self.traces.append(trace_id)
            default_service = str(stream.header.get("service") or UNKNOWN_SERVICE)
            parent = stream.header.get("parent")
            process = self._processes[trace_id] = [
                default_service, parent.get("trace_id") if isinstance(parent, dict) else None,
                0, 0]
            for span in stream.items():
                if isinstance(span, Span):
                    self._add_span(span, stream, default_service, trace_id, start_ns)
                    if span.parent is None:
                        process[2] += span.duration
                        process[3] += span.failed

    def link_processes(self) -> None:
        """Service graphs: an edge from the service of a process to that of each child
        process it started, when both traces are in the graph (the child's header names
        its parent's trace)."""
        if self.kind != "service":
            return
        for service, parent_id, duration, failed in self._processes.values():
            parent = self._processes.get(parent_id) if parent_id else None
            if parent is None or parent[0] == service:
                continue
            edge = self.edges.get((parent[0], service))
            if edge is None:
                edge = self.edges[(parent[0], service)] = Edge(parent[0], service)
            edge.calls += 1
            edge.total_ns += duration
            edge.errors += bool(failed)

    def _node_of(self, span: Span, stream: SpanStream, default_service: str) -> Node:
        fn = span.fn
        if self.kind == "function":
            module = fn.module if fn is not None else None
            key = f"{module}:{span.label}" if module else span.label
            node = self.nodes.get(key)
            if node is None:
                node = self.nodes[key] = Node(key, span.label, module,
                                              fn.file if fn is not None else None)
            return node
        if self.kind == "module":
            key = (fn.module or (os.path.basename(fn.file) if fn.file else None)
                   if fn is not None else None) or UNKNOWN_MODULE
        else:
            key = default_service
            resource = stream.resources.get((span.meta or {}).get("resource"))
            if resource is not None:
                key = str((resource.get("attributes") or {}).get("service.name") or key)
        node = self.nodes.get(key)
        if node is None:
            node = self.nodes[key] = Node(key, key, None, None)
        return node

    def _add_span(self, span: Span, stream: SpanStream, default_service: str,
                  trace_id: str, start_ns: int) -> None:
        node = self._node_of(span, stream, default_service)
        parent = span.parent
        parent_key = (self._node_of(parent, stream, default_service).id
                      if parent is not None else None)
        node.self_ns += span.self_ns
        depth = span.depth
        node.min_depth = depth if node.min_depth is None else min(node.min_depth, depth)
        entry = parent_key != node.id
        failed = span.failed
        if entry or self.kind == "function":
            node.calls += 1
            node.durations.append(span.duration)
            if failed:
                node.errors += 1
                node.note_failure(trace_id, start_ns)
        if entry:
            node.total_ns += span.duration
        if parent_key is not None and (entry or self.kind == "function"):
            edge = self.edges.get((parent_key, node.id))
            if edge is None:
                edge = self.edges[(parent_key, node.id)] = Edge(parent_key, node.id)
            edge.calls += 1
            edge.total_ns += span.duration
            edge.errors += failed

    def find(self, name: str) -> list[str]:
        """Node ids that `name` names: an exact id, else an exact label."""
        if name in self.nodes:
            return [name]
        return [node.id for node in self.nodes.values() if node.label == name]

    def focused(self, names: Iterable[str], depth: int | None = None) -> "CallGraph":
        """The part of the graph within `depth` calls of the named nodes: their callers
        up and their callees down (all of them with no depth)."""
        keep: set[str] = set(names)
        callees: dict[str, list[str]] = {}
        callers: dict[str, list[str]] = {}
        for caller, callee in self.edges:
            callees.setdefault(caller, []).append(callee)
            callers.setdefault(callee, []).append(caller)
        for links in (callees, callers):
            seen = set(names)
            frontier = deque((name, 0) for name in names)
            while frontier:
                current, hops = frontier.popleft()
                if depth is not None and hops >= depth:
                    continue
                for other in links.get(current, ()):
                    if other not in seen:
                        seen.add(other)
                        frontier.append((other, hops + 1))
            keep |= seen
        return self._subgraph(keep)

    def shallow(self, depth: int) -> "CallGraph":
        """Only nodes first reached within `depth` levels of a lane's root."""
        return self._subgraph({node.id for node in self.nodes.values()
                               if node.min_depth is not None and node.min_depth < depth})

    def _subgraph(self, keep: set[str]) -> "CallGraph":
        out = CallGraph(self.kind)
        out.traces = list(self.traces)
        out.nodes = {key: node for key, node in self.nodes.items() if key in keep}
        out.edges = {key: edge for key, edge in self.edges.items()
                     if key[0] in keep and key[1] in keep}
        return out

    def to_json(self) -> dict:
        return {"kind": self.kind, "traces": self.traces,
                "nodes": [node.to_json() for node in sorted(self.nodes.values(),
                                                            key=lambda n: n.id)],
                "edges": [edge.to_json() for edge in sorted(self.edges.values(),
                                                            key=lambda e: (e.caller, e.callee))]}


def build_graph(paths: Iterable[Path], kind: str = "function") -> CallGraph:
    graph = CallGraph(kind)
    for path in paths:
        graph.add_trace(path)
    graph.link_processes()
    return graph
