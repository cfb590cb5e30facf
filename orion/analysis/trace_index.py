"""A trace indexed in flat arrays, for `orion replay` and `orion show --json` in memory
that grows ~8x slower than the whole tree's (about 35 bytes a step, two steps a call,
instead of half a kilobyte a call).

The file is read once, two things done with each record:

1. a pruned `load_trace` (`InterestingCalls`) keeps only the calls the model works
   something out for: those that unwound, raised or caught, or still ran when the trace
   ended, with their exceptions (errors, the failing path, crash lines, error-mode
   locals), plus the lanes, functions, modules and crashes;
2. `_Indexer`, through load_trace's `observe` hook, records every step (call, return,
   unwind, exception, event, crash, stack): kind, time, lane, depth, and which record of
   the file it is; `IndexedSteps` merges the lanes by time. It also decides what the
   model is given: a call's records only once something in it (an exception, a crash,
   an unwind) needs it, so that the model never sees the quiet calls it would drop.

A step's call or item is made from its record when it is looked at (`steps.refs[i]`,
its frame inflated again), taking the kept call's outcome, error, line and locals where
there is one; quiet calls are whole from their call and return records. So what replay
and show print is the same as from the whole tree.

The pass is done in C when orion.analysis._index was built (`_Indexer.scan`): it walks
each frame's msgpack bytes, fills the same columns and hands the reader only the records
`observe` would pass on to the model, so that the quiet calls, nearly all of a big trace,
never become Python objects (~10x less CPU). What it does not check exactly as the
reader would, it leaves to the Python pass (`_Unscannable`).

Steps are the whole tree's walk: per lane depth first, each call's calls, exceptions and
events in time order; lanes merged by time. That is the file's order when times never go
back within a call; a lane where they do, or a return with no call open (a frame from
before a ring window, which adopts what came before it), is left to the whole tree
(`open_indexed` returns None).
"""

from __future__ import annotations

import heapq
import os
import struct
import threading
from array import array
from bisect import bisect_right
from itertools import repeat
from operator import itemgetter
from typing import Any, Callable, Iterator

from ..format import constants as C
from ..format.decode import Decoder
from ..format.errors import OutOfMemory, TraceError
from ..format.frames import FrameDecompressor, frame_at
from ..format.reader import FileBytes, TraceReader, _unpacker, open_regular
from ..format.writer import NO_VALUE
from ..model import (RETURNED, Call, Crash, Event, Function, Lane, Raised, Stack, Trace,
                     load_trace)
from . import index_cache
from .replay import CALL_CODE, KIND_CODES, RETURN_CODE, UNWIND_CODE, Replay, Steps

try:
    from . import _index
except ImportError:  # not built (no C compiler at install): the pass is Python's
    _index = None

EXCEPTION_CODE, EVENT_CODE = KIND_CODES["exception"], KIND_CODES["event"]
CRASH_CODE, STACK_CODE = KIND_CODES["crash"], KIND_CODES["stack"]
ITEM_CODES = {C.EXCEPTION: EXCEPTION_CODE, C.EVENT: EVENT_CODE, C.CRASH: CRASH_CODE,
              C.STACK: STACK_CODE}
# The order the tree walk gives things at one time within a call: its calls, then its
# exceptions, then its events (crashes and stacks are events there).
PRIORITY = {C.CALL: 0, C.EXCEPTION: 1, C.EVENT: 2, C.CRASH: 2, C.STACK: 2}
NO_SITE = -(2 ** 63)
HAS_EVENTS = 1  # flags of a call step: events (or crashes, stacks) directly inside it
CACHE_SIZE = 4096  # calls and items made from records, kept for the next look
ROWS_AT_ONCE = 1 << 14  # steps held as tuples (all lanes') before they go into the columns
# For orion.analysis._index: the step kind of each record type up to the event
SCANNED_KINDS = bytes(CALL_CODE if code == C.CALL else RETURN_CODE if code == C.RETURN
                      else UNWIND_CODE if code == C.UNWIND else ITEM_CODES.get(code, 0)
                      for code in range(C.EVENT + 1))


