"""The replay cursor: moves both ways, jumps, breakpoints and the state it reports."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orion.analysis.replay import CALL, EXCEPTION, RETURN, UNWIND, Replay, ReplayError
from orion.analysis.trace_index import open_indexed
from orion.format import TraceWriter
from orion.model import load_trace
from orion.spool import Spool

from ..sample_traces import write_large_trace
from .trees import PROGRAM, node, write_program, write_tree


def bad_rate_program() -> list[dict]:
    """main() parses '15%' into 1.5 (the bug: /10), then apply() rejects it."""
    return [node(
        "main",
        node("read_config", args={"path": "shop.ini"}, value="15%"),
        node("parse_rate", node("strip", args={"text": "15%"}, value="15"),
             args={"text": "15%"}, value=1.5),
        node("apply", args={"total": 100, "rate": 1.5},
             raises=("ValueError", "rate 1.5 above 100%"), locals={"total": 100, "rate": 1.5}),
        unwinds=True, locals={"rate": 1.5})]


@pytest.fixture
def replay(tmp_path) -> Replay:
    return Replay(load_trace(write_tree(Spool(tmp_path / "spool"), bad_rate_program())))


def where(replay: Replay) -> tuple[str, str | None]:
    step = replay.step
    return step.kind, step.call.label if step.call is not None else None


def test_from_the_exception_back_to_the_call_that_made_the_bad_value(replay):
    replay.first_exception()
    assert where(replay) == (EXCEPTION, "apply")
    assert [f["function"] for f in replay.state()["stack"]] == ["main", "apply"]
    replay.back_out()  # where apply was called
    assert where(replay) == (CALL, "apply")
    replay.back_over()  # over parse_rate's insides, to its return
    assert where(replay) == (RETURN, "parse_rate")
    state = replay.state()
    assert state["event"]["value"] == 1.5
    assert state["stack"][-1]["args"] == {"text": "15%"}
    assert state["stack"][-1]["value"] == 1.5


def test_step_next_finish_and_their_reverses_are_symmetric(replay):
    kinds = []
    while True:
        kinds.append(where(replay))
        try:
            replay.forward()
        except ReplayError:
            break
    assert kinds[0] == (CALL, "main") and kinds[-1] == (UNWIND, "main")
    assert len(kinds) == len(replay.steps)
    for _ in range(len(kinds) - 1):
        replay.backward()
    assert replay.pos == 0
    replay.forward()  # into read_config
    replay.over()  # its return
    assert where(replay) == (RETURN, "read_config")
    replay.over()  # parse_rate, at the same depth
    assert where(replay) == (CALL, "parse_rate")
    replay.over()
    assert where(replay) == (RETURN, "parse_rate")
    replay.back_over()
    assert where(replay) == (CALL, "parse_rate")
    replay.forward()  # into strip
    assert where(replay) == (CALL, "strip")
    replay.out()
    assert where(replay) == (RETURN, "strip")
    replay.out()
    assert where(replay) == (RETURN, "parse_rate")
    replay.back_out()
    assert where(replay) == (CALL, "parse_rate")
    replay.back_out()
    assert where(replay) == (CALL, "main")
    with pytest.raises(ReplayError):
        replay.back_out()
    assert where(replay) == (CALL, "main")  # a failed move leaves the cursor alone


def test_jumps_and_breakpoints(replay):
    replay.goto(-1)
    assert where(replay) == (UNWIND, "main")
    with pytest.raises(ReplayError):
        replay.goto(10_000)
    replay.at_time(0)
    assert replay.pos == 0
    replay.at_time(replay.steps[5].t)
    assert replay.steps[replay.pos].t >= replay.steps[5].t
    assert replay.add_breakpoint("strip") == 1
    assert replay.add_breakpoint("app.apply") == 1
    with pytest.raises(ReplayError):
        replay.add_breakpoint("nope")
    replay.goto(0)
    replay.resume()
    assert where(replay) == (CALL, "strip")
    replay.resume()
    assert where(replay) == (CALL, "apply")
    replay.resume()  # no more breakpoints: the end
    assert replay.pos == len(replay.steps) - 1
    replay.reverse_resume()
    assert where(replay) == (CALL, "apply")


def test_lanes_step_separately(tmp_path):
    trace = load_trace(write_tree(Spool(tmp_path / "spool"), [node("main", node("a"))],
                                  lanes={"worker": [node("job", node("b"))]}))
    replay = Replay(trace)
    replay.goto(0)
    seen = [where(replay)]
    while True:
        try:
            replay.forward()
        except ReplayError:
            break
        seen.append(where(replay))
    assert {s[1] for s in seen} == {"main", "a"}


def test_no_exception(tmp_path):
    replay = Replay(load_trace(write_tree(Spool(tmp_path / "spool"), [node("main")])))
    with pytest.raises(ReplayError, match="no exception"):
        replay.first_exception()


# -- the indexed replay (bounded memory) against the whole tree's ------------------------

def states(replay: Replay) -> list:
    """The state at every step, and where each move goes from there."""
    out = []
    for index in range(len(replay.steps)):
        replay.goto(index)
        out.append(replay.state())
        for move in (replay.out, replay.back_out, replay.over, replay.back_over):
            try:
                out.append(move())
            except ReplayError as exc:
                out.append(str(exc))
            replay.goto(index)
    return out


@settings(max_examples=300, deadline=None)
@given(PROGRAM, st.booleans(), st.booleans())
def test_the_indexed_replay_is_the_whole_trees(tmp_path_factory, steps, native, ring):
    path = tmp_path_factory.mktemp("t") / "t.otrace"
    write_program(path, steps, native, ring)
    try:
        whole = Replay(load_trace(path))
    except ReplayError:
        return
    indexed = open_indexed(path)
    if indexed is None:  # out of the walk's order, or a ring window: the whole tree's
        assert any(lane.roots and lane.roots[0].fn is None for lane in whole.trace.lanes.values()
                   ) or any(step == "same time" for _, step in steps)
        return
    replay = Replay(indexed.trace, indexed)
    assert len(replay.steps) == len(whole.steps)
    # The model is given only the calls it keeps: what it would have counted is set after
    assert indexed.trace.end_t == whole.trace.end_t
    assert [(lane.id, lane.calls) for lane in indexed.trace.lanes.values()] == [
        (lane.id, lane.calls) for lane in whole.trace.lanes.values()]
    assert states(replay) == states(whole)
    for name in ("f", "g", "h"):
        try:
            assert replay.add_breakpoint(name) == whole.add_breakpoint(name)
        except ReplayError as exc:
            assert "no function" in str(exc)


def test_a_big_trace_is_indexed_not_loaded_whole(tmp_path):
    path = write_large_trace(Spool(tmp_path / "spool"), 3000)
    indexed = open_indexed(path)
    assert indexed is not None
    kept = sum(1 for _ in _calls(indexed.trace))
    assert kept < 10  # the failing path and the handles that caught an exception
    assert states(Replay(indexed.trace, indexed))[-40:] == states(
        Replay(load_trace(path)))[-40:]


def _calls(trace):
    pending = [c for lane in trace.lanes.values() for c in lane.roots]
    while pending:
        call = pending.pop()
        yield call
        pending.extend(call.children)


def test_an_indexed_call_takes_the_site_its_record_leaves_out(tmp_path):
    # A record leaves a call's site out when it is its function's previous call's (on
    # any lane); the index keeps only the records that have one, and finds it back.
    path = tmp_path / "t.otrace"
    with open(path, "wb") as sink:
        w = TraceWriter(sink, language="c")
        first, second = w.lane("main"), w.lane("worker")
        main, leaf = (w.function(None, "app", "app.c", 1, addr=0x1000 * (n + 1))
                      for n in range(2))
        w.call(10, first, main)
        w.call(20, first, leaf, None, site=0x44)
        w.ret(30, first)
        w.call(40, second, leaf)  # 0x44 again, left out
        w.call(50, second, leaf, None, site=0x10)
        w.call(60, second, leaf)  # 0x10
        w.ret(70, second)
        w.ret(80, second)
        w.ret(90, second)
        w.ret(100, first)
        w.close()
    indexed = open_indexed(path)
    sites = [indexed.refs[i].site for i in range(len(indexed)) if indexed.kinds[i] == 0]
    assert sites == [None, 0x2044, 0x2044, 0x2010, 0x2010]
    assert states(Replay(indexed.trace, indexed)) == states(Replay(load_trace(path)))
