"""The calls a page draws on its timeline, found quickly in a trace of millions of steps.

The shallow calls (the first few levels of each lane) are indexed once, in time order;
a window of time is then two binary searches away. When a window holds more calls than a
page can draw, an even sample of them is drawn (every one a real call), plus the calls
open across the window's start, so that zooming out stays as quick as zooming in.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right

from ..analysis.replay import CALL_CODE, RETURN_CODE, Steps
from ..model import OPEN, OUTSIDE_LABEL, RETURNED, UNWOUND

DEPTH = 4  # calls at depth 0 to DEPTH-1 are drawn
MAX_SPANS = 4_000  # per answer


class Timeline:
    def __init__(self, steps: Steps) -> None:
        self.steps = steps
        kinds, depths = steps.kinds, steps.depths
        self.indices = array("q", (i for i in range(len(kinds))
                                   if kinds[i] == CALL_CODE and depths[i] < DEPTH))
        self.starts = array("q", map(steps.time, self.indices))
        self.end_t = steps.time(len(steps) - 1)

    def span(self, i: int) -> dict:
        """Call step i as the page draws it, from the step arrays alone (a call object
        of a trace indexed from its file is decoded from its record: 1 s for 4,000
        calls spread over a million)."""
        steps = self.steps
        end = steps.partner[i]
        fn = steps.function(i)
        return {"index": i, "lane": steps.lanes[steps.lane_of[i]].id,
                "depth": steps.depths[i], "start": steps.time(i),
                "end": steps.time(end) if end >= 0 else self.end_t,
                "function": fn.label if fn is not None else OUTSIDE_LABEL,
                "outcome": OPEN if end < 0 else RETURNED if steps.kinds[end] == RETURN_CODE
                else UNWOUND}

    def _open_at(self, t: int) -> list[int]:
        """The shallow calls that started before `t` and were still running at `t`."""
        steps = self.steps
        found = []
        position = bisect_left(self.starts, t)
        seen_lanes: set[int] = set()
        # The latest shallow call to start before t on each lane, and its callers.
        for k in range(position - 1, max(-1, position - 1 - 64 * DEPTH), -1):
            i = self.indices[k]
            lane = steps.lane_of[i]
            if lane in seen_lanes:
                continue
            seen_lanes.add(lane)
            while i >= 0:
                end = steps.partner[i]
                if (steps.time(end) if end >= 0 else self.end_t) >= t \
                        and steps.depths[i] < DEPTH:
                    found.append(i)
                i = steps.frame[i]
        return found

    def window(self, start: int, end: int) -> tuple[list[int], bool]:
        """Step indices of the calls to draw between `start` and `end`, and whether they
        are a sample."""
        lo = bisect_left(self.starts, start)
        hi = bisect_right(self.starts, end)
        count = hi - lo
        if count <= MAX_SPANS:
            chosen = list(self.indices[lo:hi])
        else:
            stride = count / MAX_SPANS
            chosen = [self.indices[lo + int(k * stride)] for k in range(MAX_SPANS)]
        return sorted(set(chosen).union(self._open_at(start))), count > MAX_SPANS
