"""Trace references: full ids, prefixes, paths, @, @~N and '-' (like git revisions)."""

from __future__ import annotations

import io
import time

import pytest

from orion.errors import OrionError
from orion.ids import resolve_many, resolve_one

from .conftest import write_trace


def test_every_kind_of_reference(spool):
    now = time.time_ns()
    paths = [write_trace(spool, start_ns=now + i * 1000) for i in range(3)]
    newest, middle, oldest = paths[2], paths[1], paths[0]
    trace_id = newest.rsplit("-", 1)[1][:32]
    assert str(resolve_one(trace_id, spool)) == newest
    assert str(resolve_one(trace_id[:10].upper(), spool)) == newest
    assert str(resolve_one(newest, spool)) == newest
    assert str(resolve_one("@", spool)) == newest
    assert str(resolve_one("@~1", spool)) == middle
    assert str(resolve_one("@~2", spool)) == oldest
    stdin = io.StringIO(f"{trace_id}\n\n@~2 extra columns\n# comment\n")
    assert [str(p) for p in resolve_many(["-"], spool, stdin)] == [newest, oldest]


def test_ambiguous_prefix_lists_candidates(spool):
    for i in range(40):  # 40 random ids: some pair shares a first hex digit
        write_trace(spool, start_ns=time.time_ns() + i * 1000)
    ids = [e.trace_id for e in spool.entries()]
    shared = next(d for d in "0123456789abcdef" if sum(i.startswith(d) for i in ids) > 1)
    with pytest.raises(OrionError, match="ambiguous id") as info:
        resolve_one(shared, spool)
    assert "type more characters" in str(info.value)


def test_errors(spool):
    with pytest.raises(OrionError, match="no such trace"):
        resolve_one("@", spool)
    with pytest.raises(OrionError, match="no trace given"):
        resolve_many(["-"], spool, io.StringIO(""))
