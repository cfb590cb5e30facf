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
from array import array
from dataclasses import dataclass
from typing import Any, Iterator

from ..format.writer import NO_VALUE
from ..model import (OPEN, UNWOUND, Call, Crash, Event, Function, Lane, Raised, Stack, Trace,
                     caller_line)
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


def _lane_steps(lane: Lane, index: int) -> Iterator[tuple[int, int, str, Any, int]]:
    """A lane's steps in time order as (t, lane index, kind, call or item, depth), walking
    its forest without recursion."""

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
                yield (owner.end, index, UNWIND if owner.outcome == UNWOUND else RETURN, owner,
                       depth - 1)
            continue
        if isinstance(item, Call):
            yield item.start, index, CALL, item, depth
            stack.append((items(item.children, item.exceptions, item.events), item, depth + 1))
        elif isinstance(item, Raised):
            yield item.t, index, EXCEPTION, item, depth
        elif isinstance(item, Crash):
            yield item.t, index, CRASH, item, depth
        elif isinstance(item, Stack):
            yield item.t, index, STACK, item, depth
        elif isinstance(item, Event):
            yield item.t, index, EVENT, item, depth


KINDS = (CALL, RETURN, UNWIND, EXCEPTION, EVENT, CRASH, STACK)
KIND_CODES = {kind: code for code, kind in enumerate(KINDS)}
CALL_CODE, RETURN_CODE, UNWIND_CODE, EXCEPTION_CODE, _, CRASH_CODE, _ = range(len(KINDS))


