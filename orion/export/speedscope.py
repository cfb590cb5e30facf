"""The `speedscope` export: a speedscope file with one evented profile per lane
(https://www.speedscope.app), so that its time-order view shows each call when it ran
and its left-heavy and sandwich views aggregate them.

Each call opens ("O") and closes ("C") its function's frame at its own start and end, in
nanoseconds since the trace started. A frame is a function: its name (`module:function`,
as in flame graphs), file and line. A lane whose recording began inside calls (a ring
window) opens one `(outside the recorded window)` frame per such call at its first event.

Memory stays bounded whatever the trace's size: events are packed into per-lane arrays,
spilled to per-lane temporary files once many are held, and copied into the document
lane by lane at the end.
"""

from __future__ import annotations

import tempfile
from array import array
from pathlib import Path
from typing import BinaryIO

from .. import __version__
from ..analysis.flame import frame_name
from ..model import OUTSIDE_LABEL
from ..render.jsonout import dumps
from .spans import LaneItem, Opened, Span, SpanStream

SCHEMA = "https://www.speedscope.app/file-format-schema.json"
SPILL_EVENTS = 1 << 18  # events held in memory, over all lanes, before spilling to disk
CLOSE = 1  # low bit of a packed event: frame * 2 + (0 open, 1 close)


class _Lane:
    """One lane's events as (frame * 2 + close, at) pairs in an int64 array, the older
    ones in a temporary file."""

    def __init__(self, directory: Path, lane_id: int) -> None:
        self.events = array("q")
        self.file = directory / f"{lane_id}.bin"
        self.spilled = False
        self.first: int | None = None
        self.last = 0
        self.outside = 0  # frames open when the recording began

    def add(self, frame: int, close: int, at: int) -> None:
        self.events.append(frame * 2 + close)
        self.events.append(at)
        if self.first is None:
            self.first = at
        self.last = max(self.last, at)

    def spill(self) -> None:
        if self.events:
            with open(self.file, "ab") as out:
                self.events.tofile(out)
            self.events = array("q")
            self.spilled = True

    def chunks(self):
        """The packed events in order, in chunks of bounded size."""
        if self.spilled:
            with open(self.file, "rb") as f:
                while chunk := f.read(SPILL_EVENTS * 8):
                    yield array("q", chunk)
        yield self.events


def write(path: Path, out: BinaryIO) -> None:
    frames: dict[tuple, int] = {}  # (name, file, line) -> index
    lanes: dict[int, _Lane] = {}
    with tempfile.TemporaryDirectory(prefix="orion-speedscope-") as scratch, \
            SpanStream(path) as stream:
        held = 0

        def lane_of(lane_id: int) -> _Lane:
            lane = lanes.get(lane_id)
            if lane is None:
                lane = lanes[lane_id] = _Lane(Path(scratch), lane_id)
            return lane

        for item in stream.items(opens=True):
            if isinstance(item, LaneItem):
                continue
            span = item.span if isinstance(item, Opened) else item
            lane = lane_of(span.lane)
            frame = _frame(frames, span)
            if isinstance(item, Opened):
                lane.add(frame, 0, span.start)
            else:
                if span.fn is None:  # it began before the recording
                    lane.outside += 1
                lane.add(frame, CLOSE, span.end)
            held += 1
            if held >= SPILL_EVENTS:
                for each in lanes.values():
                    each.spill()
                held = 0
        out.write(('{"$schema":' + dumps(SCHEMA) + ',"name":'
                   + dumps(str(stream.header.get("trace_id") or path.stem))
                   + ',"exporter":"orion","version":' + dumps(__version__)
                   + ',"activeProfileIndex":0,"shared":{"frames":'
                   + dumps([_frame_json(key) for key in frames]) + '},"profiles":[')
                  .encode("utf-8"))
        outside = frames.get((OUTSIDE_LABEL, None, None))
        for number, (lane_id, lane) in enumerate(sorted(lanes.items())):
            name = stream.lanes[lane_id].name if lane_id in stream.lanes else f"lane {lane_id}"
            start = lane.first or 0
            out.write((("," if number else "") + '{"type":"evented","name":' + dumps(name)
                       + ',"unit":"nanoseconds","startValue":' + str(start)
                       + ',"endValue":' + str(lane.last) + ',"events":[').encode("utf-8"))
            opened = [f'{{"type":"O","frame":{outside},"at":{start}}}'] * lane.outside
            _write_events(out, opened, lane)
            out.write(b"]}")
        out.write(b"]}\n")


def _write_events(out: BinaryIO, opened: list[str], lane: _Lane) -> None:
    first = True
    for text in opened:
        out.write(("" if first else ",").encode() + text.encode())
        first = False
    for chunk in lane.chunks():
        parts = [f'{{"type":"{"C" if packed & CLOSE else "O"}","frame":{packed >> 1},'
                 f'"at":{at}}}' for packed, at in zip(chunk[::2], chunk[1::2])]
        if parts:
            out.write((("" if first else ",") + ",".join(parts)).encode("utf-8"))
            first = False


def _frame(frames: dict[tuple, int], span: Span) -> int:
    fn = span.fn
    key = ((frame_name(fn.qualified), fn.file, fn.line) if fn is not None
           else (OUTSIDE_LABEL, None, None))
    index = frames.get(key)
    if index is None:
        index = frames[key] = len(frames)
    return index


def _frame_json(key: tuple) -> dict:
    name, file, line = key
    frame: dict = {"name": name}
    if file:
        frame["file"] = file
    if isinstance(line, int):
        frame["line"] = line
    return frame
