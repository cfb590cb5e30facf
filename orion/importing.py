"""Adding trace files from elsewhere (a bug ticket, a CI artifact) to the spool.

A file from outside is untrusted: it is validated in full before it is copied, so the
spool only ever holds traces every command can read. Incomplete traces are welcome (a
crashed program's trace is often the one that matters); corrupt ones are refused.
OTLP/JSON and Chrome Trace Event JSON files are converted to .otrace first (see
orion.importers) and then go through the same checks.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .format.errors import TraceError
from .format.reader import TraceReader
from .format.summary import read_summary
from .format.validate import ERROR, Problem, validate_trace
from .importers import OTRACE, ImportFormatError, convert, detect
from .spool import TRACE_SUFFIX, Spool

IMPORTABLE_SUFFIXES = (TRACE_SUFFIX, ".json", ".jsonl")

_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")

IMPORTED, REFUSED, UNREADABLE = "imported", "refused", "unreadable"
MAX_PROBLEMS_SHOWN = 3


@dataclass
class ImportResult:
    """What happened to one file: outcome is imported, refused (invalid, duplicate) or
    unreadable (missing, not a trace, a newer major version, a corrupt frame)."""

    source: Path
    outcome: str
    reason: str | None = None
    trace_id: str | None = None
    path: Path | None = None  # where it now is in the spool
    complete: bool | None = None
    replaced: bool = False

    def as_json(self) -> dict:
        return {"source": str(self.source), "outcome": self.outcome, "reason": self.reason,
                "id": self.trace_id, "path": str(self.path) if self.path else None,
                "complete": self.complete, "replaced": self.replaced}


def expand_sources(sources: list[Path]) -> list[Path]:
    """Files as given; a directory stands for the .otrace, .json and .jsonl files directly
    inside it."""
    expanded: list[Path] = []
    for source in sources:
        if source.is_dir():
            expanded.extend(sorted(p for p in source.iterdir()
                                   if p.suffix in IMPORTABLE_SUFFIXES and p.is_file()))
        else:
            expanded.append(source)
    return expanded


def refusal(problems: list[Problem]) -> str | None:
    """Why a trace is refused: its validation errors (warnings, such as an incomplete
    trace, are no reason), None when there are none."""
    errors = [str(p) for p in problems if p.severity == ERROR]
    if len(errors) > MAX_PROBLEMS_SHOWN:
        errors[MAX_PROBLEMS_SHOWN:] = [f"and {len(errors) - MAX_PROBLEMS_SHOWN} more "
                                       f"(see `orion validate`)"]
    return "; ".join(errors) or None


def import_trace(spool: Spool, source: Path, replace: bool = False) -> ImportResult:
    """Validate `source` and copy it into the spool under its trace id and start time."""
    try:
        reason = refusal(validate_trace(source))
        if reason is None:
            with TraceReader(source) as reader:
                header = reader.header  # a file cut inside its first frame has none
            summary = read_summary(source)
    except TraceError as exc:  # a corrupt frame too: cat, show and validate exit 2 on it
        return ImportResult(source, UNREADABLE, exc.message)
    if reason:
        return ImportResult(source, REFUSED, reason)
    trace_id = header.get("trace_id")
    start_ns = header.get("start_ns")
    if not isinstance(trace_id, str) or not _TRACE_ID.match(trace_id):
        return ImportResult(source, REFUSED, f"its trace id {trace_id!r} is not 32 hex digits")
    if not isinstance(start_ns, int) or isinstance(start_ns, bool) or start_ns < 0:
        return ImportResult(source, REFUSED, f"its start time {start_ns!r} is not a time")
    existing = spool.find(trace_id)
    try:
        path = spool.add(source, trace_id, start_ns, replace=replace)
    except FileExistsError as exc:
        return ImportResult(source, REFUSED, f"trace {trace_id} is already in the spool "
                            f"({Path(exc.args[0]).name}); --force replaces it",
                            trace_id=trace_id)
    except OSError as exc:
        return ImportResult(source, UNREADABLE, exc.strerror or str(exc), trace_id=trace_id)
    return ImportResult(source, IMPORTED, trace_id=trace_id, path=path,
                        complete=bool(summary.get("complete")), replaced=existing is not None)


def import_file(spool: Spool, source: Path, replace: bool = False) -> list[ImportResult]:
    """Import an .otrace file, or every trace in an OTLP/JSON or Chrome JSON file."""
    try:
        kind = detect(source)
    except ImportFormatError as exc:
        return [ImportResult(source, UNREADABLE, str(exc))]
    except (OSError, UnicodeDecodeError) as exc:
        return [ImportResult(source, UNREADABLE, f"cannot read it as JSON ({exc})")]
    if kind == OTRACE:
        return [import_trace(spool, source, replace)]
    with tempfile.TemporaryDirectory(prefix="orion-import-") as directory:
        try:
            converted = convert(source, kind, Path(directory))
        except ImportFormatError as exc:
            return [ImportResult(source, UNREADABLE, f"{kind}: {exc}")]
        results = [import_trace(spool, path, replace) for path in converted]
    for result in results:
        result.source = source
    return results
