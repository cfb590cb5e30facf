"""Comparing two executions by structure, not by clock.

Lanes are paired by name (then by order). In each pair of lanes, and below each pair
of matched calls, the two lists of child calls are aligned in two passes: calls with
the same function *and* the same arguments anchor the alignment (a longest common
subsequence), then within each gap between anchors calls of the same function are
paired (their arguments, values or exceptions differ). What stays unpaired exists on one
side only. Matched pairs are compared (arguments, return value, how they ended) and
their children aligned in turn, walking both trees without recursion, in execution order:
so the first difference found is where the two runs diverge.

An injected change is reported once, where it happened: an exception that propagates
through callers is reported at the frame that raised it, not at every frame it crossed,
and a call present on one side only is reported once, with the size of its subtree.
Memory addresses in captured reprs (`0x7f3a…`, a mock's `id='1401…'`) are ignored when
comparing values.

Two whole trees cost about half a kilobyte a call, so traces of more than TREE_MAX_CALLS
calls together are compared in bounded memory instead (`diff_files`): each is read twice,
keeping only the eventful calls (those that unwound, raised or caught an exception in or
below them, or were still open: the failing paths) and their partners on the other side
(`EventfulTrace.pair`), with counts of the quiet calls below them, and per function its
calls and time. The kept trees are aligned as above, and each function whose call count
differs is reported (`calls`).
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Sequence

from ..format import constants as C
from ..format.reader import TraceReader
from ..format.summary import read_summary
from ..format.writer import NO_VALUE
from ..model import (RETURNED, UNWOUND, Call, Crash, Event, Function, Lane, Raised, Stack,
                     Trace, load_trace, propagating_child, subtree_size)
from ..render.jsonout import dumps

FORMAT_VERSION = 1
DEFAULT_TIME_THRESHOLD = 0.5  # a 50% change ...
DEFAULT_TIME_MIN_NS = 1_000_000  # ... of at least 1 ms
LCS_CELLS = 40_000  # exact LCS below this many cells, difflib's matcher above
TREE_MAX_CALLS = 250_000  # two traces with more calls than this together: eventful calls
COUNTERPARTS_MAX = 20_000  # quiet calls kept a trace as partners of the other's eventful ones
TREE = "tree"  # how a result was compared: whole trees ...
EVENTFUL = "eventful"  # ... or eventful calls and per-function counts

ONLY_A = "only_a"
ONLY_B = "only_b"
ARGS = "args"
RETURN = "return"
EXCEPTION = "exception"
OUTCOME = "outcome"
RAISED = "raised"
LANE = "lane"
CALLS = "calls"
TIMING = "timing"
STRUCTURAL = frozenset({ONLY_A, ONLY_B, OUTCOME, EXCEPTION, RAISED, LANE})
KINDS = (ONLY_A, ONLY_B, ARGS, RETURN, EXCEPTION, OUTCOME, RAISED, LANE, CALLS, TIMING)

# A memory address: `0x7f3a…`, or in decimal as unittest.mock's reprs give it (`id='1401…'`)
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{4,}|(?<=id=')[0-9]{8,}(?=')")


@dataclass
class Difference:
    """One difference; `a_path`/`b_path` are the matched calls leading to it, root first
    (the call itself last when it exists on that side)."""

    kind: str
    lane: str
    a: Call | None
    b: Call | None
    a_path: list[Call]
    b_path: list[Call]
    detail: dict = field(default_factory=dict)

    @property
    def function(self) -> str | None:
        call = self.a if self.a is not None else self.b
        return call.label if call is not None else self.detail.get("function")


@dataclass
class DiffOptions:
    time_threshold: float = DEFAULT_TIME_THRESHOLD
    time_min_ns: int = DEFAULT_TIME_MIN_NS
    timing: bool = True


@dataclass
class DiffResult:
    a: Trace
    b: Trace
    differences: list[Difference]
    matched: int
    compared: str = TREE

    @property
    def same(self) -> bool:
        return not self.differences

    @property
    def first_divergence(self) -> Difference | None:
        """Where the paths split: the first structural difference in execution order (a
        call on one side only, a different ending or exception, a missing lane); when
        the paths never split, the first different argument or return value."""
        return next((d for d in self.differences if d.kind in STRUCTURAL),
                    next((d for d in self.differences if d.kind in (ARGS, RETURN)), None))


# -- keys and values -------------------------------------------------------------------

def function_key(call: Call) -> tuple:
    """What makes two calls "the same function" across two traces (ids differ)."""
    return key_of(call.fn)


def key_of(fn: Function | None) -> tuple:
    """`function_key` of a call to `fn` (None: a frame outside the recorded window)."""
    if fn is None:
        return ("(outside)",)
    return (fn.module, fn.name or fn.label)


def normalise(value: Any) -> Any:
    """A captured value with memory addresses blanked, for comparison only."""
    if isinstance(value, str):
        return _ADDRESS.sub("0x…", value)
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    return value


def same_value(x: Any, y: Any) -> bool:
    return x == y or normalise(x) == normalise(y)


def _error_key(call: Call) -> tuple | None:
    error = call.error
    return None if error is None else (error.type, normalise(error.message))


# -- alignment -------------------------------------------------------------------------

def _lcs_pairs(ka: Sequence[int], kb: Sequence[int]) -> list[tuple[int, int]]:
    """Index pairs of a common subsequence: exact LCS when small, difflib's when large."""
    n, m = len(ka), len(kb)
    if not n or not m:
        return []
    if n * m > LCS_CELLS:
        matcher = difflib.SequenceMatcher(None, ka, kb, autojunk=False)
        return [(blk.a + k, blk.b + k) for blk in matcher.get_matching_blocks()
                for k in range(blk.size)]
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        row, below = table[i], table[i + 1]
        for j in range(m - 1, -1, -1):
            row[j] = below[j + 1] + 1 if ka[i] == kb[j] else max(below[j], row[j + 1])
    pairs, i, j = [], 0, 0
    while i < n and j < m:
        if ka[i] == kb[j]:
            pairs.append((i, j))
            i, j = i + 1, j + 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    return pairs


