"""Small frames are written raw (zstd block type 0, spec section 3): valid zstd that every
reader decodes, so a short-lived traced process need not load a compressor."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from orion.format.reader import TraceReader
from orion.format.validate import validate_trace
from orion.format.writer import RAW_BELOW, raw_frame
from orion.spool import Spool
from tests.sample_traces import write_large_trace

@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=3000) | st.integers(0, 300_000).map(lambda n: bytes(n % 251 for n in range(n))))
def test_a_raw_frame_is_zstd_that_decodes_to_its_content(data):
    frame = raw_frame(data)
    assert zstandard.ZstdDecompressor().decompress(frame) == data
    assert zstandard.get_frame_parameters(frame).content_size == len(data)


@pytest.mark.skipif(shutil.which("zstd") is None, reason="the zstd command-line tool is absent")
def test_the_zstd_tool_reads_a_raw_frame():
    data = b"records " * 40_000  # several raw blocks of at most 128 KiB
    out = subprocess.run(["zstd", "-dc"], input=raw_frame(data), capture_output=True, check=True)
    assert out.stdout == data


def write_trace(spool: Spool, calls: int) -> Path:
    write_large_trace(spool, calls)
    [entry] = spool.entries()
    return entry.path


def test_a_small_trace_is_raw_a_large_one_compressed(tmp_path):
    small = write_trace(Spool(tmp_path / "small"), 3)
    large = write_trace(Spool(tmp_path / "large"), 200_000)
    for path in (small, large):
        assert validate_trace(path) == []
        with TraceReader(path) as reader:
            assert sum(1 for r in reader.records()) > 3
    # A raw frame's payload is the msgpack itself: the small trace's names are readable.
    assert b"app.py" in small.read_bytes()
    assert b"app.py" not in large.read_bytes()[:RAW_BELOW]
    assert large.stat().st_size < 200_000 * 4  # compressed: well under a few bytes a record
