"""Fingerprints: one short string that is equal for executions that took the same path.

Structural fingerprint, algorithm "s1" (`s1:<32 hex>`): a BLAKE2b-128 hash over each
lane's call tree where a call is only its function (module and name) and how it ended
(returned, unwound with an exception type, still open). Values, timestamps, ids, line
numbers and lane names are left out, and repetition is folded so that a loop or a
recursion that ran more or fewer times gives the same hash:
  - recursion: a call to a function already open above it (directly inside itself, or
    through others, as even() and odd() call each other) is inlined into its caller;
  - runs: repeated identical sibling subtrees, and repeated sequences of up to
    REPEAT_BLOCK siblings (a loop body of several calls), are kept once;
  - lanes: a set (the same worker on 3 or 8 threads hashes the same).
Identical subtrees are hashed once (hash-consing), so big traces cost little more than
reading them.

Failure fingerprint, algorithm "f1" (`f1:<32 hex>`): the exception type plus the failing
stack of the program's own frames (module and function name, no line numbers; standard
library and site-packages frames left out; recursion folded), the way Sentry groups
errors: the same bug reached with different data gets the same fingerprint. The failing
stack is the failing path's calls, or where no calls were recorded (a dev-mode run's
per-test trace) the frames of the failure's stack record: the same test failing in any
mode gets the same fingerprint.

Changing what goes into either hash requires a new algorithm name (s2, f2).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ..format import constants as C
from ..format.reader import TraceReader
from ..model import (OPEN, UNWOUND, Call, Function, Trace, failing_path, failure_stack,
                     load_trace)

STRUCTURAL = "s1"
FAILURE = "f1"
REPEAT_BLOCK = 4
EXPLAIN_LINES = 400
CACHE_DIR = ".cache"
CACHE_FILE = "fingerprints-v3.json"  # v2: mutual recursion folded; v3: a failure's stack
# record gives its frames when no calls were recorded
_THIRD_PARTY = ("site-packages", "dist-packages", "/lib/python3", "\\lib\\python3", "<frozen")


def _digest(*parts: str) -> str:
    return hashlib.blake2b("\x00".join(parts).encode("utf-8", "surrogatepass"),
                           digest_size=16).hexdigest()


def function_token(fn: Function | None) -> str:
    """A function as it enters a hash: module:name (native: name or module, no address)."""
    if fn is None:
        return "(outside)"
    if fn.name:
        return f"{fn.module or ''}:{fn.name}"
    return f"{os.path.basename(fn.module or '') or 'native'}:<native>"


def call_token(call: Call) -> str:
    token = function_token(call.fn)
    if call.outcome == UNWOUND:
        return token + "!" + (call.error.type if call.error is not None and call.error.type
                              else "?")
    if call.outcome == OPEN:
        return token + "…"
    return token


def fold_repeats(seq: list[int]) -> list[int]:
    """Keep one copy of adjacent repeated items and of repeated blocks of <= REPEAT_BLOCK."""
    out: list[int] = []
    for item in seq:
        push_folded(out, item)
    return out


def push_folded(out: list[int], item: int) -> None:
    """Append `item` to a list `fold_repeats` already folded, folding again: so a caller's
    calls are folded as they close, and a loop of a million calls holds one copy."""
    out.append(item)
    reduced = True
    while reduced:
        reduced = False
        for size in range(1, REPEAT_BLOCK + 1):
            if len(out) >= 2 * size and out[-size:] == out[-2 * size:-size]:
                del out[-size:]
                reduced = True
                break


@dataclass
class Structure:
    """Distinct folded subtrees: node id -> (token, child node ids), and their digests."""

    nodes: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)
    ids: dict[tuple[str, tuple[int, ...]], int] = field(default_factory=dict)
    digests: list[str] = field(default_factory=list)
    lanes: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)  # name, roots

    def node(self, token: str, children: tuple[int, ...]) -> int:
        key = (token, children)
        found = self.ids.get(key)
        if found is None:
            found = self.ids[key] = len(self.nodes)
            self.nodes.append(key)
            self.digests.append(_digest(token, *(self.digests[c] for c in children)))
        return found

    def lane_digest(self, roots: tuple[int, ...]) -> str:
        return _digest("lane", *(self.digests[r] for r in roots))

    @property
    def fingerprint(self) -> str:
        lanes = sorted({self.lane_digest(roots) for _, roots in self.lanes if roots})
        return f"{STRUCTURAL}:{_digest(STRUCTURAL, *lanes)}"


class LaneFolder:
    """One lane's calls folded as they open and close (in either the tree's walk or the
    file's order): what is held is the open calls and their folded callees so far."""

    def __init__(self, result: Structure) -> None:
        self.result = result
        self.roots: list[int] = []
        self.stack: list[tuple[str, list[int]]] = []  # open calls: token, folded callees
        self.open_tokens: Counter[str] = Counter()  # the calls on `stack`, by token

    def open(self, token: str) -> None:
        self.open_tokens[token] += 1
        self.stack.append((token, []))

    def close(self) -> None:
        """The innermost open call closes, into its caller."""
        token, folded = self.stack.pop()
        self.open_tokens[token] -= 1
        into = self.stack[-1][1] if self.stack else self.roots
        if self.open_tokens[token]:  # recursion, direct or through others: inline
            for item in folded:
                push_folded(into, item)
        else:
            push_folded(into, self.result.node(token, tuple(folded)))

    def finish(self, name: str) -> None:
        """The lane ends (calls still open when the trace ended close here)."""
        while self.stack:
            self.close()
        if self.roots:
            self.result.lanes.append((name, tuple(self.roots)))