def _interned(keys_a: Iterable, keys_b: Iterable) -> tuple[list[int], list[int]]:
    table: dict = {}
    ka = [table.setdefault(k, len(table)) for k in keys_a]
    kb = [table.setdefault(k, len(table)) for k in keys_b]
    return ka, kb


def _merge(pairs: list[tuple[int, int]], n: int, m: int) -> list[tuple[int | None, int | None]]:
    """Matched pairs plus the unmatched indices of each side, in order."""
    out: list[tuple[int | None, int | None]] = []
    i = j = 0
    for pi, pj in [*pairs, (n, m)]:
        out.extend((x, None) for x in range(i, pi))
        out.extend((None, y) for y in range(j, pj))
        if pi < n and pj < m:
            out.append((pi, pj))
        i, j = pi + 1, pj + 1
    return out


def _args_key(call: Call) -> str:
    return dumps(normalise(call.args)) if call.args else ""


def align(a: Sequence[Call], b: Sequence[Call]) -> list[tuple[Call | None, Call | None]]:
    """Pair two sibling lists: (x, y) matched, (x, None) only in a, (None, y) only in b."""
    n, m = len(a), len(b)
    start = 0
    while start < n and start < m and function_key(a[start]) == function_key(b[start]) \
            and a[start].args == b[start].args:
        start += 1
    end_a, end_b = n, m
    while end_a > start and end_b > start and \
            function_key(a[end_a - 1]) == function_key(b[end_b - 1]) and \
            a[end_a - 1].args == b[end_b - 1].args:
        end_a, end_b = end_a - 1, end_b - 1
    out: list[tuple[Call | None, Call | None]] = [(a[k], b[k]) for k in range(start)]
    mid_a, mid_b = a[start:end_a], b[start:end_b]
    if mid_a or mid_b:
        exact_a, exact_b = _interned(((function_key(c), _args_key(c)) for c in mid_a),
                                     ((function_key(c), _args_key(c)) for c in mid_b))
        anchors = _lcs_pairs(exact_a, exact_b)
        pending_a: list[Call] = []
        pending_b: list[Call] = []
        for x, y in _merge(anchors, len(mid_a), len(mid_b)):
            if x is not None and y is not None:
                out.extend(_align_by_function(pending_a, pending_b))
                pending_a, pending_b = [], []
                out.append((mid_a[x], mid_b[y]))
            elif x is not None:
                pending_a.append(mid_a[x])
            else:
                pending_b.append(mid_b[y])
        out.extend(_align_by_function(pending_a, pending_b))
    out.extend((a[k], b[k - end_a + end_b]) for k in range(end_a, n))
    return out