class InterestingCalls:
    """A `Pruner` that keeps the calls a quiet one (it returned, nothing raised or caught
    in or below it) is not, with their exceptions and the stack records of failures; it
    numbers calls in file order (`kept`: call number -> Call) for the index to find them.
    """

    def __init__(self) -> None:
        self.calls = 0
        self.open: dict[int, list[int]] = {}  # lane id -> numbers of its open calls
        self.kept: dict[int, Call] = {}
        self.before_window = False  # a return with no call open was read

    def opened(self, lane: Lane) -> bool:
        self.open.setdefault(lane.id, []).append(self.calls)
        self.calls += 1
        return False  # attached when it closes, if kept (no arguments decoded)

    def closed(self, lane: Lane, call: Call, caller: Call | None) -> None:
        numbers = self.open.get(lane.id)
        if not numbers or len(numbers) <= len(lane.stack):
            self.before_window = True
            return
        number = numbers.pop()
        if not call.quiet:
            _attach(lane, call, caller)
            self.kept[number] = call

    def keep(self, lane: Lane, item: Raised | Event | Crash | Stack,
             owner: Call | None) -> bool:
        return isinstance(item, (Raised, Crash)) or (isinstance(item, Stack)
                                                     and item.reason != "sample")

    def ended(self, lane: Lane) -> None:
        numbers = self.open.get(lane.id, [])
        if len(numbers) != len(lane.stack):
            self.before_window = True
            return
        for depth, (call, number) in enumerate(zip(lane.stack, numbers)):
            _attach(lane, call, lane.stack[depth - 1] if depth else None)
            self.kept[number] = call


def _attach(lane: Lane, call: Call, caller: Call | None) -> None:
    if caller is None:
        lane.roots.append(call)
    elif caller.children:
        caller.children.append(call)
    else:
        caller.children = [call]


class _Lane:
    """One lane's steps in file order while the index is read (then merged by time), with
    `frame` and `partner` (as `Steps` has them) in the lane's own step numbers. The latest
    steps are held as tuples (`rows`) and moved into the columns a few thousand at a time,
    packed by `struct`: an append to an array parses its argument as a format does, which
    made the appends of every step a fifth of the index's instructions."""

    __slots__ = ("index", "kinds", "times", "depths", "records", "aux", "flags", "frame",
                 "partner", "levels", "pending", "has_items", "rows", "base", "flagged")

    def __init__(self, index: int) -> None:
        self.index = index
        self.kinds = bytearray()
        self.times = array("q")
        self.depths = array("i")
        # 4-byte columns: a value past 2**31 (OverflowError) sends the trace to the whole tree
        self.records = array("i")  # record number in the file
        self.aux = array("i")  # call: function id; exception: its kind; crash: its number
        self.flags = bytearray()
        self.frame = array("i")
        self.partner = array("i")  # appended a step at a time: a return sets its call's
        # Per level (the lane, then each open call): [its call step, last time, priority,
        # its call's record number] of what came directly in it (the walk's order: see
        # `_Indexer.observe`)
        self.levels: list[list] = [[-1, None, 0, -1]]
        # The innermost open calls whose records the model has not been given yet: it
        # gets them only when something in them needs a call on its stack (see observe)
        self.pending: list[list] = []
        self.has_items = False  # events, crashes or stacks outside every call
        self.rows: list[tuple] = []  # (kind, time, depth, record, aux, frame) of each step
        self.base = 0  # steps already in the columns
        self.flagged: list[int] = []  # call steps with events directly in them (HAS_EVENTS)

    def flush(self) -> None:
        """The held steps into the columns (struct.error: a value a column cannot hold)."""
        if self.rows:
            kinds, times, depths, records, aux, frame = zip(*self.rows)
            self.kinds += bytes(kinds)
            for column, values in ((self.times, times), (self.depths, depths),
                                   (self.records, records), (self.aux, aux),
                                   (self.frame, frame)):
                column.frombytes(struct.pack(f"{len(values)}{column.typecode}", *values))
            self.base += len(self.rows)
            self.rows.clear()

    def finish(self) -> None:
        """Every step in the columns, and the flags column made."""
        self.flush()
        self.flags = bytearray(len(self.kinds))
        for step in self.flagged:
            self.flags[step] |= HAS_EVENTS


