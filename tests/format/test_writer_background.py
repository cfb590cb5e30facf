"""TraceWriter(background=N): frames compressed on the writer's own thread, same file."""

from __future__ import annotations

import io
import time

import pytest

from orion.format import TraceReader, TraceWriter
from orion.format.decode import decode_records


def write(sink, background: int, batch_bytes: int = 400) -> dict:
    w = TraceWriter(sink, language="python", trace_id="ab" * 16, start_ns=1,
                    batch_bytes=batch_bytes, background=background)
    lane = w.lane("MainThread")
    for i in range(2000):
        w.call(2 * i, lane, w.function(f"f{i % 7}", "app", "app.py", i % 7))
        w.ret(2 * i + 1, lane, i)
    summary = w.close(status="ok", exit_code=0)
    return summary


def test_background_compression_writes_the_same_bytes_as_inline(tmp_path):
    inline, queued = io.BytesIO(), io.BytesIO()
    assert write(inline, 0) == write(queued, 2)
    assert queued.getvalue() == inline.getvalue()  # same frames, in order (many of them)
    path = tmp_path / "t.otrace"
    path.write_bytes(queued.getvalue())
    with TraceReader(path) as reader:
        recs = list(decode_records(reader.records()))
    assert sum(r["type"] == "return" for r in recs) == 2000


def test_a_flushed_frame_reaches_the_file_without_close(tmp_path):
    path = tmp_path / "live.otrace"
    with open(path, "wb") as sink:
        w = TraceWriter(sink, language="python", start_ns=1, background=4)
        header_size = path.stat().st_size  # the header frame is written synchronously
        assert header_size > 0
        lane = w.lane("MainThread")
        w.call(1, lane, w.function("f", "app", "app.py", 1))
        w.flush()
        deadline = time.monotonic() + 5
        while path.stat().st_size == header_size and time.monotonic() < deadline:
            time.sleep(0.01)
        with TraceReader(path) as reader:  # a killed process leaves this much
            types = [r["type"] for r in decode_records(reader.records())]
        assert types[-1] == "call"
        w.close()


class FailingSink(io.BytesIO):
    def __init__(self) -> None:
        super().__init__()
        self.fail = False

    def write(self, data):
        if self.fail:
            raise OSError("disk full")
        return super().write(data)


def test_a_write_error_on_the_thread_surfaces_on_the_writer():
    sink = FailingSink()
    w = TraceWriter(sink, language="python", start_ns=1, batch_bytes=100, background=1)
    sink.fail = True
    lane = w.lane("MainThread")
    with pytest.raises(OSError, match="disk full"):
        for i in range(10_000):
            w.call(i, lane, w.function("f", "app", "app.py", 1))
            time.sleep(0)