def _align_by_function(a: list[Call], b: list[Call]) -> list[tuple[Call | None, Call | None]]:
    if not a or not b:
        return [(x, None) for x in a] + [(None, y) for y in b]
    ka, kb = _interned(map(function_key, a), map(function_key, b))
    return [(a[x] if x is not None else None, b[y] if y is not None else None)
            for x, y in _merge(_lcs_pairs(ka, kb), len(a), len(b))]


def _recorded(lane: Lane) -> bool:
    """The lane recorded something (calls kept or not, events, exceptions)."""
    return bool(lane.calls or lane.roots or lane.events or lane.exceptions)


def pair_lanes(a: Trace, b: Trace) -> list[tuple[Lane | None, Lane | None]]:
    """Lanes with the same name pair up (several of one name in order of appearance); the
    rest pair in order of appearance."""
    left = [lane for lane in a.lanes.values() if _recorded(lane)]
    right = [lane for lane in b.lanes.values() if _recorded(lane)]
    pairs: list[tuple[Lane | None, Lane | None]] = []
    by_name: dict[str, list[Lane]] = {}
    for lane in right:
        by_name.setdefault(lane.name, []).append(lane)
    unmatched_a = []
    paired_b: set[int] = set()
    for lane in left:
        same_name = by_name.get(lane.name)
        if same_name:
            other = same_name.pop(0)
            paired_b.add(id(other))
            pairs.append((lane, other))
        else:
            unmatched_a.append(lane)
    unmatched_b = [lane for lane in right if id(lane) not in paired_b]
    for k in range(max(len(unmatched_a), len(unmatched_b))):
        pairs.append((unmatched_a[k] if k < len(unmatched_a) else None,
                      unmatched_b[k] if k < len(unmatched_b) else None))
    return pairs


# -- comparison ------------------------------------------------------------------------

def _compare(x: Call, y: Call) -> Iterable[tuple[str, dict]]:
    """Differences of two matched calls themselves (not their children)."""
    if x.args != y.args and not same_value(x.args, y.args):
        xa, ya = x.args or {}, y.args or {}
        changed = {k: [xa[k], ya[k]] for k in xa if k in ya and not same_value(xa[k], ya[k])}
        yield ARGS, {"changed": changed, "only_a": [k for k in xa if k not in ya],
                     "only_b": [k for k in ya if k not in xa]}
    if x.outcome != y.outcome:
        # A frame that unwound because a callee raised is not where the change is.
        caused_below = any(c.outcome == UNWOUND and propagating_child(c) is not None
                           for c in (x, y))
        if not caused_below:
            yield OUTCOME, {"a": _ending(x), "b": _ending(y)}
    elif x.outcome == UNWOUND:
        # When either side's exception came up from a callee, the callees differ too, and
        # that is where the change is (e.g. sys.exit(0) against an error from below).
        if _error_key(x) != _error_key(y) and (propagating_child(x) is None
                                               and propagating_child(y) is None):
            yield EXCEPTION, {"a": x.error.to_json() if x.error else None,
                              "b": y.error.to_json() if y.error else None}
    elif x.outcome == RETURNED and x.value is not NO_VALUE and y.value is not NO_VALUE \
            and not same_value(x.value, y.value):
        yield RETURN, {"a": x.value, "b": y.value}
    raised_a, raised_b = _handled(x), _handled(y)
    if raised_a != raised_b:
        yield RAISED, {"a": [list(r) for r in raised_a], "b": [list(r) for r in raised_b]}


def _handled(call: Call) -> list[tuple]:
    """Exceptions seen inside a call other than the one it unwound with."""
    return [(e.kind, e.type) for e in call.exceptions
            if not (call.error is not None and e.kind == "raised" and e.same_as(call.error))]


def _ending(call: Call) -> str:
    if call.outcome == UNWOUND:
        return f"unwound {call.error.type}" if call.error is not None else "unwound"
    return call.outcome


def diff_traces(a: Trace, b: Trace, options: DiffOptions | None = None) -> DiffResult:
    """Every difference between two whole traces, the first divergence first."""
    options = options or DiffOptions()
    differences, matched = _tree_differences(a, b)
    if options.timing:
        differences.extend(timing_differences(function_times(a), function_times(b), options))
    return DiffResult(a, b, differences, matched)


