"""Turning what a user types into trace files: ids, prefixes, paths, `@`, `@~N` and `-`.

The same rules hold for every command that reads traces (like git revisions).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Iterable, TextIO

from .errors import OrionError
from .spool import TRACE_SUFFIX, Spool

_NEWEST = re.compile(r"^@(?:~(\d+))?$")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
MAX_CANDIDATES_SHOWN = 5


def resolve_one(ref: str, spool: Spool) -> Path:
    """The trace file a single reference names; OrionError when it names none or several."""
    ref = ref.strip()
    newest = _NEWEST.match(ref)
    if newest:
        back = int(newest.group(1) or 0)
        entries = spool.entries()
        if back >= len(entries):
            where = f"the spool {spool.path} holds {len(entries)} trace(s)"
            raise OrionError(f"{ref!r}: no such trace ({where})")
        return entries[back].path
    as_path = Path(ref).expanduser()
    if ref.endswith(TRACE_SUFFIX) or "/" in ref or as_path.is_file():
        if not as_path.exists():
            raise OrionError(f"{ref}: no such file")
        return as_path
    if not _HEX.match(ref):
        raise OrionError(f"{ref!r} is not a trace id, prefix, path, '@' or '@~N'")
    prefix = ref.lower()
    matches = [e for e in spool.entries() if e.trace_id.startswith(prefix)]
    if not matches:
        raise OrionError(f"no trace with id {ref!r} in {spool.path} (see `orion list`)")
    if len(matches) > 1:
        shown = ", ".join(e.trace_id[:12] for e in matches[:MAX_CANDIDATES_SHOWN])
        more = len(matches) - MAX_CANDIDATES_SHOWN
        extra = f" and {more} more" if more > 0 else ""
        raise OrionError(f"ambiguous id {ref!r}: matches {shown}{extra}; type more characters")
    return matches[0].path


def read_refs(stream: TextIO) -> list[str]:
    """References from a pipe: the first word of each non-empty line, so tables work too."""
    refs = []
    for line in stream:
        words = line.split()
        if words and not words[0].startswith("#"):
            refs.append(words[0])
    return refs


def expand_refs(refs: Iterable[str], stdin: TextIO | None = None) -> list[str]:
    """Replace `-` by the references read from standard input."""
    expanded: list[str] = []
    for ref in refs:
        if ref == "-":
            expanded.extend(read_refs(stdin or sys.stdin))
        else:
            expanded.append(ref)
    return expanded


def resolve_many(refs: Iterable[str], spool: Spool, stdin: TextIO | None = None) -> list[Path]:
    """The trace files `refs` name; with no refs and ids piped in, those (`... | orion diff`)."""
    refs = list(refs)
    if not refs and not (stdin or sys.stdin).isatty():
        refs = ["-"]
    paths = [resolve_one(ref, spool) for ref in expand_refs(refs, stdin)]
    if not paths:
        raise OrionError("no trace given (pass ids, paths, '@', or '-' to read them from stdin)")
    return paths
