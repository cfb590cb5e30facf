"""A file cut at any byte: every complete frame reads back, nothing but TraceError escapes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orion.format import TraceError, TraceReader, TraceWriter
from orion.format.constants import PRELUDE_SIZE
from orion.format.frames import iter_frames
from orion.format.reader import read_trailer
from orion.format.summary import read_summary


def sample_trace(path, batch_bytes: int = 300) -> bytes:
    with open(path, "wb") as sink:
        w = TraceWriter(sink, language="python", trace_id="cd" * 16, start_ns=5,
                        batch_bytes=batch_bytes)
        lane = w.lane("MainThread")
        t = 0
        for depth in range(60):
            t += 7
            w.call(t, lane, w.function(f"f{depth % 9}", "app", "app.py", depth),
                   w.encode_pairs({"depth": depth, "label": "x" * (depth % 13)}))
        w.exception(t + 1, lane, "RuntimeError", "deep")
        for depth in range(60):
            t += 5
            w.unwind(t, lane, depth, w.encode_pairs({"i": depth}))
        w.close(status="failed")
    return path.read_bytes()


def records_per_frame(data: bytes) -> list[tuple[int, int]]:
    """(end offset, records so far) for each complete zstd frame of a full file."""
    import msgpack
    import zstandard

    out, total = [], 0
    for frame in iter_frames(data, PRELUDE_SIZE):
        if frame.skippable:
            continue
        body = zstandard.ZstdDecompressor().decompress(data[frame.offset:frame.offset + frame.size])
        unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
        unpacker.feed(body)
        total += sum(1 for _ in unpacker)
        out.append((frame.offset + frame.size, total))
    return out


def read_all(path) -> tuple[list, TraceReader]:
    with TraceReader(path) as reader:
        return list(reader.records()), reader


def test_every_cut_offset_keeps_every_complete_frame(tmp_path):
    full_path = tmp_path / "full.otrace"
    data = sample_trace(full_path)
    frames = records_per_frame(data)
    assert len(frames) > 5, "the sample must span several frames"
    full_records, _ = read_all(full_path)
    cut_path = tmp_path / "cut.otrace"
    for offset in range(len(data) + 1):
        cut_path.write_bytes(data[:offset])
        expected = max((n for end, n in frames if end <= offset), default=0)
        try:
            records, reader = read_all(cut_path)
        except TraceError as exc:
            assert offset < PRELUDE_SIZE, f"cut at {offset}: {exc}"
            continue
        assert len(records) == expected, f"cut at {offset}"
        assert records == full_records[:expected]
        assert reader.complete == (offset >= frames[-1][0])
        if offset < frames[0][0]:  # not even the header frame: a documented error
            with pytest.raises(TraceError, match="no complete header frame"):
                read_summary(cut_path)
            continue
        summary = read_summary(cut_path)
        assert summary["complete"] == reader.complete
        if not reader.complete:
            assert summary["status"] == "incomplete"
            assert summary["trace_id"] == "cd" * 16
    assert read_trailer(full_path)["status"] == "failed"


@settings(max_examples=60, deadline=None)
@given(cut=st.integers(min_value=0), flips=st.lists(st.integers(min_value=0), max_size=3))
def test_damaged_files_raise_only_trace_errors(tmp_path_factory, cut, flips):
    path = tmp_path_factory.mktemp("dmg") / "t.otrace"
    data = bytearray(sample_trace(path, batch_bytes=200))
    data = data[: cut % (len(data) + 1)]
    for flip in flips:
        if data:
            data[flip % len(data)] ^= 0x5A
    path.write_bytes(bytes(data))
    try:
        read_all(path)
        read_summary(path)
    except TraceError:
        pass
