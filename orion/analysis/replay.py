"""Time travel over a recorded trace: a cursor that steps through its events both ways.

A trace's call forests are flattened once into one time-ordered sequence of steps:
entering a call, returning or unwinding from it, and what happened in between
(exceptions, events, crashes, stack snapshots). The cursor moves over that sequence the
way pdb or gdb move over a live program, but in both directions: step/next/finish stay
on the current lane (thread or task); goto, time, exception and breakpoints may switch
lanes. Nothing here reads files or prints: `Replay.state()` returns plain data.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any, Iterator

from ..format.writer import NO_VALUE
from ..model import OPEN, UNWOUND, Call, Crash, Event, Function, Lane, Raised, Stack, Trace
from ..timeparse import format_duration_ns

CALL = "call"
RETURN = "return"
UNWIND = "unwind"
EXCEPTION = "exception"
EVENT = "event"
CRASH = "crash"
STACK = "stack"


class ReplayError(Exception):
    """A move that cannot be made (the end of the trace, no such function ...)."""


class Step:
    """One point in time: `call` is the frame it belongs to (None outside every call)."""

    __slots__ = ("kind", "t", "lane", "call", "depth", "item")

    def __init__(self, kind: str, t: int, lane: Lane, call: Call | None, depth: int,
                 item: Any = None) -> None:
        self.kind = kind
        self.t = t
        self.lane = lane
        self.call = call
        self.depth = depth
        self.item = item


def _lane_steps(lane: Lane, parents: dict[int, Call | None]) -> Iterator[Step]:
    """A lane's steps in time order, walking its forest without recursion."""

    def items(calls, exceptions, events):
        if exceptions or events:
            return heapq.merge(calls, exceptions, events,
                               key=lambda x: x.start if isinstance(x, Call) else x.t)
        return iter(calls)

    stack: list[tuple[Iterator, Call | None, int]] = [
        (items(lane.roots, lane.exceptions, lane.events), None, 0)]
    while stack:
        it, owner, depth = stack[-1]
        item = next(it, None)
        if item is None:
            stack.pop()
            if owner is not None and owner.end is not None:
                yield Step(UNWIND if owner.outcome == UNWOUND else RETURN, owner.end, lane,
                           owner, depth - 1)
            continue
        if isinstance(item, Call):
            parents[id(item)] = owner
            yield Step(CALL, item.start, lane, item, depth)
            stack.append((items(item.children, item.exceptions, item.events), item, depth + 1))
        elif isinstance(item, Raised):
            yield Step(EXCEPTION, item.t, lane, owner, depth, item)
        elif isinstance(item, Crash):
            yield Step(CRASH, item.t, lane, owner, depth, item)
        elif isinstance(item, Stack):
            yield Step(STACK, item.t, lane, owner, depth, item)
        elif isinstance(item, Event):
            yield Step(EVENT, item.t, lane, owner, depth, item)


@dataclass
class Frame:
    """A call on the stack at the cursor, with what is known of its state there."""

    call: Call
    line: int | None
    returning: bool  # the cursor is at this call's return or unwind


def function_matches(fn: Function | None, pattern: str) -> bool:
    """`name`, `module.name` or `module:name` name a function (a breakpoint's target)."""
    if fn is None:
        return False
    if pattern in (fn.name, fn.label):
        return True
    if fn.module and fn.name:
        return pattern in (f"{fn.module}.{fn.name}", f"{fn.module}:{fn.name}")
    return False