class IndexedSteps(Steps):
    """A trace's steps read from its file: arrays, and `refs[i]` made from records."""

    def __init__(self, trace: Trace, kept: dict[int, Call], lanes: list[_Lane],
                 buf: Any, frame_offsets: array, frame_starts: array,
                 decoder: Decoder, sites: dict[int, tuple[array, array]]) -> None:
        self._start(list(trace.lanes.values()))
        self.trace = trace
        self._sites = sites  # function -> record numbers and sites of its calls with one
        if len(lanes) == 1:  # the common case: the lane's arrays are the trace's
            lane = lanes[0]
            self.kinds, self.depths, self.times = lane.kinds, lane.depths, lane.times
            self.records, self.aux, self.flags = lane.records, lane.aux, lane.flags
            self.frame, self.partner = lane.frame, lane.partner
            column = _lane_column(len(trace.lanes))
            column.append(lane.index)
            self.lane_of = column * len(lane.kinds)
        else:
            self._merge(lanes)
        self._kept = kept  # record number of a kept call -> the call
        self._buf = buf
        self._frame_offsets = frame_offsets
        self._frame_starts = frame_starts
        self._inflate = FrameDecompressor()
        self._decoder = decoder
        self._frames: list[tuple[int, list]] = []  # (first record number, records)
        self.refs = _Refs(self)
        self.lanes_with_items = {lane.index for lane in lanes if lane.has_items}
        self._next_in_lane: array | None = None  # made when a lane is walked on its own
        self._first_in_lane: dict[int, int] = {}

    def _merge(self, lanes: list[_Lane]) -> None:
        """Lanes' steps merged by time, ties in lane order (as the whole tree's walk)."""
        self.times, self.records, self.aux = array("q"), array("i"), array("i")
        self.frame, self.partner = array("i"), array("i")
        self.lane_of = _lane_column(len(self.lanes))
        self.flags = bytearray()
        walks = [zip(lane.times, repeat(n), range(len(lane.kinds)))
                 for n, lane in enumerate(lanes)]
        for _, n, j in heapq.merge(*walks, key=itemgetter(0)):
            lane = lanes[n]
            self._append(lane.index, lane.kinds[j], lane.depths[j])
            self.times.append(lane.times[j])
            self.records.append(lane.records[j])
            self.aux.append(lane.aux[j])
            self.flags.append(lane.flags[j])
        del self._open

    def time(self, i: int) -> int:
        return self.times[i]

    def function(self, i: int) -> Function | None:
        return self.trace.function(self.aux[i])

    def is_last_call(self, i: int) -> bool:
        """No call follows call step i in its caller (its caller's next steps at its
        depth, up to the caller's return, are not calls)."""
        if self.frame[i] < 0:
            return False
        end = self.partner[i]
        if end < 0:
            return True  # open when the trace ended: nothing came after it
        lane, depth = self.lane_of[i], self.depths[i]
        kinds, depths, lane_of = self.kinds, self.depths, self.lane_of
        for j in range(end + 1, len(kinds)):
            if lane_of[j] == lane and depths[j] <= depth:
                if depths[j] < depth or kinds[j] in (RETURN_CODE, UNWIND_CODE):
                    return True
                if kinds[j] == CALL_CODE:
                    return False
        return True

    def calls_below(self, i: int) -> int:
        """How many calls call step i made, directly or not."""
        end = self.partner[i] if self.partner[i] >= 0 else len(self.kinds)
        if len(self.lanes) == 1:
            return self.kinds.count(CALL_CODE, i + 1, end)
        lane, kinds, lane_of = self.lane_of[i], self.kinds, self.lane_of
        return sum(1 for j in range(i + 1, end) if lane_of[j] == lane and kinds[j] == CALL_CODE)

    def items_in(self, i: int) -> list[int]:
        """The event, crash and stack steps directly in call step i (-1: outside every
        call, over all lanes), in order."""
        if i >= 0 and not self.flags[i] & HAS_EVENTS:
            return []
        end = self.partner[i] if i >= 0 and self.partner[i] >= 0 else len(self.kinds)
        depth = self.depths[i] + 1 if i >= 0 else 0
        lane = self.lane_of[i] if i >= 0 else -1
        found, j = [], i + 1
        kinds, depths, lane_of = self.kinds, self.depths, self.lane_of
        while j < end:
            if (lane < 0 or lane_of[j] == lane) and depths[j] == depth:
                if kinds[j] == CALL_CODE and self.partner[j] >= 0:
                    j = self.partner[j]  # over its calls
                elif kinds[j] >= EVENT_CODE:
                    found.append(j)
            j += 1
        return found

    def lane_steps(self, lane_index: int) -> Iterator[int]:
        """The steps of one lane, in order."""
        if len(self.lanes) == 1:
            return iter(range(len(self.kinds)))
        if self._next_in_lane is None:
            self._first_in_lane = {}
            self._next_in_lane = following = array("q", [-1]) * len(self.kinds)
            last: dict[int, int] = {}
            for j, lane in enumerate(self.lane_of):
                if lane in last:
                    following[last[lane]] = j
                else:
                    self._first_in_lane[lane] = j
                last[lane] = j
        return self._walk_lane(self._first_in_lane.get(lane_index, -1))

    def _walk_lane(self, j: int) -> Iterator[int]:
        while j >= 0:
            yield j
            j = self._next_in_lane[j]

    def lane_items(self, lane_index: int) -> list:
        """The events, crashes and stacks a lane recorded outside every call."""
        if lane_index not in self.lanes_with_items:
            return []
        return [self.refs[j] for j in self.lane_steps(lane_index)
                if self.depths[j] == 0 and self.kinds[j] >= EVENT_CODE]

    def call(self, i: int) -> Call:
        """The call of call step i with its events (what `orion show --json` prints of
        it; the kept calls of the pruned load hold only crashes and stacks), made anew:
        a walk over every call looks at each once."""
        call = self.make(i)
        if self.flags[i] & HAS_EVENTS:
            call.events = [self.refs[j] for j in self.items_in(i)]
        return call

    # -- records, read back ---------------------------------------------------------

    def record(self, number: int) -> list:
        """Record `number` of the file (times absolute), decoding its frame once."""
        for start, records in self._frames:  # the last two frames read
            if 0 <= number - start < len(records):
                return records[number - start]
        frame_index = bisect_right(self._frame_starts, number) - 1
        start = self._frame_starts[frame_index]
        records = frame_records(self._buf, self._frame_offsets[frame_index], self._inflate)
        self._frames = [(start, records), *self._frames[:1]]
        return records[number - start]

    def _site(self, fn: int, number: int) -> int:
        """The site of the call at record `number` to `fn`: that of the function's last
        call record with one, up to it (a record leaves out a site that did not change)."""
        changes = self._sites.get(fn)
        if changes is None:
            return NO_SITE
        at = bisect_right(changes[0], number) - 1
        return changes[1][at] if at >= 0 else NO_SITE

    def make(self, i: int) -> Any:
        """The call of call step i, or the item of step i, as the whole tree has it."""
        code = self.kinds[i]
        number = self.records[i]
        rec = self.record(number)
        decoder = self._decoder
        if code == CALL_CODE:
            call = self._kept.get(number)
            if call is None:  # quiet: it returned
                fn = self.trace.functions.get(rec[3]) or self.trace.function(rec[3])
                call = Call(fn, rec[1], None)
                end = self.record(self.records[self.partner[i]])
                call.end, call.outcome = end[1], RETURNED
                call.value = decoder.value(end[3]) if len(end) > 3 else NO_VALUE
            if len(rec) > 4:
                call.args = decoder.pairs(rec[4])
            site = self._site(rec[3], number)
            if site != NO_SITE and isinstance(call.fn.addr, int):
                call.site = call.fn.addr + site
            elif site != NO_SITE and site and call.fn.addr is None:  # Python: the line
                call.site = site
            return call
        lane_id = self.lanes[self.lane_of[i]].id
        if code == CRASH_CODE:
            return self.trace.crashes[self.aux[i]]
        d = decoder.record(rec)
        if code == EXCEPTION_CODE:
            return Raised(d["t"], d["kind"], d["exc_type"], d["message"], d["line"])
        if code == STACK_CODE:
            for crash in self.trace.crashes:  # a crash's own stack, with its lines placed
                if crash.stack is not None and crash.stack.t == d["t"] \
                        and crash.lane == lane_id:
                    return crash.stack
            frames = [(self.trace.function(f["fn"]), f["line"], f["locals"])
                      for f in d["frames"]]
            return Stack(d["t"], lane_id, d["reason"], frames)
        return Event(d["t"], d["kind"], d["attrs"])


