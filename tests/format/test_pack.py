"""orion.format._pack packs what the writer writes byte for byte as msgpack does (the
writer falls back to msgpack when the extension is not built, and readers of either kind
of file must not tell them apart)."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orion.format.writer import TraceWriter

pack = pytest.importorskip("orion.format._pack").pack
MSGPACK = msgpack.Packer(use_bin_type=True, unicode_errors="replace").pack

SCALARS = st.one_of(
    st.none(), st.booleans(), st.floats(allow_nan=False),
    st.integers(min_value=-(1 << 63), max_value=(1 << 64) - 1),
    st.sampled_from([0, 127, 128, 255, 256, 65535, 65536, (1 << 32) - 1, 1 << 32, -32, -33,
                     -128, -129, -32768, -32769, -(1 << 31), -(1 << 31) - 1]),
    st.text(max_size=300), st.binary(max_size=300),
    st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=3))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=20), st.lists(inner, max_size=20).map(tuple),
    st.dictionaries(st.one_of(st.text(max_size=10), st.integers(-(1 << 63), (1 << 64) - 1)),
                    inner, max_size=20)),
    max_leaves=60)


@settings(max_examples=500)
@given(VALUES)
def test_packs_as_msgpack_does(value):
    assert pack(value) == MSGPACK(value)


@pytest.mark.parametrize("size", [15, 16, 31, 32, 255, 256, 65535, 65536])
def test_lengths_at_every_header_boundary(size):
    for value in ("x" * size, b"x" * size, [0] * size, {i: 0 for i in range(size)}):
        assert pack(value) == MSGPACK(value)


def test_nan_and_subclasses_pack_as_their_base_types():
    import enum

    class Level(enum.IntEnum):
        HIGH = 3

    class Label(str):
        pass

    for value in (float("nan"), float("-inf"), Level.HIGH, Label("x"), bytearray(b"ab")):
        assert pack(value) == MSGPACK(value)


@pytest.mark.parametrize("value, error", [(1 << 64, OverflowError), (-(1 << 63) - 1, OverflowError),
                                          (object(), TypeError), ({1, 2}, TypeError)])
def test_refuses_what_msgpack_refuses(value, error):
    with pytest.raises(error):
        MSGPACK(value)
    with pytest.raises(error):
        pack(value)


def test_a_nesting_deeper_than_msgpack_allows_is_refused():
    deep: list = []
    for _ in range(600):
        deep = [deep]
    with pytest.raises(ValueError):
        pack(deep)


def test_the_writer_writes_the_same_file_either_way(tmp_path, monkeypatch):
    """A trace written through the extension and one through msgpack are the same bytes."""
    import orion.format.writer as writer

    def write(path):
        with open(path, "wb") as sink:
            w = TraceWriter(sink, trace_id="ab" * 16, start_ns=1, language="python",
                            agent="test", process={"pid": 1, "argv": ["x\udcff"]})
            lane = w.lane("main")
            fid = w.function("f", "m", "m.py", 3)
            w.call(5, lane, fid, [w.string("n"), 3])
            w.ret(9, lane, {"k": [1.5, None, True, b"\x00"]})
            w.close(status="ok", exit_code=0)
        return path.read_bytes()

    with_extension = write(tmp_path / "a.otrace")
    monkeypatch.setattr(writer, "record_packer", lambda: MSGPACK)
    assert write(tmp_path / "b.otrace") == with_extension


INT64 = st.integers(min_value=-(1 << 62), max_value=(1 << 62))


@settings(max_examples=300)
@given(st.lists(st.tuples(st.integers(0, 200), INT64, st.lists(SCALARS, max_size=40)),
                min_size=1, max_size=4), INT64)
def test_rebasing_a_chunk_moves_the_first_delta_alone(records, shift):
    """What TraceWriter.append_packed does to a chunk the C hook packed."""
    from orion.format._pack import rebase_first

    data = b"".join(MSGPACK([code, delta, *rest]) for code, delta, rest in records)
    code, delta, rest = records[0]
    expected = MSGPACK([code, delta + shift, *rest]) + data[len(MSGPACK([code, delta, *rest])):]
    assert rebase_first(data, shift) == expected


@pytest.mark.parametrize("data", [b"", b"\x01", b"\x92\x01", b"\x92\x01\xc0", b"\x81\x01\x02"])
def test_rebasing_what_is_no_record_is_refused(data):
    from orion.format._pack import rebase_first

    with pytest.raises(ValueError):
        rebase_first(data, 1)