def diff_files(path_a: str | os.PathLike, path_b: str | os.PathLike,
               options: DiffOptions | None = None,
               tree_max_calls: int = TREE_MAX_CALLS) -> DiffResult:
    """`diff_traces` of two trace files, whole trees when they hold at most
    `tree_max_calls` calls together, else in bounded memory (eventful calls and
    per-function counts)."""
    options = options or DiffOptions()
    if _calls_in(path_a) + _calls_in(path_b) <= tree_max_calls:
        return diff_traces(load_trace(path_a), load_trace(path_b), options)
    a, b = EventfulTrace.pair(path_a, path_b)
    differences, matched = _tree_differences(a.trace, b.trace)
    differences.extend(call_count_differences(a.times, b.times))
    if options.timing:
        differences.extend(timing_differences(a.times, b.times, options))
    return DiffResult(a.trace, b.trace, differences, matched, EVENTFUL)


def _calls_in(path: str | os.PathLike) -> int:
    """The calls a trace holds, from its summary (which a damaged trace's scan rebuilds)."""
    calls = (read_summary(path).get("counts") or {}).get("calls")
    return calls if isinstance(calls, int) and calls >= 0 else 0


def _tree_differences(a: Trace, b: Trace) -> tuple[list[Difference], int]:
    """The differences of two call trees (no timing) and how many calls matched."""
    differences: list[Difference] = []
    matched = 0
    for lane_a, lane_b in pair_lanes(a, b):
        if lane_a is None or lane_b is None:
            lane = lane_a or lane_b
            differences.append(Difference(LANE, lane.name, None, None, [], [], {
                "side": "a" if lane_a is not None else "b", "calls": lane.calls}))
            continue
        name = lane_a.name if lane_a.name == lane_b.name else f"{lane_a.name}/{lane_b.name}"
        # Explicit stack of (pairs iterator, path a, path b): pre-order, execution order.
        stack = [(iter(align(lane_a.roots, lane_b.roots)), [], [])]
        while stack:
            pairs, path_a, path_b = stack[-1]
            pair = next(pairs, None)
            if pair is None:
                stack.pop()
                continue
            x, y = pair
            if y is None:
                differences.append(Difference(ONLY_A, name, x, None, path_a + [x], path_b,
                                              {"calls": subtree_size(x)}))
                continue
            if x is None:
                differences.append(Difference(ONLY_B, name, None, y, path_a, path_b + [y],
                                              {"calls": subtree_size(y)}))
                continue
            matched += 1
            inner_a, inner_b = path_a + [x], path_b + [y]
            for kind, detail in _compare(x, y):
                differences.append(Difference(kind, name, x, y, inner_a, inner_b, detail))
            if x.children or y.children:
                stack.append((iter(align(x.children, y.children)), inner_a, inner_b))
    return differences, matched


# -- timing ----------------------------------------------------------------------------

def function_times(trace: Trace) -> dict[tuple, list]:
    """Per function: [total ns of its outermost activations, calls, label]."""
    times: dict[tuple, list] = {}
    for lane in trace.lanes.values():
        active: dict[tuple, int] = {}
        stack: list[tuple[Call, bool]] = [(c, False) for c in reversed(lane.roots)]
        while stack:
            call, leaving = stack.pop()
            key = function_key(call)
            if leaving:
                active[key] -= 1
                continue
            entry = times.setdefault(key, [0, 0, call.label])
            entry[1] += 1
            if not active.get(key) and call.end is not None:
                entry[0] += call.end - call.start
            active[key] = active.get(key, 0) + 1
            stack.append((call, True))
            stack.extend((c, False) for c in reversed(call.children))
    return times


def timing_differences(times_a: dict[tuple, list], times_b: dict[tuple, list],
                       options: DiffOptions) -> list[Difference]:
    """Functions whose total time changed by at least the threshold (relative and ns), from
    `function_times` of each side."""
    out = []
    for key, (ns_a, calls_a, label) in times_a.items():
        if key not in times_b:
            continue
        ns_b, calls_b, _ = times_b[key]
        delta = ns_b - ns_a
        change = delta / ns_a if ns_a else float("inf") if delta else 0.0
        if abs(delta) >= options.time_min_ns and abs(change) >= options.time_threshold:
            out.append(Difference(TIMING, "", None, None, [], [], {
                "function": label, "a_ns": ns_a, "b_ns": ns_b, "a_calls": calls_a,
                "b_calls": calls_b, "change": round(change, 4) if ns_a else None}))
    out.sort(key=lambda d: -abs(d.detail["b_ns"] - d.detail["a_ns"]))
    return out


