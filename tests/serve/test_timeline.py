"""The timeline index: windows by binary search, samples when a window is crowded."""

from __future__ import annotations

from orion.analysis.replay import Replay
from orion.model import load_trace
from orion.serve.timeline import DEPTH, MAX_SPANS, Timeline
from orion.spool import Spool
from tests.sample_traces import write_large_trace


def test_windows_and_samples(tmp_path):
    replay = Replay(load_trace(write_large_trace(Spool(tmp_path), 15_000)))
    steps = replay.steps
    timeline = Timeline(steps)
    every, sampled = timeline.window(0, timeline.end_t)
    assert sampled and MAX_SPANS <= len(every) <= MAX_SPANS + DEPTH
    labels = {steps.refs[i].label for i in every}
    assert {"main", "handle", "parse", "store"} <= labels
    # A narrow window: every call starting in it, plus main and handle open across it.
    start, end = 20_005, 20_100  # handle #2000 starts at 20_001
    chosen, sampled = timeline.window(start, end)
    assert not sampled
    expected = {i for i in range(len(steps)) if steps.kinds[i] == 0 and steps.depths[i] < DEPTH
                and steps.refs[i].start <= end
                and (steps.refs[i].end is None or steps.refs[i].end >= start)}
    assert set(chosen) == expected