def structure(trace: Trace) -> Structure:
    """Fold every lane's call forest into hash-consed nodes (post-order, no recursion)."""
    result = Structure()
    for lane in trace.lanes.values():
        folder = LaneFolder(result)
        stack: list[Iterator[Call]] = [iter(lane.roots)]
        while stack:
            child = next(stack[-1], None)
            if child is None:
                stack.pop()
                if stack:
                    folder.close()
                continue
            folder.open(call_token(child))
            stack.append(iter(child.children))
        folder.finish(lane.name)
    return result


def pruned_trace(path: str | os.PathLike) -> tuple[Trace, dict[int, Call]] | None:
    """The trace at `path` with only the calls whose token is more than their function
    (unwound, still open) and the failing path, and those calls by number in file order;
    None for a trace with frames from before a ring window (they adopt what came before
    them, which needs the whole tree)."""
    from .trace_index import InterestingCalls

    pruner = InterestingCalls()
    trace = load_trace(path, prune=pruner)
    return None if pruner.before_window else (trace, pruner.kept)


def streamed_structure(path: str | os.PathLike) -> tuple[Structure, Trace] | None:
    """The folded structure of the trace at `path` without its whole tree, with the
    pruned trace (`pruned_trace`): the records are read again and folded as `structure`
    folds the tree, in the order its walk closes them. None as `pruned_trace`."""
    pruned = pruned_trace(path)
    if pruned is None:
        return None
    trace, kept = pruned
    tokens = {number: call_token(call) for number, call in kept.items()}
    result = Structure()
    folders: dict[int, LaneFolder] = {}
    calls = 0
    with TraceReader(path) as reader:
        for rec in reader.records():
            code = rec[0]
            if code != C.CALL and code != C.RETURN and code != C.UNWIND:
                continue
            folder = folders.get(rec[2])
            if folder is None:
                folder = folders[rec[2]] = LaneFolder(result)
            if code == C.CALL:
                folder.open(tokens.get(calls) or function_token(trace.function(rec[3])))
                calls += 1
            else:
                folder.close()
    for lane_id, lane in trace.lanes.items():
        folders.get(lane_id, LaneFolder(result)).finish(lane.name)
    return result, trace


def streamed_fingerprints(path: str | os.PathLike) -> Fingerprints | None:
    """The fingerprints of the trace at `path` without its whole tree (`streamed_structure`);
    None for a ring window's trace."""
    found = streamed_structure(path)
    return None if found is None else Fingerprints(found[0].fingerprint,
                                                   failure_fingerprint(found[1]))


def structural_fingerprint(trace: Trace) -> str:
    return structure(trace).fingerprint


def file_structure(path: str | os.PathLike) -> tuple[Structure, Trace]:
    """The folded structure of the trace at `path`, and a trace that holds its failing path:
    streamed (`streamed_structure`), or for a ring window's trace (no bigger than its ring)
    from the whole tree."""
    found = streamed_structure(path)
    if found is None:
        trace = load_trace(path)
        found = structure(trace), trace
    return found


