"""A summary whose fields have the wrong types is refused by name, never a crash later."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orion.commands.list import table_lines
from orion.format import CorruptTrace, TraceWriter
from orion.format.summary import read_summary, summary_problem
from orion.query import Listed, TraceFilter
from orion.spool import Entry


def write_with_summary(path, **changes):
    """A real trace whose end record and trailer carry the writer's summary with `changes`."""
    with open(path, "wb") as sink:
        w = TraceWriter(sink, language="python", trace_id="ab" * 16, start_ns=10)
        lane = w.lane("MainThread")
        w.call(1, lane, w.function("main", "app", "app.py", 1))
        w.ret(2, lane)
        summarise = w._summary
        w._summary = lambda *args: dict(summarise(*args), **changes)
        w.close()
    return path


@pytest.mark.parametrize("changes, problem", [
    ({"status": 5}, "status is int 5, not str"),
    ({"start_ns": "abc"}, "start_ns is str 'abc', not int"),
    ({"start_ns": True}, "start_ns is bool"),
    ({"start_ns": -1}, "start_ns is negative"),
    ({"exception": "str"}, "exception is str 'str', not dict"),
    ({"exception": {"type": 3}}, "exception.type is int"),
    ({"counts": [1]}, "counts is list"),
    ({"counts": {"calls": "many"}}, "counts.calls is str"),
])
def test_malformed_summary_is_a_corrupt_trace_naming_the_field(tmp_path, changes, problem):
    path = write_with_summary(tmp_path / "t.otrace", **changes)
    with pytest.raises(CorruptTrace) as info:
        read_summary(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "malformed summary" in message
    assert problem in message


def test_unknown_keys_and_nil_fields_are_fine(tmp_path):
    path = write_with_summary(tmp_path / "t.otrace", status=None, extra={"any": [1]},
                              exception=None)
    assert read_summary(path)["extra"] == {"any": [1]}


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=8)
KEYS = ["status", "start_ns", "duration_ns", "language", "root", "name", "exception",
        "counts", "stack", "command", "type", "message", "calls"]
summaries = st.dictionaries(st.sampled_from(KEYS), values | st.dictionaries(
    st.sampled_from(KEYS), values, max_size=4), max_size=8)


@settings(max_examples=300, deadline=None)
@given(summaries)
def test_a_summary_that_passes_the_check_lists_and_filters(summary):
    """Whatever summary_problem accepts, listing and every filter can handle."""
    if summary_problem(summary) is not None:
        return
    entry = Entry(Path("t.otrace"), "ab" * 16, "20200101T000000000000Z")
    table_lines([Listed(entry, summary)], colour=False)
    TraceFilter(statuses=frozenset({"ok"}), languages=frozenset({"python"}), since_ns=1,
                until_ns=2, grep=re.compile("x")).matches(summary)
