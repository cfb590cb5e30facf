"""The index's pass in C (orion/analysis/_index.c) against the Python pass it stands in
for: the same columns, the same records given to the model in the same order, the same
replay; and what it does not check as the reader would, left to the Python pass."""

from __future__ import annotations

import msgpack
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orion.analysis import trace_index
from orion.analysis.replay import Replay, ReplayError
from orion.analysis.trace_index import _Indexer, _open, open_indexed
from orion.format import constants as C
from orion.format.errors import TraceError
from orion.format.frames import FrameDecompressor, iter_frames
from orion.format.reader import TraceReader

from ..format.test_untrusted import header_payload, write
from .test_replay import states
from .trees import PROGRAM, write_program

pytestmark = pytest.mark.skipif(trace_index._index is None,
                                reason="orion.analysis._index is not built")


def indexed(path, how: str):
    """(the indexer, its steps) from one pass: `observe` (Python) or `scan` (C)."""
    indexer = _Indexer()
    return indexer, _open(path, indexer, getattr(indexer, how))


def assert_same_index(path) -> None:
    python, steps = indexed(path, "observe")
    scanned, scanned_steps = indexed(path, "scan")
    assert (steps is None) == (scanned_steps is None)
    if steps is None:
        return
    manifest, columns = python.cache_parts()
    assert scanned.cache_parts()[0] == manifest
    assert [bytes(c) for c in scanned.cache_parts()[1]] == [bytes(c) for c in columns]
    assert scanned.call_records == python.call_records
    assert scanned.decoder.strings == python.decoder.strings
    assert sorted(scanned_steps._kept) == sorted(steps._kept)
    try:
        expected = states(Replay(steps.trace, steps))
    except ReplayError:
        return
    assert states(Replay(scanned_steps.trace, scanned_steps)) == expected


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(PROGRAM, st.booleans(), st.booleans())
def test_the_c_pass_indexes_as_the_python_pass(tmp_path_factory, steps, native, ring):
    """Frames of 64 bytes: calls held back in one frame are handed on in a later one."""
    path = tmp_path_factory.mktemp("t") / "t.otrace"
    write_program(path, steps, native, ring=ring)
    assert_same_index(path)


def test_the_reader_is_handed_only_what_the_model_needs(tmp_path):
    """A quiet call (it returned, nothing raised in it) is never unpacked in Python."""
    path = tmp_path / "t.otrace"
    write_program(path, [(0, "call f"), (0, "call g"), (0, "return"), (0, "call h"),
                         (0, "raise"), (0, "unwind"), (0, "return")], native=False)
    with TraceReader(path) as reader:
        every = [rec[0] for rec in reader.records()]
    scanner = _Indexer()
    with TraceReader(path) as reader:
        handed = [rec[0] for rec in scanner.scan(reader, reader.records())]
    assert every.count(C.CALL) == 3 and every.count(C.RETURN) == 2
    # f, the lane's first call, goes at once; h is handed on when it raises; g never
    assert handed.count(C.CALL) == 2 and handed.count(C.RETURN) == 1
    assert len(handed) == len(every) - 2
    assert_same_index(path)


def _trace(tmp_path, name: str, quiet_call: bytes, then_corrupt: bool):
    """A trace whose second call (quiet: it returns) is the given raw record; with
    `then_corrupt`, a record the reader refuses later in the same frame."""
    body = b"".join(msgpack.packb(r) for r in [
        [C.STRING, 1, "f"], [C.FUNCTION, 0, 1, None, None, 1], [C.LANE, 0, 1, None, None, None],
        [C.CALL, 5, 0, 0, []]]) + quiet_call + b"".join(msgpack.packb(r) for r in [
            [C.RETURN, 1, 0, 1], [C.EXCEPTION, 1, 0, 0, None, "boom", 3],
            [C.UNWIND, 1, 0, 3, None]])
    if then_corrupt:
        body += msgpack.packb([C.EXCEPTION, 1, 0, "raised", None, "boom", 3])
    return write(tmp_path, name, header_payload(), body)