def explain_structure(folded: Structure, max_lines: int | None = EXPLAIN_LINES) -> list[str]:
    """What went into the structural hash: the rules, then each lane's folded tree."""
    lines = [
        f"structural fingerprint {folded.fingerprint}",
        f"algorithm {STRUCTURAL}: BLAKE2b-128 over each lane's call tree, where",
        "  - a call is its function (module:name) and how it ended (!Type unwound, … open);",
        "  - arguments, values, times, ids, line numbers and lane names are left out;",
        "  - a call to a function already open above it is inlined into its caller "
        "(recursion depth, also mutual recursion);",
        f"  - repeated sibling subtrees and repeated runs of up to {REPEAT_BLOCK} calls are"
        " kept once (loop counts);",
        "  - lanes count as a set.",
        f"{len(folded.nodes)} distinct folded subtree(s):",
    ]
    shown = 0
    for name, roots in folded.lanes:
        lines.append(f"lane {name}: {folded.lane_digest(roots)}")
        stack = [(r, 1) for r in reversed(roots)]
        while stack:
            if max_lines is not None and shown >= max_lines:
                lines.append(f"  … (cut at {max_lines} lines)")
                return lines
            node, depth = stack.pop()
            token, children = folded.nodes[node]
            lines.append("  " * depth + token)
            shown += 1
            stack.extend((c, depth + 1) for c in reversed(children))
    return lines


# -- failure fingerprint ---------------------------------------------------------------

def own_frame(fn: Function | None, language: str | None) -> bool:
    """A frame of the program itself, not of the standard library or a dependency."""
    if fn is None or not (fn.name or fn.addr is not None):
        return False
    path = (fn.file or "").replace("\\", "/")
    if any(mark in path for mark in _THIRD_PARTY):
        return False
    if language == "python" and fn.module:
        top = fn.module.split(".", 1)[0]
        if top in sys.stdlib_module_names and not fn.file:
            return False
    return True


def failure_parts(trace: Trace) -> tuple[str, list[str]] | None:
    """(exception type, own frames outermost first) of a failed trace, else None."""
    summary = trace.summary
    path = failing_path(trace)
    exception = summary.get("exception") if isinstance(summary.get("exception"), dict) else None
    exc_type = None
    if path and path[-1].error is not None:
        exc_type = path[-1].error.type
    if exc_type is None and exception:
        exc_type = exception.get("type")
    if exc_type is None and trace.crashes:
        exc_type = trace.crashes[0].reason
    failed = summary.get("status") in ("failed", "crashed") or trace.crashes or (
        path and path[0].outcome == UNWOUND)
    if not failed or (exc_type is None and not path):
        return None
    language = (trace.header.get("agent") or {}).get("language")
    stack = failure_stack(trace) if not path else None  # a trace of the failure alone
    functions = [c.fn for c in path] if path else [fn for fn, _, _ in stack.frames] if stack \
        else []
    kept = [fn for fn in functions if own_frame(fn, language)] or [fn for fn in functions if fn]
    frames: list[str] = []
    for fn in kept:
        token = function_token(fn)
        if token not in frames:  # recursion depth does not matter, mutual or direct
            frames.append(token)
    return exc_type or "?", frames


def failure_fingerprint(trace: Trace) -> str | None:
    parts = failure_parts(trace)
    if parts is None:
        return None
    return f"{FAILURE}:{_digest(FAILURE, parts[0], *parts[1])}"


def explain_failure(trace: Trace) -> list[str]:
    parts = failure_parts(trace)
    if parts is None:
        return ["no failure fingerprint: the trace did not fail"]
    exc_type, frames = parts
    return [f"failure fingerprint {failure_fingerprint(trace)}",
            f"algorithm {FAILURE}: BLAKE2b-128 of the exception type and the failing stack's"
            " own frames (module:name, no lines, stdlib and site-packages left out,"
            " recursion folded)",
            f"  exception type: {exc_type}",
            "  frames:", *(f"    {frame}" for frame in frames)]


@dataclass(frozen=True)
class Fingerprints:
    structural: str
    failure: str | None

    @property
    def primary(self) -> str:
        """The one fingerprint `list` shows and groups by: a failed trace's failure
        fingerprint (one per bug), else its structural one (one per path)."""
        return self.failure or self.structural

    def matches(self, prefix: str) -> bool:
        """`--fingerprint X`: X is a prefix of either fingerprint, with or without
        `s1:`/`f1:`."""
        prefix = prefix.strip().lower()
        return any(value and (value.startswith(prefix)
                              or value.split(":", 1)[-1].startswith(prefix))
                   for value in (self.structural, self.failure))

    def to_json(self) -> dict:
        return {"structural": self.structural, "failure": self.failure}


