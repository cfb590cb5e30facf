"""Hostile files: every malformed byte becomes a one-line TraceError naming the file."""

from __future__ import annotations

import struct
import subprocess
import sys

import msgpack
import pytest
import zstandard

from orion.format import CorruptTrace, TraceReader
from orion.format import reader as reader_module
from orion.format.errors import OutOfMemory
from orion.format.constants import MAX_CONTAINER_LEN
from orion.format.writer import prelude_bytes


def frame(payload: bytes) -> bytes:
    return zstandard.ZstdCompressor(write_content_size=True).compress(payload)


def write(tmp_path, name: str, *payloads: bytes):
    path = tmp_path / f"{name}.otrace"
    path.write_bytes(prelude_bytes() + b"".join(frame(p) for p in payloads))
    return path


def header_payload() -> bytes:
    return msgpack.packb([0, {"format": "otrace", "version": [1, 0]}])


def empty_lists(n: int) -> bytes:
    """A msgpack array of n empty lists: n + 5 bytes on the wire, ~64 n bytes decoded."""
    return b"\xdd" + struct.pack(">I", n) + b"\x90" * n


def read_all(path) -> list:
    with TraceReader(path) as reader:
        return list(reader.records())


def test_a_container_longer_than_the_limit_is_refused_before_it_is_built(tmp_path):
    path = write(tmp_path, "long", header_payload(),
                 b"\x92\x01" + empty_lists(MAX_CONTAINER_LEN + 1))
    with pytest.raises(CorruptTrace) as info:
        read_all(path)
    assert str(path) in str(info.value)
    assert f"more than {MAX_CONTAINER_LEN:,} items" in str(info.value)


def test_nested_containers_are_counted_in_a_frame_bigger_than_agents_write(tmp_path):
    """5,000 arrays of 1,000 empty lists: each container is short, but together they would
    take gigabytes; the frame is refused while they are counted."""
    nested = b"\xdd" + struct.pack(">I", 5000) + (b"\xdc" + struct.pack(">H", 1000)
                                                   + b"\x90" * 1000) * 5000
    path = write(tmp_path, "nested", header_payload(), b"\x92\x01" + nested)
    with pytest.raises(CorruptTrace) as info:
        read_all(path)
    assert str(path) in str(info.value) and "arrays and maps in one frame" in str(info.value)


def test_a_container_at_the_limit_reads(tmp_path):
    # an extension record (type 64): readers check no columns of it, only its size
    path = write(tmp_path, "at-limit", header_payload(),
                 b"\x93\x40" + msgpack.packb(0) + empty_lists(MAX_CONTAINER_LEN))
    records = read_all(path)
    assert len(records[1][2]) == MAX_CONTAINER_LEN


def test_maps_are_bounded_too(tmp_path):
    n = MAX_CONTAINER_LEN + 1
    payload = b"\x92\x01\xdf" + struct.pack(">I", n) + b"\xc0\x90" * n
    path = write(tmp_path, "map", header_payload(), payload)
    with pytest.raises(CorruptTrace, match="more than"):
        read_all(path)


def test_running_out_of_memory_names_the_file(tmp_path, monkeypatch):
    """Nesting can still multiply capped containers, and the caller may hold the memory: a
    MemoryError is a TraceError naming the file, never called corruption."""
    path = write(tmp_path, "nested", header_payload(), msgpack.packb([1, 0, "x"]))

    class Exhausted:
        def feed(self, data):
            pass

        def __iter__(self):
            raise MemoryError

    monkeypatch.setattr(reader_module, "_unpacker", lambda size: Exhausted())
    with pytest.raises(OutOfMemory) as info:
        read_all(path)
    assert not isinstance(info.value, CorruptTrace)
    assert str(path) in str(info.value) and "ran out of memory" in str(info.value)


@pytest.mark.parametrize("tail", [b"\x92\x01", b"\x93\x01\x02", b"\xa5ab", b"\xcd\x01",
                                  b"\x81\xc0", b"\xdc\x00"])
def test_a_frame_that_ends_inside_a_record_is_an_error_naming_the_frame(tmp_path, tail):
    body = msgpack.packb([1, 0, "x"])
    path = write(tmp_path, "partial", header_payload(), body + tail)
    offset = len(prelude_bytes()) + len(frame(header_payload()))
    with pytest.raises(CorruptTrace) as info:
        read_all(path)
    assert f"frame at byte {offset} ends partway through a record" in str(info.value)
    assert str(path) in str(info.value)


def test_stray_bytes_after_the_end_record_fail_validation(tmp_path):
    from orion.format.validate import validate_trace
    from tests.format.test_summary_types import write_with_summary

    path = write_with_summary(tmp_path / "t.otrace")
    with TraceReader(path) as reader:
        records = list(reader.records())
    end = msgpack.packb(records[-1])
    strayed = write(tmp_path, "stray", header_payload(), end + b"\x92")
    with pytest.raises(CorruptTrace, match="ends partway through a record"):
        validate_trace(strayed)


def _trace_with_a_value_nested(tmp_path, depth: int):
    """A call whose argument is a map nested `depth` levels deep (agents stop at 2 or 3)."""
    from orion.format.writer import TraceWriter

    value = {"t": "int", "text": "1"}
    for _ in range(depth):
        value = {"t": "HashMap", "entries": [[{"t": "str", "text": "k"}, value]]}
    path = tmp_path / f"nested-{depth}.otrace"
    with open(path, "wb") as sink:
        writer = TraceWriter(sink, language="java", agent="test", agent_version="0", mode="dev")
        lane = writer.lane("main", "thread", None, None)
        writer.call(1, lane, writer.function("f", None, "F.java", 1),
                    writer.encode_pairs({"m": value}))
        writer.ret(2, lane)
        writer.close()
    return path


def test_a_captured_value_nested_past_the_limit_is_refused_in_one_line(tmp_path):
    """Every reader walking a value recurses once per level (validation, JSON output): a
    hostile depth is a corrupt record, not a RecursionError."""
    from orion.format.constants import MAX_VALUE_DEPTH
    from orion.format.decode import decode_records

    def decoded(path):
        with TraceReader(path) as reader:
            return list(decode_records(reader.records()))

    at_limit = decoded(_trace_with_a_value_nested(tmp_path, MAX_VALUE_DEPTH - 1))
    assert [r for r in at_limit if r["type"] == "call"]
    deep = _trace_with_a_value_nested(tmp_path, 200)
    with pytest.raises(CorruptTrace, match=f"nested deeper than {MAX_VALUE_DEPTH} levels"):
        decoded(deep)
    for command in (["validate"], ["show"], ["replay", "--json"]):
        done = subprocess.run([sys.executable, "-m", "orion", *command, str(deep)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
        output = (done.stdout + done.stderr).strip().splitlines()
        assert any(f"nested deeper than {MAX_VALUE_DEPTH} levels" in line for line in output)
        assert "RecursionError" not in done.stdout + done.stderr