QUIET_CALLS = {
    "a float time delta": msgpack.packb([C.CALL, 1.5, 0, 0, []]),
    "invalid UTF-8 in an argument": b"\x95\x04\x01\x00\x00\x91\xa2\xff\xfe",
    "an ext type in an argument": msgpack.packb([C.CALL, 1, 0, 0, [msgpack.ExtType(5, b"x")]]),
    "a map key that is a list": b"\x95\x04\x01\x00\x00\x91\x81\x91\x01\x02",
    "an argument that is not a list": msgpack.packb([C.CALL, 1, 0, 0, 7]),
    "a lane that is a string": msgpack.packb([C.CALL, 1, "main", 0, []]),
    "a function id past 32 bits": msgpack.packb([C.CALL, 1, 0, 2**40, []]),
    "a site of nil": msgpack.packb([C.CALL, 1, 0, 0, [], None]),
    "a time before its caller's": msgpack.packb([C.CALL, -3, 0, 0, []]),
    "nesting past 512 levels": b"\x95\x04\x01\x00\x00\x91" + b"\x91" * 600 + b"\x01",
    "nesting past msgpack's limit": b"\x95\x04\x01\x00\x00\x91" + b"\x91" * 1100 + b"\x01",
    "nesting of 100 levels": b"\x95\x04\x01\x00\x00\x91" + b"\x91" * 100 + b"\x01",
    "an ordinary call": msgpack.packb([C.CALL, 1, 0, 0, [[0, 1, "x"]]]),
}


@pytest.mark.parametrize("then_corrupt", [False, True])
@pytest.mark.parametrize("what", QUIET_CALLS)
def test_what_the_c_pass_does_not_check_is_left_to_the_python_pass(tmp_path, monkeypatch,
                                                                  what, then_corrupt):
    """open_indexed gives what the Python pass gives: the same index (or None), or the
    same one-line error naming the record (the first of the two, in file order)."""
    path = _trace(tmp_path, "t", QUIET_CALLS[what], then_corrupt)

    def outcome():
        try:
            steps = open_indexed(path, cache=False)
        except TraceError as exc:
            return str(exc)
        return None if steps is None else states(Replay(steps.trace, steps))

    monkeypatch.setenv("ORION_INDEX_PASS", "python")
    expected = outcome()
    monkeypatch.delenv("ORION_INDEX_PASS")
    assert outcome() == expected
    if what == "an ordinary call" and not then_corrupt:
        assert isinstance(expected, list)
        assert_same_index(path)


def _frames(path) -> tuple[bytes, list[tuple[bool, bytes]]]:
    """The file's prelude, and each frame: (skippable, its bytes decompressed or as is)."""
    data = path.read_bytes()
    inflate = FrameDecompressor()
    return data[:C.PRELUDE_SIZE], [
        (frame.skippable, data[frame.offset:frame.offset + frame.size] if frame.skippable
         else inflate.decompress(data, frame)) for frame in iter_frames(data, C.PRELUDE_SIZE)]


def _outcome(path, monkeypatch, index_pass: str):
    monkeypatch.setenv("ORION_INDEX_PASS", index_pass)
    try:
        steps = open_indexed(path, cache=False)
    except TraceError as exc:
        return str(exc)
    if steps is None:
        return None
    try:
        replay = Replay(steps.trace, steps)
        replay.first_exception()
        return len(steps), replay.state()
    except (ReplayError, TraceError) as exc:  # a step decoded on demand may be the corrupt one
        return len(steps), str(exc)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_a_damaged_record_reads_the_same_through_either_pass(tmp_path_factory, monkeypatch,
                                                             data):
    """Bytes changed in a frame's msgpack (then compressed again): the C pass gives what
    the Python pass gives, the same replay or the same error; it never reads past a
    buffer or crashes (run under valgrind by hand: clean)."""
    path = tmp_path_factory.mktemp("t") / "t.otrace"
    steps = [(0, "call f"), (0, "call g"), (0, "return"), (1, "call h"), (0, "call h"),
             (0, "raise"), (0, "catch"), (0, "call g"), (0, "event"), (0, "return"),
             (0, "return"), (1, "return"), (0, "call f"), (0, "raise"), (0, "unwind"),
             (0, "stack"), (0, "crash")]
    write_program(path, steps * 2, native=data.draw(st.booleans()))
    prelude, frames = _frames(path)
    body = [n for n, (skippable, payload) in enumerate(frames) if not skippable and payload]
    target = data.draw(st.sampled_from(body))
    damaged = bytearray(frames[target][1])
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(damaged) - 1))
        damaged[at] = data.draw(st.one_of(st.integers(0, 255), st.sampled_from(
            [0xc0, 0xc1, 0xca, 0xcb, 0xd3, 0xdc, 0xdd, 0xde, 0x91, 0xa1, 0xd9, 0xff])))
    frames[target] = (False, bytes(damaged))
    compress = zstandard.ZstdCompressor(write_content_size=True).compress
    path.write_bytes(prelude + b"".join(payload if skippable else compress(payload)
                                        for skippable, payload in frames))
    assert _outcome(path, monkeypatch, "c") == _outcome(path, monkeypatch, "python")