class Replay:
    """A cursor over a trace's steps; every move returns the new position or raises
    ReplayError and leaves the cursor where it was."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.parents: dict[int, Call | None] = {}
        per_lane = [list(_lane_steps(lane, self.parents)) for lane in trace.lanes.values()]
        self.steps: list[Step] = list(heapq.merge(*per_lane, key=lambda s: s.t))
        self.enter_at: dict[int, int] = {}
        self.exit_at: dict[int, int] = {}
        self.crash_at: dict[int, int] = {}  # lane id -> its first crash step
        for index, step in enumerate(self.steps):
            if step.kind == CALL:
                self.enter_at[id(step.call)] = index
            elif step.kind in (RETURN, UNWIND):
                self.exit_at[id(step.call)] = index
            elif step.kind == CRASH:
                self.crash_at.setdefault(step.lane.id, index)
        self.breakpoints: list[str] = []
        self.pos = 0
        if not self.steps:
            raise ReplayError("the trace recorded no events to replay")

    # -- where we are ----------------------------------------------------------------

    @property
    def step(self) -> Step:
        return self.steps[self.pos]

    def _move(self, index: int | None, why: str) -> int:
        if index is None:
            raise ReplayError(why)
        self.pos = index
        return index

    def _scan(self, start: int, stop: int, direction: int, lane: Lane, depth: int) -> int | None:
        for index in range(start, stop, direction):
            step = self.steps[index]
            if step.lane is lane and step.depth <= depth:
                return index
        return None

    # -- forward -----------------------------------------------------------------------

    def forward(self) -> int:
        """`step`: the next event on this lane, into calls."""
        here = self.step
        found = next((i for i in range(self.pos + 1, len(self.steps))
                      if self.steps[i].lane is here.lane), None)
        return self._move(found, "at the last event of this lane")

    def over(self) -> int:
        """`next`: the next event on this lane at this depth or above (over calls)."""
        here = self.step
        if here.kind == CALL and id(here.call) in self.exit_at:
            return self._move(self.exit_at[id(here.call)], "")
        found = self._scan(self.pos + 1, len(self.steps), 1, here.lane, here.depth)
        return self._move(found, "at the last event of this lane at this depth")

    def out(self) -> int:
        """`finish`: the return of the current frame (of its caller if already there)."""
        frame = self.step.call
        if frame is not None and self.exit_at.get(id(frame), -1) <= self.pos:
            frame = self.parents.get(id(frame))
        if frame is None:
            raise ReplayError("no enclosing call to finish")
        found = self.exit_at.get(id(frame))
        return self._move(found, f"{frame.label} was still running when the trace ended")

    # -- backward ----------------------------------------------------------------------

    def backward(self) -> int:
        """`reverse-step`: the previous event on this lane."""
        here = self.step
        found = next((i for i in range(self.pos - 1, -1, -1)
                      if self.steps[i].lane is here.lane), None)
        return self._move(found, "at the first event of this lane")

    def back_over(self) -> int:
        """`reverse-next`: the previous event on this lane at this depth or above."""
        here = self.step
        if here.kind in (RETURN, UNWIND):
            return self._move(self.enter_at[id(here.call)], "")
        found = self._scan(self.pos - 1, -1, -1, here.lane, here.depth)
        return self._move(found, "at the first event of this lane at this depth")

    def back_out(self) -> int:
        """`reverse-finish`: where the current frame was called (its caller's call if
        already there)."""
        frame = self.step.call
        if frame is not None and self.enter_at.get(id(frame), self.pos) >= self.pos:
            frame = self.parents.get(id(frame))
        if frame is None:
            raise ReplayError("no enclosing call to go back to")
        return self._move(self.enter_at[id(frame)], "")

    # -- jumps -------------------------------------------------------------------------

    def goto(self, index: int) -> int:
        """Event number `index` (negative counts from the end, like Python)."""
        if index < 0:
            index += len(self.steps)
        if not 0 <= index < len(self.steps):
            raise ReplayError(f"no event {index}: the trace has events 0 to {len(self.steps) - 1}")
        return self._move(index, "")

    def at_time(self, t: int) -> int:
        """The first event at or after `t` ns since the trace started; past the last event
        is an error (jumping to the end silently would hide a mistyped time)."""
        last = len(self.steps) - 1
        if t > self.steps[last].t:
            raise ReplayError(f"no event at or after {format_duration_ns(t)}: the trace's "
                              f"last event is #{last} at {format_duration_ns(self.steps[last].t)}")
        lo, hi = 0, len(self.steps)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.steps[mid].t < t:
                lo = mid + 1
            else:
                hi = mid
        return self._move(min(lo, len(self.steps) - 1), "")

    def first_exception(self) -> int:
        """The first exception raised (else the first unwind, else the first crash)."""
        for wanted in ((EXCEPTION, "raised"), (UNWIND, None), (CRASH, None)):
            for index, step in enumerate(self.steps):
                if step.kind == wanted[0] and (wanted[1] is None or step.item.kind == wanted[1]):
                    return self._move(index, "")
        raise ReplayError("no exception was recorded in this trace")

    def _breaks(self, step: Step) -> bool:
        return step.kind == CALL and any(function_matches(step.call.fn, p)
                                         for p in self.breakpoints)

    def resume(self) -> int:
        """`continue`: the next call of a breakpoint's function (else the last event)."""
        found = next((i for i in range(self.pos + 1, len(self.steps))
                      if self._breaks(self.steps[i])), None)
        if found is None and self.pos == len(self.steps) - 1:
            raise ReplayError("at the end of the trace")
        return self._move(found if found is not None else len(self.steps) - 1, "")

    def reverse_resume(self) -> int:
        """`reverse-continue`: the previous call of a breakpoint's function (else event 0)."""
        found = next((i for i in range(self.pos - 1, -1, -1) if self._breaks(self.steps[i])),
                     None)
        if found is None and self.pos == 0:
            raise ReplayError("at the start of the trace")
        return self._move(found if found is not None else 0, "")

    def add_breakpoint(self, pattern: str) -> int:
        """Break on calls to `pattern`; returns how many calls in the trace match."""
        if not any(function_matches(fn, pattern) for fn in self.trace.functions.values()):
            raise ReplayError(f"no function named {pattern!r} in this trace")
        if pattern not in self.breakpoints:
            self.breakpoints.append(pattern)
        return sum(1 for s in self.steps
                   if s.kind == CALL and function_matches(s.call.fn, pattern))

    # -- state -------------------------------------------------------------------------

    def frames(self) -> list[Frame]:
        """The call stack at the cursor, outermost first."""
        step = self.step
        frames: list[Frame] = []
        call = step.call
        innermost = True
        while call is not None:
            line = None
            if innermost and step.kind == EXCEPTION:
                line = step.item.line
            elif call.outcome == UNWOUND and (not innermost or step.kind == UNWIND
                                               or self.pos > self.enter_at.get(id(call), 0)):
                line = call.line
            elif call.outcome == OPEN and self.pos >= self.crash_at.get(step.lane.id,
                                                                         len(self.steps)):
                line = call.line  # where it was when the process crashed
            frames.append(Frame(call, line, innermost and step.kind in (RETURN, UNWIND)))
            innermost = False
            call = self.parents.get(id(call))
        frames.reverse()
        return frames

    def function_names(self) -> list[str]:
        return sorted({fn.name for fn in self.trace.functions.values() if fn.name})

    def state(self) -> dict:
        """The cursor's position as JSON-ready data (the shape `replay --json` prints)."""
        step = self.step
        return {
            "index": self.pos,
            "events": len(self.steps),
            "t": step.t,
            "lane": {"id": step.lane.id, "name": step.lane.name},
            "event": step_json(step),
            "stack": [frame_json(f) for f in self.frames()],
        }