def _read_column(cached: index_cache.Cached, empty: bytearray | array, size: int
                 ) -> bytearray | array:
    """A column of `size` items like `empty`, read from a cached index."""
    if size < 0:
        raise ValueError("a column of negative size")
    column = bytearray(size) if isinstance(empty, bytearray) else array(empty.typecode,
                                                                         [0]) * size
    cached.read_into(column)
    return column


def _lane_column(lanes: int) -> bytearray | array:
    """An empty column of lane numbers: a byte a step for up to 256 lanes."""
    return bytearray() if lanes <= 256 else array("i")


class _Refs:
    """`steps.refs[i]` of indexed steps: made from the file when asked, the last few
    thousand kept (so that a Step and its frames see the same Call objects)."""

    def __init__(self, steps: IndexedSteps) -> None:
        self.steps = steps
        self.cache: dict[int, Any] = {}

    def __getitem__(self, i: int) -> Any:
        steps = self.steps
        code = steps.kinds[i]
        if code == RETURN_CODE or code == UNWIND_CODE:
            i = steps.partner[i]
        found = self.cache.get(i)
        if found is None:
            if len(self.cache) >= CACHE_SIZE:
                self.cache.clear()
            found = self.cache[i] = steps.make(i)
        return found


def frame_records(buf: Any, offset: int, inflate: FrameDecompressor) -> list[list]:
    """The records of the frame at `offset`, with absolute times (as TraceReader gives)."""
    data = inflate.decompress(buf, frame_at(buf, offset))
    unpacker = _unpacker(len(data))
    unpacker.feed(data)
    records, t = [], 0
    for record in unpacker:
        if record[0] in C.TIMED_TYPES:
            t += record[1]
            record[1] = t
        records.append(record)
    return records