def fingerprints(trace: Trace) -> Fingerprints:
    return Fingerprints(structural_fingerprint(trace), failure_fingerprint(trace))


def from_summary(summary: dict) -> Fingerprints | None:
    """Fingerprints an agent wrote into the summary, when they use our algorithms."""
    value = summary.get("fingerprint")
    structural = failure = None
    if isinstance(value, str):
        structural = value
    elif isinstance(value, dict):
        structural, failure = value.get("structural"), value.get("failure")
    if not isinstance(structural, str) or not structural.startswith(STRUCTURAL + ":"):
        return None
    if failure is not None and not (isinstance(failure, str) and failure.startswith(FAILURE + ":")):
        return None
    if failure is None and summary.get("status") in ("failed", "crashed"):
        return None  # the agent did not say: compute it
    return Fingerprints(structural, failure)


# Fingerprinting a ring window's trace loads its whole tree (~120 to 250 bytes a record):
# commands that show fingerprints in passing (list, test) leave out bigger ones, so their
# memory stays bounded whatever the spool holds; `orion fingerprint` still computes them.
IN_PASSING_MAX_RECORDS = 2_000_000


def record_count(summary: dict, size: int) -> int:
    """How many records a trace holds: its summary's count, else its size in bytes (no
    record takes less than a byte compressed), as an upper bound."""
    records = (summary.get("counts") or {}).get("records")
    return records if isinstance(records, int) and records >= 0 else size


class FingerprintCache:
    """Fingerprints of spool files, computed once and kept in `<spool>/.cache/` (hidden,
    so never listed), keyed by trace id and the file's size and mtime."""

    def __init__(self, spool_path: Path) -> None:
        self.path = spool_path / CACHE_DIR / CACHE_FILE
        self.entries: dict[str, list] = {}
        self.dirty = False
        try:
            data = json.loads(self.path.read_text())
            if isinstance(data, dict):
                self.entries = data
        except (OSError, ValueError):
            pass

    def get(self, trace_id: str, path: Path, summary: dict,
            max_records: int | None = None) -> Fingerprints | None:
        """Fingerprints from the summary, the cache, or (once) by reading the trace; None
        when that would load a ring window's tree of more than `max_records` records (see
        `record_count`)."""
        known = from_summary(summary)
        if known is not None:
            return known
        stat = path.stat()
        cached = self.entries.get(trace_id)
        if isinstance(cached, list) and len(cached) == 4 and cached[:2] == [stat.st_size,
                                                                         stat.st_mtime_ns]:
            return Fingerprints(cached[2], cached[3])
        found = streamed_fingerprints(path)
        if found is None:  # a ring window's trace: from its whole tree, if not too big
            if max_records is not None and record_count(summary, stat.st_size) > max_records:
                return None
            found = fingerprints(load_trace(path))
        self.entries[trace_id] = [stat.st_size, stat.st_mtime_ns, found.structural, found.failure]
        self.dirty = True
        return found

    def save(self, live_ids: set[str] | None = None) -> None:
        """Write the cache back (atomically), dropping traces no longer in the spool."""
        if live_ids is not None:
            stale = set(self.entries) - live_ids
            for key in stale:
                del self.entries[key]
            self.dirty = self.dirty or bool(stale)
        if not self.dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            temporary.write_text(json.dumps(self.entries, separators=(",", ":")))
            os.replace(temporary, self.path)
            self.dirty = False
        except OSError:
            pass  # a read-only spool: fingerprints are computed again next time


def file_failure_fingerprint(path: str | os.PathLike, summary: dict,
                             max_records: int | None = None) -> str | None:
    """The failure fingerprint of the trace at `path`: from its summary, else from its
    failing path (a pruned load), else, for a ring window's trace of at most
    `max_records` records, from its whole tree; None when it did not fail or is too big."""
    known = from_summary(summary)
    if known is not None:
        return known.failure
    pruned = pruned_trace(path)
    if pruned is not None:
        return failure_fingerprint(pruned[0])
    if max_records is not None and record_count(summary, os.path.getsize(path)) > max_records:
        return None
    return failure_fingerprint(load_trace(path))
