"""`orion watch`: re-run a command under capture when the project changes, and say what
changed between two runs: failures that are new, failures that are fixed, and for an
execution recorded in both runs, where the two first diverge.

Changes are files created, modified, moved or deleted under the project, minus what git
ignores (`git check-ignore`, or the top-level .gitignore outside a repository), version
control directories and the spool itself (every run writes there). Events are debounced: a
run starts once the tree has been quiet for a moment, so saving ten files runs once. What
changes while a run is going is dropped as the run's own doing, except edits to files git
tracks, which start the next run at once.
"""

from __future__ import annotations

import fnmatch
import os
import queue
import subprocess
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ContextManager, Iterable, Iterator

from .errors import OrionError
from .hooks import git
from .spool import PROJECT_DIR_NAME, Spool
from .testrun import TraceRow, RunResult, run_captured

ALWAYS_IGNORED = frozenset({".git", ".hg", ".svn", PROJECT_DIR_NAME, "__pycache__",
                            ".pytest_cache", ".mypy_cache", ".ruff_cache", ".tox"})
DEBOUNCE_S = 0.3


# -- what counts as a change -----------------------------------------------------------

class IgnoreRules:
    """Which changed paths matter: not ignored by git, not the spool, not VCS internals."""

    def __init__(self, root: Path, spool: Spool) -> None:
        self.root = root.resolve()
        self.spool = spool.path.resolve()
        self.in_git = git(self.root, "rev-parse", "--show-toplevel") is not None
        self.patterns = [] if self.in_git else _read_gitignore(self.root / ".gitignore")

    def relevant(self, paths: Iterable[str]) -> list[str]:
        """The paths (relative to the root) that should trigger a run."""
        candidates = []
        for path in dict.fromkeys(paths):
            absolute = Path(path).resolve()
            if absolute == self.spool or self.spool in absolute.parents:
                continue
            try:
                rel = absolute.relative_to(self.root)
            except ValueError:
                continue
            if not rel.parts or ALWAYS_IGNORED & set(rel.parts):
                continue
            candidates.append(rel.as_posix())
        if not candidates:
            return []
        ignored = self._git_ignored(candidates) if self.in_git else {
            c for c in candidates if _matches(self.patterns, c)}
        return [c for c in candidates if c not in ignored]

    def tracked(self, rels: list[str]) -> list[str]:
        """The paths among `rels` that git tracks (none outside a repository)."""
        if not rels or not self.in_git:
            return []
        done = subprocess.run(["git", "ls-files", "-z", "--", *rels], cwd=self.root,
                              capture_output=True, text=True)
        known = set(done.stdout.split("\0"))
        return [rel for rel in rels if rel in known]

    def _git_ignored(self, rels: list[str]) -> set[str]:
        done = subprocess.run(["git", "check-ignore", "--no-index", "--stdin", "-z"],
                              cwd=self.root, input="\0".join(rels) + "\0",
                              capture_output=True, text=True)
        return {p for p in done.stdout.split("\0") if p}


def _read_gitignore(path: Path) -> list[str]:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _matches(patterns: list[str], rel: str) -> bool:
    """A small .gitignore matcher: globs, `/` anchoring, directory patterns, `!` negation."""
    ignored = False
    parts = rel.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern[1:] if negate else pattern
        body = body.rstrip("/")
        if "/" in body:  # anchored at the root: match the path or one of its directories
            hit = any(fnmatch.fnmatchcase(p, body.lstrip("/")) for p in prefixes)
        else:  # any path component
            hit = any(fnmatch.fnmatchcase(part, body) for part in parts)
        if hit:
            ignored = not negate
    return ignored


# A `with progress(items, label) as each:` that shows a person the work on `items`
# (orion.render.progress.progress in the CLI); the library itself shows nothing.
Progress = Callable[[list, str], ContextManager[Iterator]]


@contextmanager
def no_progress(items: list, label: str) -> Iterator[Iterator]:
    yield iter(items)


# -- comparing two runs ----------------------------------------------------------------

@dataclass
class Change:
    """What differs between the previous run and this one."""

    status: tuple[int | None, int]
    new: list[TraceRow] = field(default_factory=list)  # failing now, not before
    fixed: list[TraceRow] = field(default_factory=list)  # failing before, not now
    still: list[TraceRow] = field(default_factory=list)  # failing in both runs
    changed: list[TraceRow] = field(default_factory=list)  # passing in both, paths differ
    divergences: dict[str, str] = field(default_factory=dict)  # key -> first divergence

    @property
    def same(self) -> bool:
        return (not self.new and not self.fixed and not self.divergences
                and self.status[0] == self.status[1])


_KIND_WORDS = {"only_a": "a call is gone", "only_b": "a new call",
               "args": "arguments differ", "return": "return value differs",
               "exception": "a different exception", "outcome": "ended differently",
               "raised": "exceptions raised inside differ", "lane": "a thread is new or gone"}