def call_count_differences(times_a: dict[tuple, list], times_b: dict[tuple, list]
                           ) -> list[Difference]:
    """Functions called a different number of times (`function_times` of each side), the
    biggest change first."""
    out = []
    for key in {**times_a, **times_b}:
        calls_a = times_a[key][1] if key in times_a else 0
        calls_b = times_b[key][1] if key in times_b else 0
        if calls_a != calls_b:
            label = (times_a.get(key) or times_b[key])[2]
            out.append(Difference(CALLS, "", None, None, [], [], {
                "function": label, "a_calls": calls_a, "b_calls": calls_b}))
    out.sort(key=lambda d: (-abs(d.detail["b_calls"] - d.detail["a_calls"]),
                            d.detail["function"]))
    return out


# -- bounded reading -------------------------------------------------------------------

Counterparts = set[tuple[int, tuple, str]]  # (depth, function key, arguments key)


def counterparts(trace: Trace) -> Counterparts:
    """What two traces should keep of their quiet calls so that the calls kept of `trace`
    have partners to align with: every call of the same function, arguments and depth (a
    run that passed against one that failed: the passing calls)."""
    wanted: Counterparts = set()
    for lane in trace.lanes.values():
        stack = [(call, 0) for call in reversed(lane.roots)]
        while stack:
            call, depth = stack.pop()
            wanted.add((depth, function_key(call), _args_key(call)))
            stack.extend((child, depth + 1) for child in reversed(call.children))
    return wanted


class EventfulCalls:
    """A `Pruner` for `load_trace` keeping the calls that are not quiet (they unwound,
    raised or caught in or below them, or were still open) and the first COUNTERPARTS_MAX
    quiet calls that are `wanted` as counterparts (with their callers), with their
    arguments and values, their exceptions and the failures' crashes and stacks; any
    other call is dropped when it closes and counted in its caller's `dropped`.

    The budget bounds memory where many calls look alike (a test suite's hook calls,
    recorded without values by adaptive capture, match by function and depth alone); past
    it, an eventful call whose partner was not kept shows as a call on one side only."""

    def __init__(self, wanted: Counterparts | None = None) -> None:
        self.wanted = wanted or set()
        self.wanted_functions = {(depth, key) for depth, key, _ in self.wanted}
        self.room = COUNTERPARTS_MAX

    def opened(self, lane: Lane) -> bool:
        return True

    def closed(self, lane: Lane, call: Call, caller: Call | None) -> None:
        if not call.quiet or call.children or self._wanted(len(lane.stack), call):
            return
        (caller.children if caller is not None else lane.roots).pop()  # it came last
        if caller is not None:
            caller.dropped += 1 + call.dropped

    def _wanted(self, depth: int, call: Call) -> bool:
        key = function_key(call)
        if self.room <= 0 or (depth, key) not in self.wanted_functions \
                or (depth, key, _args_key(call)) not in self.wanted:
            return False
        self.room -= 1
        return True

    def keep(self, lane: Lane, item: Raised | Event | Crash | Stack,
             owner: Call | None) -> bool:
        return isinstance(item, (Raised, Crash)) or (isinstance(item, Stack)
                                                     and item.reason != "sample")

    def ended(self, lane: Lane) -> None:
        pass


