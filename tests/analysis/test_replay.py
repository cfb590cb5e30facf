"""The replay cursor: moves both ways, jumps, breakpoints and the state it reports."""

from __future__ import annotations

import pytest

from orion.analysis.replay import CALL, EXCEPTION, RETURN, UNWIND, Replay, ReplayError
from orion.model import load_trace
from orion.spool import Spool

from .trees import node, write_tree


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
