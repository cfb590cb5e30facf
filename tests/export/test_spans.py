"""The span stream under the exports: ring windows, cut traces, self time, stable ids."""

from __future__ import annotations

from pathlib import Path

from orion.export.spans import Span, SpanStream
from orion.model import OPEN, OUTSIDE_LABEL, RETURNED, UNWOUND, load_trace


def spans_of(path) -> tuple[SpanStream, list[Span]]:
    with SpanStream(path) as stream:
        return stream, [s for s in stream.items() if isinstance(s, Span)]


def test_ring_window_frames_enclose_what_came_before(spool):
    w = spool.open_writer(language="python", window="ring", mode="error")
    lane = w.lane("MainThread")
    leaf = w.function("leaf", "m")
    w.call(10, lane, leaf)
    w.ret(20, lane)
    w.call(30, lane, leaf)
    w.ret(40, lane)
    w.unwind(50, lane, 7)  # a frame that began before the window
    w.unwind(70, lane, 9)  # and its caller
    w.close(status="failed")
    stream, spans = spans_of(w.path)
    assert [(s.label, s.start, s.end, s.outcome) for s in spans] == [
        ("leaf", 10, 20, RETURNED), ("leaf", 30, 40, RETURNED),
        (OUTSIDE_LABEL, 10, 50, UNWOUND), (OUTSIDE_LABEL, 10, 70, UNWOUND)]
    assert [s.self_ns for s in spans] == [10, 10, 20, 20]  # each adopts what came before
    assert sum(s.self_ns for s in spans) == 60  # the lane's time, counted once
    assert stream.labels(spans[2].stack) == [OUTSIDE_LABEL]


def test_calls_open_at_the_end_of_a_cut_trace(spool):
    w = spool.open_writer(language="python")
    lane = w.lane("MainThread")
    outer, inner = w.function("outer", "m"), w.function("inner", "m")
    w.call(0, lane, outer)
    w.call(10, lane, inner)
    w.event(25, lane, "log", {"msg": "last words"})
    w.flush()  # no close: the program died here
    _, spans = spans_of(w.path)
    assert [(s.label, s.start, s.end, s.outcome, s.self_ns) for s in spans] == [
        ("inner", 10, 25, OPEN, 15), ("outer", 0, 25, OPEN, 10)]
    assert spans[0].parent is spans[1] and spans[0].parent_span_id == spans[1].span_id
    assert [e["kind"] for e in spans[0].events] == ["log"]


def test_span_ids_are_stable_and_distinct(spool):
    from ..export.sample import write_rich_trace
    path = Path(write_rich_trace(spool))
    _, first = spans_of(path)
    _, second = spans_of(path)
    assert [s.span_id for s in first] == [s.span_id for s in second]
    assert len({s.span_id for s in first}) == len(first) == 6
    model = load_trace(path)  # the same calls as the model's tree
    count, pending = 0, [r for lane in model.lanes.values() for r in lane.roots]
    while pending:
        call = pending.pop()
        count += 1
        pending.extend(call.children)
    assert count == len(first)