def step_json(step: Step) -> dict:
    out: dict[str, Any] = {"kind": step.kind, "depth": step.depth}
    if step.call is not None:
        out["function"] = step.call.label
    if step.kind == RETURN and step.call.value is not NO_VALUE:
        out["value"] = step.call.value
    elif step.kind == UNWIND:
        out["line"] = step.call.line
        out["error"] = step.call.error.to_json() if step.call.error is not None else None
    elif step.kind == EXCEPTION:
        item = step.item
        out.update(exception_kind=item.kind, type=item.type, message=item.message,
                   line=item.line)
    elif step.item is not None:  # an event, crash or stack record, as `orion show` has it
        out["record"] = step.item.to_json()
    return out


def frame_json(frame: Frame) -> dict:
    call = frame.call
    fn = call.fn
    out: dict[str, Any] = {
        "function": call.label,
        "module": fn.module if fn is not None else None,
        "file": fn.file if fn is not None else None,
        "def_line": fn.line if fn is not None else None,
        "line": frame.line,
        "start": call.start,
        "args": call.args,
        "locals": call.locals,
    }
    if frame.returning:
        out["outcome"] = call.outcome
        if call.value is not NO_VALUE:
            out["value"] = call.value
        if call.outcome == UNWOUND and call.error is not None:
            out["error"] = call.error.to_json()
    elif call.outcome == OPEN:
        out["outcome"] = OPEN
    return out