class FunctionTimes:
    """`function_times` counted from the records as they are read (`load_trace`'s
    `observe`), per function id until the trace's functions are named (`by_key`)."""

    def __init__(self) -> None:
        self.calls: dict[int, int] = {}
        self.ns: dict[int, int] = {}
        self.stacks: dict[int, list[tuple[int, int]]] = {}  # lane -> open (fn id, start)
        self.active: dict[int, dict[int, int]] = {}  # lane -> fn id -> open activations

    def observe(self, reader: TraceReader, records: Iterator[list]) -> Iterator[list]:
        for rec in records:
            code = rec[0]
            if code == C.CALL:
                fn, lane = rec[3], rec[2]
                self.calls[fn] = self.calls.get(fn, 0) + 1
                self.stacks.setdefault(lane, []).append((fn, rec[1]))
                active = self.active.setdefault(lane, {})
                active[fn] = active.get(fn, 0) + 1
            elif (code == C.RETURN or code == C.UNWIND) and self.stacks.get(rec[2]):
                fn, start = self.stacks[rec[2]].pop()
                active = self.active[rec[2]]
                active[fn] -= 1
                if not active[fn]:  # its outermost activation
                    self.ns[fn] = self.ns.get(fn, 0) + rec[1] - start
            yield rec

    def by_key(self, trace: Trace) -> dict[tuple, list]:
        """Per function key, as `function_times` gives it: [ns, calls, label]."""
        times: dict[tuple, list] = {}
        for fn_id, calls in self.calls.items():
            fn = trace.function(fn_id)
            entry = times.setdefault(key_of(fn), [0, 0, fn.label])
            entry[0] += self.ns.get(fn_id, 0)
            entry[1] += calls
        return times


@dataclass
class EventfulTrace:
    """A trace's eventful calls (`EventfulCalls`) and its per-function times."""

    trace: Trace
    times: dict[tuple, list]

    @classmethod
    def read(cls, path: str | os.PathLike, wanted: Counterparts | None = None
             ) -> "EventfulTrace":
        counter = FunctionTimes()
        trace = load_trace(path, prune=EventfulCalls(wanted), observe=counter.observe)
        return cls(trace, counter.by_key(trace))

    @classmethod
    def pair(cls, path_a: str | os.PathLike, path_b: str | os.PathLike
             ) -> tuple["EventfulTrace", "EventfulTrace"]:
        """Both traces' eventful calls, each with the partners of either's: each trace is
        read twice, first for its own eventful calls, then keeping the calls that match
        those of both (one rule for both sides, so that they keep the same calls where
        they ran the same)."""
        wanted = counterparts(cls.read(path_a).trace) | counterparts(cls.read(path_b).trace)
        return cls.read(path_a, wanted), cls.read(path_b, wanted)


# -- JSON ------------------------------------------------------------------------------

def call_json(call: Call) -> dict:
    """`Call.to_json` named by label, without locals and the exceptions and events inside."""
    full = call.to_json()
    out: dict[str, Any] = {"function": full["name"]}
    out.update((key, full[key]) for key in ("start", "end", "outcome", "args", "value",
                                            "line", "error") if key in full)
    return out


def _frames_json(path: list[Call]) -> list[dict]:
    return [{"function": c.label, "args": c.args,
             "line": c.line if c.outcome == UNWOUND else None} for c in path]


def difference_json(d: Difference) -> dict:
    return {
        "kind": d.kind,
        "lane": d.lane,
        "function": d.function,
        "path": [c.label for c in (d.a_path if d.kind != ONLY_B else d.b_path)],
        "a": call_json(d.a) if d.a is not None else None,
        "b": call_json(d.b) if d.b is not None else None,
        "detail": d.detail,
    }


def trace_json(trace: Trace) -> dict:
    return {"id": trace.trace_id, "path": str(trace.path),
            "status": trace.summary.get("status"),
            "calls": sum(lane.calls for lane in trace.lanes.values())}


def _parent_label(d: Difference) -> str | None:
    """The call in which the two paths split (the caller of the differing call)."""
    path = d.a_path if d.kind != ONLY_B else d.b_path
    return path[-2].label if len(path) >= 2 else None


def result_json(result: DiffResult) -> dict:
    """The documented `orion diff --json` shape (see docs/diff.md)."""
    first = result.first_divergence
    counts = {kind: 0 for kind in KINDS}
    for d in result.differences:
        counts[d.kind] += 1
    out = {
        "version": FORMAT_VERSION,
        "a": trace_json(result.a),
        "b": trace_json(result.b),
        "same": result.same,
        "matched_calls": result.matched,
        "first_divergence": None if first is None else {
            "index": result.differences.index(first),
            "kind": first.kind,
            "lane": first.lane,
            "function": first.function,
            "parent": _parent_label(first),
            "a_stack": _frames_json(first.a_path),
            "b_stack": _frames_json(first.b_path),
        },
        "differences": [difference_json(d) for d in result.differences],
        "counts": {k: v for k, v in counts.items() if v},
    }
    if result.compared != TREE:  # traces too big to align whole (the module's docstring)
        out["compared"] = result.compared
    return out