def _timed_records(data: bytes) -> Iterator[list]:
    """The msgpack records in `data`, timed ones with their deltas added up."""
    unpacker = _unpacker(len(data))
    unpacker.feed(data)
    t = 0
    for rec in unpacker:
        t += rec[1]
        rec[1] = t
        yield rec


def open_indexed(path: str | os.PathLike, cache: bool = True,
                 store_in_background: bool = False) -> IndexedSteps | None:
    """The trace at `path` indexed (None when its order needs the whole tree: see the
    module's docstring); TraceError as load_trace raises it.

    The pass over the records is orion.analysis._index's when it was built (~0.15 s of
    CPU a million events, against ~1.5 s in Python) unless $ORION_INDEX_PASS is
    `python`. The Python pass keeps the index of a big trace on disk, with `cache`
    (orion.analysis.index_cache: it takes ~0.7 s a million events from there, which the
    C pass beats), and takes it from there while the file is the same;
    `store_in_background` writes it from a daemon thread (~0.2 s for a million steps
    that a server need not make its page wait for; a command would exit before it is
    done)."""
    if _index is not None and os.environ.get("ORION_INDEX_PASS") != "python":
        try:
            indexer = _Indexer()
            steps = _open(path, indexer, indexer.scan)
            if steps is not None:
                return steps
            # Not indexable as the C pass reads it: the Python pass, which checks every
            # record it reads on the way, says so too, or names a corrupt record before it.
        except (_Unscannable, TraceError):
            pass  # the Python pass: the same index, or the error naming its record
    ident = None
    if cache:
        try:
            _, ident = index_cache.identity(path)
        except OSError:
            cache = False  # load_trace says what is wrong with the path
    cached = index_cache.load(path) if cache else None
    if cached is not None:
        try:
            indexer = _Indexer.from_cache(cached)
            steps = _open(path, indexer, indexer.replay_given)
        except (ValueError, TypeError, KeyError, OverflowError, _NotIndexable):
            steps = None
        finally:
            cached.close()
        if steps is not None and index_cache.identity(path)[1] == ident:
            return steps
    indexer = _Indexer()
    steps = _open(path, indexer, indexer.observe)
    if cache and steps is not None and len(steps) >= index_cache.MIN_STEPS:
        parts = (path, ident, *indexer.cache_parts())
        if store_in_background:
            threading.Thread(target=index_cache.store, args=parts, daemon=True,
                             name="orion-index-store").start()
        else:
            index_cache.store(*parts)
    return steps