class Steps:
    """Every step of a trace in time order, in flat arrays (a few dozen bytes a step, so
    that a trace of millions of calls can be replayed); `steps[i]` makes a Step.

    `frame[i]` is the index of the call step of the frame step i belongs to (for a call
    step, its caller's), -1 outside every call; `partner[i]` pairs a call step with its
    return or unwind, -1 for a call still open when the trace ended. `refs[i]` is the
    call of a call, return or unwind step, else its item (here: objects of a whole tree;
    `orion.analysis.trace_index.IndexedSteps` makes them from the file when asked).
    """

    def __init__(self, lanes: list[Lane]) -> None:
        self._start(lanes)
        self.refs: list[Any] = []
        walks = [_lane_steps(lane, index) for index, lane in enumerate(lanes)]
        for _, lane_index, kind, ref, depth in heapq.merge(*walks, key=lambda s: s[0]):
            self._append(lane_index, KIND_CODES[kind], depth)
            self.refs.append(ref)
        del self._open

    def _start(self, lanes: list[Lane]) -> None:
        self.lanes = lanes
        self.kinds = bytearray()
        self.depths = array("i")
        self.lane_of = array("i")
        self.frame = array("q")
        self.partner = array("q")
        self._open: list[list[int]] = [[] for _ in lanes]  # call steps open, per lane

    def _append(self, lane_index: int, code: int, depth: int) -> None:
        """Add the next step in time order, pairing calls with their returns."""
        i = len(self.kinds)
        stack = self._open[lane_index]
        enclosing = stack[-1] if stack else -1
        partner = -1
        if code == CALL_CODE:
            stack.append(i)
        elif code == RETURN_CODE or code == UNWIND_CODE:
            partner = stack.pop()
            self.partner[partner] = i
            enclosing = self.frame[partner]
        self.kinds.append(code)
        self.depths.append(depth)
        self.lane_of.append(lane_index)
        self.frame.append(enclosing)
        self.partner.append(partner)

    def __len__(self) -> int:
        return len(self.kinds)

    def call_index(self, i: int) -> int:
        """The call step of the frame step i is in (-1: outside every call)."""
        code = self.kinds[i]
        if code == CALL_CODE:
            return i
        if code == RETURN_CODE or code == UNWIND_CODE:
            return self.partner[i]
        return self.frame[i]

    def time(self, i: int) -> int:
        code = self.kinds[i]
        ref = self.refs[i]
        if code == CALL_CODE:
            return ref.start
        if code == RETURN_CODE or code == UNWIND_CODE:
            return ref.end
        return ref.t

    def function(self, i: int) -> Function | None:
        """The function of call step i (breakpoints look at every call: no Call made)."""
        return self.refs[i].fn

    def is_last_call(self, i: int) -> bool:
        """Whether call step i is the last call its caller made."""
        call = self.refs[i]
        caller = self.frame[i]
        return caller >= 0 and bool(self.refs[caller].children) \
            and self.refs[caller].children[-1] is call

    def __getitem__(self, i: int) -> Step:
        if i < 0:
            i += len(self)
        code = self.kinds[i]
        owner = self.call_index(i)
        is_call = code <= UNWIND_CODE
        return Step(KINDS[code], self.time(i), self.lanes[self.lane_of[i]],
                    self.refs[owner] if owner >= 0 else None, self.depths[i],
                    None if is_call else self.refs[i])


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

    def __init__(self, trace: Trace, steps: Steps | None = None) -> None:
        self.trace = trace
        self.steps = steps if steps is not None else Steps(list(trace.lanes.values()))
        if not len(self.steps):
            raise ReplayError("the trace recorded no events to replay")
        self.crash_at: dict[int, int] = {}  # lane index -> its first crash step
        crash = self.steps.kinds.find(CRASH_CODE)
        while crash >= 0:
            self.crash_at.setdefault(self.steps.lane_of[crash], crash)
            crash = self.steps.kinds.find(CRASH_CODE, crash + 1)
        self.breakpoints: list[str] = []
        self.pos = 0

    # -- where we are ----------------------------------------------------------------

    @property
    def step(self) -> Step:
        return self.steps[self.pos]

    def _move(self, index: int | None, why: str) -> int:
        if index is None or index < 0:
            raise ReplayError(why)
        self.pos = index
        return index

    def _same_lane(self, start: int, stop: int, direction: int,
                   depth: int | None = None) -> int | None:
        """The first step from `start` towards `stop` on the cursor's lane (at `depth`
        or above, if given)."""
        steps = self.steps
        lane = steps.lane_of[self.pos]
        for index in range(start, stop, direction):
            if steps.lane_of[index] == lane and (depth is None or steps.depths[index] <= depth):
                return index
        return None

    # -- forward -----------------------------------------------------------------------

    def forward(self) -> int:
        """`step`: the next event on this lane, into calls."""
        found = self._same_lane(self.pos + 1, len(self.steps), 1)
        return self._move(found, "at the last event of this lane")

    def over(self) -> int:
        """`next`: the next event on this lane at this depth or above (over calls)."""
        steps = self.steps
        if steps.kinds[self.pos] == CALL_CODE and steps.partner[self.pos] >= 0:
            return self._move(steps.partner[self.pos], "")
        found = self._same_lane(self.pos + 1, len(steps), 1, steps.depths[self.pos])
        return self._move(found, "at the last event of this lane at this depth")

    def out(self) -> int:
        """`finish`: the return of the current frame (of its caller if already there)."""
        steps = self.steps
        frame = steps.call_index(self.pos)
        if frame >= 0 and steps.partner[frame] <= self.pos:
            frame = steps.frame[frame]
        if frame < 0:
            raise ReplayError("no enclosing call to finish")
        return self._move(steps.partner[frame],
                          f"{steps.refs[frame].label} was still running when the trace ended")

    # -- backward ----------------------------------------------------------------------

    def backward(self) -> int:
        """`reverse-step`: the previous event on this lane."""
        found = self._same_lane(self.pos - 1, -1, -1)
        return self._move(found, "at the first event of this lane")

    def back_over(self) -> int:
        """`reverse-next`: the previous event on this lane at this depth or above."""
        steps = self.steps
        if steps.kinds[self.pos] in (RETURN_CODE, UNWIND_CODE):
            return self._move(steps.partner[self.pos], "")
        found = self._same_lane(self.pos - 1, -1, -1, steps.depths[self.pos])
        return self._move(found, "at the first event of this lane at this depth")

    def back_out(self) -> int:
        """`reverse-finish`: where the current frame was called (its caller's call if
        already there)."""
        steps = self.steps
        frame = steps.call_index(self.pos)
        if frame >= self.pos:
            frame = steps.frame[frame]
        return self._move(frame, "no enclosing call to go back to")

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
        steps = self.steps
        last = len(steps) - 1
        if t > steps.time(last):
            raise ReplayError(f"no event at or after {format_duration_ns(t)}: the trace's "
                              f"last event is #{last} at {format_duration_ns(steps.time(last))}")
        lo, hi = 0, len(steps)
        while lo < hi:
            mid = (lo + hi) // 2
            if steps.time(mid) < t:
                lo = mid + 1
            else:
                hi = mid
        return self._move(lo, "")

    def first_exception(self) -> int:
        """The first exception raised (else the first unwind, else the first crash)."""
        steps = self.steps
        index = steps.kinds.find(EXCEPTION_CODE)
        while index >= 0 and steps.refs[index].kind != "raised":
            index = steps.kinds.find(EXCEPTION_CODE, index + 1)
        for found in (index, steps.kinds.find(UNWIND_CODE), steps.kinds.find(CRASH_CODE)):
            if found >= 0:
                return self._move(found, "")
        raise ReplayError("no exception was recorded in this trace")

    def _breaks(self, index: int) -> bool:
        return self.steps.kinds[index] == CALL_CODE and any(
            function_matches(self.steps.function(index), p) for p in self.breakpoints)

    def resume(self) -> int:
        """`continue`: the next call of a breakpoint's function (else the last event)."""
        found = next((i for i in range(self.pos + 1, len(self.steps)) if self._breaks(i)), None)
        if found is None and self.pos == len(self.steps) - 1:
            raise ReplayError("at the end of the trace")
        return self._move(found if found is not None else len(self.steps) - 1, "")

    def reverse_resume(self) -> int:
        """`reverse-continue`: the previous call of a breakpoint's function (else event 0)."""
        found = next((i for i in range(self.pos - 1, -1, -1) if self._breaks(i)), None)
        if found is None and self.pos == 0:
            raise ReplayError("at the start of the trace")
        return self._move(found if found is not None else 0, "")

    def add_breakpoint(self, pattern: str) -> int:
        """Break on calls to `pattern`; returns how many calls in the trace match."""
        if not any(function_matches(fn, pattern) for fn in self.trace.functions.values()):
            raise ReplayError(f"no function named {pattern!r} in this trace")
        if pattern not in self.breakpoints:
            self.breakpoints.append(pattern)
        steps = self.steps
        return sum(1 for i in range(len(steps)) if steps.kinds[i] == CALL_CODE
                   and function_matches(steps.function(i), pattern))

    # -- state -------------------------------------------------------------------------

    def frames(self) -> list[Frame]:
        """The call stack at the cursor, outermost first."""
        steps = self.steps
        step = self.step
        crash_at = self.crash_at.get(steps.lane_of[self.pos], len(steps))
        frames: list[Frame] = []
        index, child, child_index = steps.call_index(self.pos), None, -1
        while index >= 0:
            call = steps.refs[index]
            line = None
            if child is not None:  # where it made the call that is open below it
                line = caller_line(call, child, self.trace.modules.values(),
                                   steps.is_last_call(child_index))
            elif step.kind == EXCEPTION:
                line = step.item.line
            elif call.outcome == UNWOUND and (step.kind == UNWIND or self.pos > index):
                line = call.line
            elif call.outcome == OPEN and self.pos >= crash_at:
                line = call.line  # where it was when the process crashed
            frames.append(Frame(call, line, child is None and step.kind in (RETURN, UNWIND)))
            index, child, child_index = steps.frame[index], call, index
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

