"""Running a command under capture and collecting what it recorded: `test`, `watch` and the
git hooks share this.

The traces of a run are those its agents report plus any new file in the spool (an agent
killed before it could report still leaves its incomplete trace there).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .config import agent_environ
from .format.errors import TraceError
from .format.summary import read_summary
from .running import run_with_capture
from .runtimes import Capture
from .spool import Spool

SHORT_ID = 12


@dataclass
class TraceRow:
    """One trace of a run (a failing test's, or a whole run's), as a test summary shows it."""

    trace_id: str
    path: str
    test: str
    outcome: str
    exception: str
    fingerprint: str | None

    def key(self) -> str:
        """What identifies "the same execution" across runs: the test, else the entry point."""
        return self.test

    @property
    def failed(self) -> bool:
        return self.outcome not in ("ok", "passed")

    def json(self) -> dict:
        return {"test": self.test, "outcome": self.outcome, "exception": self.exception or None,
                "trace_id": self.trace_id, "path": self.path, "fingerprint": self.fingerprint}


@dataclass
class RunResult:
    status: int
    traces: list[TraceRow]


def row_from(path: str | os.PathLike) -> TraceRow:
    """Summarise one trace; a file that cannot be read still gets a row."""
    try:
        summary = read_summary(path)
    except (TraceError, OSError) as exc:
        name = os.path.basename(os.fspath(path))
        return TraceRow(name, os.fspath(path), name, "unreadable", str(exc), None)
    test = summary.get("test") if isinstance(summary.get("test"), dict) else {}
    exception = summary.get("exception") or {}
    text = ": ".join(str(x) for x in (exception.get("type"), exception.get("message")) if x)
    return TraceRow(
        trace_id=summary.get("trace_id") or "",
        path=os.fspath(path),
        test=test.get("id") or summary.get("name") or summary.get("root") or "-",
        outcome=test.get("outcome") or summary.get("status") or "-",
        exception=text.replace("\n", " "),
        fingerprint=_fingerprint(summary, path),
    )


def _fingerprint(summary: dict, path: str | os.PathLike) -> str | None:
    """The failure fingerprint (stored by the agent or computed from the failing path in
    bounded memory), when the library has it; none for a trace whose summary says it did
    not fail (a whole dev-mode run of a passing suite: reading its tens of millions of
    records would cost a minute for nothing)."""
    if summary.get("status") == "ok":
        return None
    try:
        from .analysis.fingerprint import IN_PASSING_MAX_RECORDS, file_failure_fingerprint
    except ImportError:  # the fingerprint library is optional here
        return None
    try:
        return file_failure_fingerprint(path, summary, IN_PASSING_MAX_RECORDS)
    except (TraceError, OSError):
        return None


def run_captured(command: list[str], spool: Spool, mode: str = "error",
                 env: dict[str, str] | None = None) -> RunResult:
    """Run `command` with capture on for every runtime (the exit status is its own), with
    `env` added to its environment, and collect the traces it wrote."""
    capture = Capture(mode=mode, spool=str(spool.path.resolve()),
                      base={**agent_environ(), **(env or {})})
    ran = run_with_capture(command, capture)
    return RunResult(ran.status, [row_from(p) for p in ran.written])


def table_rows(failures: list[TraceRow]) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the summary table `orion test` prints."""
    headers = ["TEST", "OUTCOME", "EXCEPTION", "TRACE", "FINGERPRINT"]
    rows = [[f.test, f.outcome, f.exception or "-", f.trace_id[:SHORT_ID] or "-",
             (f.fingerprint or "-")[:SHORT_ID + 3]] for f in failures]  # "f1:" + 12 hex
    return headers, rows
