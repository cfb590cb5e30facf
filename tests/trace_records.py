"""A trace's records in tests: decoded as `orion cat` gives them, and picked by type."""

from __future__ import annotations

from pathlib import Path

from orion.format.decode import decode_records
from orion.format.reader import TraceReader


def decoded(path: Path) -> list[dict]:
    with TraceReader(path) as reader:
        return list(decode_records(reader.records()))


def by_type(records: list[dict], kind: str) -> list[dict]:
    return [r for r in records if r["type"] == kind]