def _open(path: str | os.PathLike, indexer: _Indexer, observe: Callable) -> IndexedSteps | None:
    """Read the trace's model, `observe` (one of the indexer's) seeing every record."""
    pruner = InterestingCalls()
    try:
        trace = load_trace(path, prune=pruner, observe=observe)
    except _NotIndexable:
        return None
    if pruner.before_window:
        return None
    kept = {indexer.call_records[number]: call for number, call in pruner.kept.items()}
    lane_index = {lane_id: n for n, lane_id in enumerate(trace.lanes)}
    for lane_id, lane in indexer.lanes.items():
        lane.index = lane_index[lane_id]
        trace.lanes[lane_id].calls = lane.kinds.count(CALL_CODE)  # the model was given some
        if lane.times:
            trace.end_t = max(trace.end_t, max(lane.times))
    lanes = sorted(indexer.lanes.values(), key=lambda lane: lane.index)
    with open_regular(path) as handle:  # the index reads records again from its own fd
        fd = os.dup(handle.fileno())
    buf = FileBytes(fd, os.fstat(fd).st_size, owned=True)
    try:
        steps = IndexedSteps(trace, kept, lanes, buf, indexer.frame_offsets,
                             indexer.frame_starts, indexer.decoder, indexer.sites)
    except OverflowError:  # over 2**31 steps: beyond the index's columns
        return None
    except MemoryError:
        raise OutOfMemory(str(path)) from None
    return steps


def open_replay(path: str | os.PathLike, store_in_background: bool = False) -> Replay:
    """A replay of the trace at `path`, indexed when it can be (see `open_indexed`)."""
    steps = open_indexed(path, store_in_background=store_in_background)
    if steps is None:
        return Replay(load_trace(path))
    return Replay(steps.trace, steps)


COLUMNS = ("kinds", "times", "depths", "records", "aux", "flags", "frame", "partner")


class _NotIndexable(Exception):
    """Raised through `load_trace` to stop reading a trace the index cannot hold."""


class _Unscannable(Exception):
    """Raised through `load_trace` when orion.analysis._index leaves a trace to the Python
    pass (something in it the C pass does not check as the reader would)."""