def first_divergence(old: TraceRow, new: TraceRow) -> str | None:
    """Where the executions of two traces first diverge, in one line; None when they do
    not, or when the diff library or a trace is not available."""
    try:
        from .analysis.diff import DiffOptions, diff_files

        result = diff_files(old.path, new.path, DiffOptions(timing=False))
    except ImportError:
        return None
    except Exception:  # an unreadable trace must not stop the watch
        return None
    first = result.first_divergence
    if first is None:
        return None
    path = first.a_path if first.kind != "only_b" else first.b_path
    where = " › ".join(call.label for call in path) or first.lane
    return f"{_KIND_WORDS.get(first.kind, first.kind)} at {where}"


def compare(previous: RunResult | None, current: RunResult,
            progress: Progress = no_progress) -> Change:
    """New, fixed and still failing executions, and where those in both runs diverge
    (diffing each pair of traces: `progress` shows that work to a person).

    In error mode only failures leave traces, so a test without a trace passed; in dev
    and safe modes every run leaves one, and its status says whether it failed.
    """
    before = {row.key(): row for row in previous.traces} if previous else {}
    after = {row.key(): row for row in current.traces}
    change = Change((previous.status if previous else None, current.status))
    with progress(list(after.items()), "comparing with the previous run") as items:
        for key, row in items:
            old = before.get(key)
            if row.failed:
                (change.still if old is not None and old.failed else change.new).append(row)
            if old is not None:
                text = first_divergence(old, row)
                if text:
                    change.divergences[key] = text
                    if not row.failed and not old.failed:
                        change.changed.append(row)
    change.fixed = [row for key, row in before.items()
                    if row.failed and (key not in after or not after[key].failed)]
    return change


def describe(change: Change) -> list[str]:
    """The lines `orion watch` prints after a run."""
    old, new = change.status
    lines = [f"exit status {new}" + (f" (was {old})" if old is not None and old != new else "")]
    for row in change.new:
        lines.append(f"  new failure: {row.test}  {row.exception}  [{row.trace_id[:12]}]")
    for row in change.fixed:
        lines.append(f"  fixed: {row.test}")
    for row in change.still:
        where = change.divergences.get(row.key())
        detail = f"first divergence: {where}" if where else "same path as before"
        lines.append(f"  still failing: {row.test}  [{row.trace_id[:12]}]  {detail}")
    for row in change.changed:
        lines.append(f"  changed: {row.test}  [{row.trace_id[:12]}]  first divergence: "
                     f"{change.divergences[row.key()]}")
    if change.status[0] is not None and change.same:
        lines.append("  no change since the previous run")
    return lines


# -- the loop --------------------------------------------------------------------------

def watch(root: Path, command: list[str], spool: Spool, mode: str,
          report: Callable[[int, list[str], Change], None], debounce: float = DEBOUNCE_S,
          max_runs: int | None = None, stop: threading.Event | None = None,
          progress: Progress = no_progress) -> int:
    """Run `command` now and after every relevant change; returns the last exit status.

    `report(run number, changed paths, change)` is called after each run. The loop ends
    after `max_runs` runs, when `stop` is set, or on KeyboardInterrupt.
    """
    try:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer
    except ImportError:
        raise OrionError("orion watch needs watchdog: pip install watchdog") from None

    rules = IgnoreRules(root, spool)
    events: queue.Queue[str] = queue.Queue()
    stop = stop or threading.Event()

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event) -> None:
            if event.event_type in ("opened", "closed_no_write"):
                return
            events.put(os.fsdecode(event.src_path))
            dest = getattr(event, "dest_path", "")
            if dest:
                events.put(os.fsdecode(dest))

    observer = Observer()
    observer.schedule(Handler(), str(root), recursive=True)
    observer.start()
    previous: RunResult | None = None
    changed: list[str] = []
    runs = 0
    try:
        while True:
            current = run_captured(command, spool, mode)
            runs += 1
            report(runs, changed, compare(previous, current, progress))
            previous = current
            if max_runs is not None and runs >= max_runs:
                return current.status
            # What the run itself wrote is not a change, but an edit to a file git tracks
            # is (a test run seldom writes one): saved during a long run, it runs again.
            changed = rules.tracked(rules.relevant(_drain(events))) \
                or _wait_for_change(events, rules, debounce, stop)
            if not changed:
                return current.status
    finally:
        observer.stop()
        observer.join(timeout=5)


def _drain(events: queue.Queue) -> list[str]:
    """Every path queued so far."""
    paths = []
    while True:
        try:
            paths.append(events.get_nowait())
        except queue.Empty:
            return paths


def _wait_for_change(events: queue.Queue, rules: IgnoreRules, debounce: float,
                     stop: threading.Event) -> list[str]:
    """Block until a relevant change and a quiet `debounce`; [] when asked to stop."""
    while not stop.is_set():
        try:
            first = events.get(timeout=0.2)
        except queue.Empty:
            continue
        batch = [first]
        deadline = time.monotonic() + debounce
        while (left := deadline - time.monotonic()) > 0:
            try:
                batch.append(events.get(timeout=left))
                deadline = time.monotonic() + debounce  # still busy: wait for quiet
            except queue.Empty:
                break
        relevant = rules.relevant(batch)
        if relevant:
            return relevant
    return []
