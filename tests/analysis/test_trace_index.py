"""The index's columns are filled from rows of steps held a few thousand at a time
(orion/analysis/trace_index.py): moving them into the columns at any point, across
lanes, gives the same replay as the whole tree."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orion.analysis import trace_index
from orion.analysis.replay import Replay, ReplayError
from orion.analysis.trace_index import open_indexed
from orion.model import load_trace

from .test_replay import states
from .trees import PROGRAM, write_program


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(PROGRAM, st.booleans(), st.integers(1, 5))
def test_rows_moved_into_the_columns_at_any_step_replay_as_the_whole_tree(
        tmp_path_factory, monkeypatch, steps, native, rows_at_once):
    monkeypatch.setattr(trace_index, "ROWS_AT_ONCE", rows_at_once)
    path = tmp_path_factory.mktemp("t") / "t.otrace"
    write_program(path, steps, native)
    try:
        whole = Replay(load_trace(path))
    except ReplayError:
        return
    indexed = open_indexed(path, cache=False)
    if indexed is None:  # out of the walk's order: the whole tree's (see test_replay)
        return
    assert states(Replay(indexed.trace, indexed)) == states(whole)

