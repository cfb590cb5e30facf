"""TraceWriter.append_packed: records packed outside the writer (the C hook's chunks) read
back exactly as if they had been written through call/ret/unwind."""

from __future__ import annotations

import io

import msgpack
from hypothesis import given, settings
from hypothesis import strategies as st

from orion.format import constants as C
from orion.format import TraceWriter
from orion.format.validate import validate_trace

from .test_roundtrip import read_events

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40))
FUNCTIONS = [("main", "app", "app.py", 1), ("f", "app", "app.py", 5), ("g", "lib", "lib.py", 9)]

events = st.one_of(
    st.tuples(st.just("call"), st.integers(0, 2), st.integers(0, 2),
              st.one_of(st.none(), st.lists(st.tuples(st.sampled_from("abc"), SCALARS),
                                            max_size=3))),
    st.tuples(st.just("return"), st.integers(0, 2), st.one_of(st.just("none"), SCALARS)),
    st.tuples(st.just("unwind"), st.integers(0, 2), st.integers(1, 500)),
    st.tuples(st.just("exception"), st.integers(0, 2), st.text(max_size=10)),
)


class Packer:
    """What the C hook does: timed records with deltas from its own clock, in a chunk."""

    def __init__(self) -> None:
        self.packer = msgpack.Packer(use_bin_type=True)
        self.last_t = 0
        self.reset()

    def reset(self) -> None:
        self.data = b""
        self.records = 0
        self.base_t = self.last_t
        self.max_t = 0
        self.counts = {"calls": 0, "returns": 0, "unwinds": 0}
        self.root = None

    def add(self, code: int, t: int, columns: list, count: str) -> None:
        self.data += self.packer.pack([code, t - self.last_t, *columns])
        self.last_t = t
        self.max_t = max(self.max_t, t)
        self.records += 1
        self.counts[count] += 1

    def drain(self, writer: TraceWriter) -> None:
        writer.append_packed(self.data, self.records, self.base_t, self.last_t, self.max_t,
                             self.counts, self.root)
        self.reset()


def write(sink, evs, times, cuts, batch_bytes: int, packed: bool) -> dict:
    w = TraceWriter(sink, language="python", trace_id="cd" * 16, start_ns=1, mode="dev",
                    batch_bytes=batch_bytes)
    lanes = [w.lane(f"lane{i}") for i in range(3)]
    p = Packer()
    for ev, t, cut in zip(evs, times, cuts):
        kind, lane = ev[0], lanes[ev[1]]
        if kind == "exception" or not packed:
            if packed:  # Python-side writes come after what was packed before them
                p.drain(w)
        if kind == "call":
            if packed:
                p.drain(w)  # definitions are Python-side writes
            fn = w.function(*FUNCTIONS[ev[2]])
            args = None if ev[3] is None else [x for n, v in ev[3] for x in (w.string(n), v)]
            if packed:
                p.root = fn if p.root is None and w._root is None else p.root
                p.add(C.CALL, t, [lane, fn] + ([] if args is None else [args]), "calls")
            else:
                w.call(t, lane, fn, args)
        elif kind == "return":
            if packed:
                p.add(C.RETURN, t, [lane] + ([] if ev[2] == "none" else [ev[2]]), "returns")
            else:
                w.ret(t, lane) if ev[2] == "none" else w.ret(t, lane, ev[2])
        elif kind == "unwind":
            if packed:
                p.add(C.UNWIND, t, [lane, ev[2]], "unwinds")
            else:
                w.unwind(t, lane, ev[2])
        else:
            w.exception(t, lane, "ValueError", ev[2], line=3)
        if packed and cut:
            p.drain(w)
    if packed:
        p.drain(w)
    summary = w.close(status="ok")
    summary.pop("checksum")
    return summary


@settings(max_examples=150, deadline=None)
@given(data=st.data(), evs=st.lists(events, max_size=40),
       batch_bytes=st.sampled_from([1, 48, 4096, 1 << 20]))
def test_packed_records_read_back_as_written_by_the_normal_methods(tmp_path_factory, data,
                                                                    evs, batch_bytes):
    steps = data.draw(st.lists(st.integers(0, 10**6), min_size=len(evs), max_size=len(evs)))
    times = [sum(steps[: i + 1]) for i in range(len(evs))]
    cuts = data.draw(st.lists(st.booleans(), min_size=len(evs), max_size=len(evs)))
    out = {}
    for packed in (False, True):
        path = tmp_path_factory.mktemp("ap") / "t.otrace"
        with open(path, "wb") as sink:
            summary = write(sink, evs, times, cuts, batch_bytes, packed)
        problems = [str(p) for p in validate_trace(path)]  # random streams need not nest
        out[packed] = (read_events(path)[0], summary, problems)
    assert out[True] == out[False]


def test_first_delta_is_rebased_after_a_frame_flush():
    sink = io.BytesIO()
    w = TraceWriter(sink, language="python", batch_bytes=1 << 20)
    fn = w.function("f")
    w.call(1000, w.lane("main"), fn)
    w.flush()  # the next frame's clock restarts at 0
    data = msgpack.packb([C.RETURN, 500, 0]) + msgpack.packb([C.RETURN, 250, 0])
    w.append_packed(data, 2, 1000, 1750, 1750, {"returns": 2})
    assert w._buf.startswith(msgpack.packb([C.RETURN, 1500, 0]))
    summary = w.close()
    assert summary["counts"]["returns"] == 2 and summary["duration_ns"] == 1750
    assert summary["root"] == "f"


def test_nothing_to_append_changes_nothing():
    w = TraceWriter(io.BytesIO(), language="python")
    records = w._counts["records"]
    w.append_packed(b"", 0, 0, 0, 0, {})
    assert w._counts["records"] == records and not w._buf
