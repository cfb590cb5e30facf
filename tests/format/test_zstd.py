"""The writer's zstd frames: through the system's libzstd (orion.format._zstd), else the
zstandard package; either way frames any zstd decoder reads, with size and checksum."""

from __future__ import annotations

import threading

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from orion.format.writer import frame_compressor

_zstd = pytest.importorskip("orion.format._zstd", reason="the C extension is not built")


def _decoded(frame: bytes) -> bytes:
    parameters = zstandard.get_frame_parameters(frame)
    assert parameters.has_checksum
    assert parameters.content_size == zstandard.frame_content_size(frame)
    return zstandard.ZstdDecompressor().decompress(frame)


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=200_000) | st.text(max_size=20_000).map(str.encode),
       level=st.integers(min_value=1, max_value=9))
def test_libzstd_frames_read_back_whole(data, level):
    frame = _zstd.Compressor(level).compress(data)
    assert zstandard.frame_content_size(frame) == len(data)
    assert _decoded(frame) == data


def test_the_writer_uses_libzstd_when_it_loads():
    compress = frame_compressor(3)
    assert isinstance(compress.__self__, _zstd.Compressor)
    assert _decoded(compress(b"abc" * 1000)) == b"abc" * 1000


def test_without_libzstd_the_writer_falls_back_to_the_zstandard_package(monkeypatch):
    monkeypatch.setenv("ORION_ZSTD_LIBRARY", "none")  # as compress.c reads it: load nothing
    with pytest.raises(OSError, match="libzstd"):
        _zstd.Compressor(3)
    compress = frame_compressor(3)
    assert isinstance(compress.__self__, zstandard.ZstdCompressor)
    assert _decoded(compress(b"xyz" * 1000)) == b"xyz" * 1000


def test_threads_sharing_a_compressor_each_get_their_own_frame():
    """The writer's compressing thread and a program thread closing the trace may compress
    at once (without the GIL): the context is used by one at a time."""
    compress = _zstd.Compressor(3).compress
    inputs = [bytes([n]) * 300_000 + bytes(range(256)) * n for n in range(8)]
    frames: dict[int, bytes] = {}

    def work(n: int) -> None:
        for _ in range(5):
            frames[n] = compress(inputs[n])

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [_decoded(frames[n]) for n in range(8)] == inputs


def test_what_is_not_bytes_is_refused():
    with pytest.raises(TypeError):
        _zstd.Compressor(3).compress("text")