class _Indexer:
    """Takes every step of a trace as `load_trace` reads it (`observe`), in file order per
    lane, and where each frame's records start, to find a record again."""

    def __init__(self) -> None:
        self.lanes: dict[int, _Lane] = {}
        self.decoder = Decoder()  # its strings: to decode records read back
        self.call_records = array("q")  # call number -> its record number
        self.frame_offsets, self.frame_starts = array("q"), array("q")
        self.given = array("q")  # the records passed on to the model, in that order
        # function -> (record numbers, sites) of its call records that have a site
        self.sites: dict[int, tuple[array, array]] = {}

    def observe(self, reader: TraceReader, records: Iterator[list]) -> Iterator[list]:
        """Index every record, and pass on to the model only what it needs: a call's
        records are held back (`_Lane.pending`) until an exception, crash, stack or unwind
        in it needs the call on the model's stack, and a call that returns before that
        is never passed on (the pruned model would drop it: it is quiet). That keeps the
        model's work to the few calls it keeps; the lanes' call counts and the trace's end
        time, which it would have taken from them, are set by `open_indexed`.

        Steps are checked to be in the tree walk's order: within a call, by time, and at
        one time its calls, then exceptions, then events (`PRIORITY`); a return needs a
        call open. What is not raises _NotIndexable."""
        frame = -1
        number = crashes = 0
        sites = self.sites
        lanes, strings = self.lanes, self.decoder.strings
        call_records, frame_offsets, frame_starts = (self.call_records, self.frame_offsets,
                                                     self.frame_starts)
        give = self.given.append
        # Names looked up once (a million records: each lookup in the loop costs ~30 ms)
        STRING, CALL, RETURN, UNWIND = C.STRING, C.CALL, C.RETURN, C.UNWIND
        EXCEPTION, CRASH, EVENT = C.EXCEPTION, C.CRASH, C.EVENT
        call_code, return_code, unwind_code = CALL_CODE, RETURN_CODE, UNWIND_CODE
        priorities, item_codes = PRIORITY, ITEM_CODES
        held = 0  # steps held in the lanes' rows
        lane_id = None
        for rec in records:
            if reader.frame_offset != frame:
                frame = reader.frame_offset
                frame_offsets.append(frame)
                frame_starts.append(number)
            n = number  # this record's number
            number += 1
            code = rec[0]
            if not (code == CALL or code == RETURN or code == UNWIND or code in item_codes):
                if code == STRING:
                    strings[rec[1]] = rec[2]
                give(n)
                yield rec
                continue
            try:
                t = rec[1]
                if rec[2] != lane_id:  # another lane: its lists, bound once
                    lane_id = rec[2]
                    lane = lanes.get(lane_id)
                    if lane is None:
                        lane = lanes[lane_id] = _Lane(-1)
                    rows, levels, pending, partner = (lane.rows, lane.levels, lane.pending,
                                                      lane.partner)
                    add_row, add_partner, base = rows.append, partner.append, lane.base
                step = base + len(rows)
                given = True  # the record goes on to the model
                if code == CALL:
                    level = levels[-1]
                    last = level[1]
                    if last is not None and (t < last or t == last and level[2]):
                        raise _NotIndexable  # the tree walk would move it (see below)
                    level[1] = t
                    level[2] = 0
                    aux = rec[3]
                    if step:
                        pending.append(rec)
                        given = False
                    else:  # a lane's first call, given at once: the model makes
                        call_records.append(n)  # lanes in their order
                    if len(rec) > 5:
                        changes = sites.get(aux)
                        if changes is None:
                            changes = sites[aux] = (array("q"), array("q"))
                        changes[0].append(n)
                        changes[1].append(rec[5])
                    add_row((call_code, t, len(levels) - 1, n, aux, level[0]))
                    add_partner(-1)
                    levels.append([step, None, 0, n])
                elif code == RETURN or code == UNWIND:
                    if len(levels) == 1:
                        raise _NotIndexable  # a frame from before the window
                    if code == UNWIND and pending:
                        yield from self._give(lane)
                    elif pending:
                        pending.pop()  # quiet: the model never sees it
                        given = False
                    call = levels.pop()[0]
                    partner[call] = step
                    add_row((return_code if code == RETURN else unwind_code, t,
                             len(levels) - 1, n, 0, levels[-1][0]))
                    add_partner(call)
                else:
                    priority = priorities[code]
                    level = levels[-1]
                    last = level[1]
                    if last is not None and (t < last or t == last and priority < level[2]):
                        raise _NotIndexable  # the tree walk would move it
                    level[1] = t
                    level[2] = priority
                    kind = item_codes[code]
                    aux = rec[3] if code == EXCEPTION else crashes if code == CRASH else 0
                    crashes += code == CRASH
                    if code != EXCEPTION:
                        if level[0] >= 0:
                            lane.flagged.append(level[0])
                        else:
                            lane.has_items = True
                    if code != EVENT and pending:
                        yield from self._give(lane)
                    add_row((kind, t, len(levels) - 1, n, aux, level[0]))
                    add_partner(-1)
                held += 1
                if held == ROWS_AT_ONCE:
                    for each in lanes.values():
                        each.flush()
                    held, base = 0, lane.base
                if given:
                    give(n)
                    yield rec
            except (OverflowError, TypeError, IndexError, struct.error):
                raise _NotIndexable from None  # what a column cannot hold: the whole tree
        try:
            for lane in lanes.values():
                lane.finish()
        except struct.error:
            raise _NotIndexable from None
        for lane in lanes.values():  # calls still open at the end: the model keeps them
            yield from self._give(lane)

    def scan(self, reader: TraceReader, records: Iterator[list]) -> Iterator[list]:
        """`observe`'s work done in C, frame by frame, by orion.analysis._index: the
        reader is handed only the records the model needs (`observe` passes on the same,
        in the same order), so that no quiet call is unpacked into Python objects. The
        columns are the indexer's once the records are read; _Unscannable when the C pass
        leaves the trace to `observe`."""
        scanner = _index.Scanner(SCANNED_KINDS, C.MAX_CONTAINER_LEN)

        def handed_on(data: bytes, offset: int) -> bytes:
            if len(data) > C.COUNTED_FRAME:  # the reader counts containers in such frames
                raise _Unscannable
            try:
                return scanner.frame(data, offset)
            except _index.NotIndexable:
                raise _NotIndexable from None
            except _index.Unscannable:
                raise _Unscannable from None

        reader.frame_filter = handed_on
        strings = self.decoder.strings
        for rec in records:
            if rec[0] == C.STRING:
                strings[rec[1]] = rec[2]
            yield rec
        try:
            tail, lanes, sites, *columns = scanner.finish()
        except _index.NotIndexable:
            raise _NotIndexable from None
        self.frame_offsets, self.frame_starts, self.given, self.call_records = columns
        for lane_id, has_items, *lane_columns in lanes:
            lane = self.lanes[lane_id] = _Lane(-1)
            lane.has_items = bool(has_items)
            for name, column in zip(COLUMNS, lane_columns):
                setattr(lane, name, column)
        for _, fn, numbers, at in sites:
            self.sites[fn] = (numbers, at)
        yield from _timed_records(tail)  # calls still open at the end: the model keeps them

    def cache_parts(self) -> tuple[dict, list]:
        """The manifest and columns orion.analysis.index_cache keeps (see `from_cache`)."""
        manifest = {"frames": len(self.frame_offsets), "given": len(self.given),
                    "lanes": [[lane_id, lane.has_items, len(lane.kinds)]
                              for lane_id, lane in self.lanes.items()],
                    "sites": [[fn, len(numbers)] for fn, (numbers, _) in self.sites.items()]}
        columns = [self.frame_offsets, self.frame_starts, self.given]
        for lane in self.lanes.values():
            columns += [getattr(lane, name) for name in COLUMNS]
        for numbers, sites in self.sites.values():
            columns += [numbers, sites]
        return manifest, columns

    @classmethod
    def from_cache(cls, cached: index_cache.Cached) -> "_Indexer":
        """An indexer holding a cached index (`cache_parts`), to take the model's records
        from the file with `replay_given`; ValueError (or TypeError, KeyError) when the
        content is not the shape `cache_parts` gives."""
        indexer = cls()
        manifest = cached.manifest
        frames, given = int(manifest["frames"]), int(manifest["given"])
        indexer.frame_offsets = _read_column(cached, array("q"), frames)
        indexer.frame_starts = _read_column(cached, array("q"), frames)
        indexer.given = _read_column(cached, array("q"), given)
        for lane_id, has_items, steps in manifest["lanes"]:
            lane = indexer.lanes[int(lane_id)] = _Lane(-1)
            lane.has_items = bool(has_items)
            for name in COLUMNS:
                setattr(lane, name, _read_column(cached, getattr(lane, name), int(steps)))
        for fn, count in manifest["sites"]:
            indexer.sites[int(fn)] = (_read_column(cached, array("q"), int(count)),
                                      _read_column(cached, array("q"), int(count)))
        return indexer

    def replay_given(self, reader: TraceReader, records: Iterator[list]) -> Iterator[list]:
        """The records `observe` passed on to the model, in the order it did (a call's
        records come after what followed them in the file, up to what needed them),
        taken from the file by number; the strings read on the way."""
        order, strings = self.given, self.decoder.strings
        needed = bytearray(max(order, default=-1) + 1)  # a byte a record: few MB at most
        for number in order:
            needed[number] = 1
        held: dict[int, list] = {}
        position = 0
        for number, rec in enumerate(records):
            if number >= len(needed) or not needed[number]:
                continue
            if rec[0] == C.STRING:
                strings[rec[1]] = rec[2]
            held[number] = rec
            while position < len(order) and order[position] in held:
                wanted = order[position]
                rec = held.pop(wanted)
                if rec[0] == C.CALL:
                    self.call_records.append(wanted)
                position += 1
                yield rec
        if position != len(order):
            raise _NotIndexable  # the file is not the one the index was made from

    def _give(self, lane: _Lane) -> Iterator[list]:
        """The lane's held-back call records, for the model, outermost first (numbered
        in `call_records` in the order the model is given them, as it numbers them)."""
        pending, levels = lane.pending, lane.levels
        for level, rec in zip(levels[len(levels) - len(pending):], pending):
            self.call_records.append(level[3])
            self.given.append(level[3])
            yield rec
        pending.clear()
