"""Writer -> reader round trips of random event streams (hypothesis)."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from orion.format import Decoder, TraceReader, TraceWriter

INT64 = st.integers(min_value=-(2**63), max_value=2**64 - 1)
TEXT = st.text(max_size=30)
TYPE_NAME = st.sampled_from(["list", "dict", "str", "Point", "bytes", "tuple"])
CUT = st.one_of(st.none(), st.integers(min_value=0, max_value=10**9))

scalars = st.one_of(st.none(), st.booleans(), INT64,
                    st.floats(allow_nan=False, allow_infinity=False), TEXT)


def _with_cut(node: dict, cut: int | None) -> dict:
    return node if cut is None else {**node, "cut": cut}


def _nodes(children):
    return st.one_of(
        st.builds(lambda t, s, c: _with_cut({"t": t, "text": s}, c), TYPE_NAME, TEXT, CUT),
        st.builds(lambda t, xs, c: _with_cut({"t": t, "items": xs}, c),
                  TYPE_NAME, st.lists(children, max_size=4), CUT),
        st.builds(lambda t, kv, c: _with_cut({"t": t, "entries": [list(p) for p in kv]}, c),
                  TYPE_NAME, st.lists(st.tuples(children, children), max_size=3), CUT),
        st.builds(lambda t, f, c: _with_cut({"t": t, "fields": f}, c),
                  TYPE_NAME, st.dictionaries(TEXT, children, max_size=3), CUT),
        st.builds(lambda t: {"t": t, "redacted": True}, TYPE_NAME),
        st.builds(lambda t: {"t": t, "elided": True}, TYPE_NAME),
        st.builds(lambda t, n: {"t": t, "elided": True, "len": n}, TYPE_NAME,
                  st.integers(0, 1000)),
        st.builds(lambda t, m: {"t": t, "error": m}, TYPE_NAME, TEXT),
    )


values = st.recursive(scalars, _nodes, max_leaves=12)
pairs = st.dictionaries(st.sampled_from(["a", "b", "self", "x", "password"]), values,
                        max_size=3)
times = st.integers(min_value=0, max_value=2**40)
lanes = st.integers(min_value=0, max_value=2)
functions = st.tuples(st.sampled_from(["main", "f", "g", "<lambda>"]),
                      st.sampled_from(["app", "lib"]), st.just("app.py"),
                      st.integers(1, 500))

events = st.one_of(
    st.tuples(st.just("call"), times, lanes, functions, st.one_of(st.none(), pairs)),
    st.tuples(st.just("return"), times, lanes, st.one_of(st.just("none"), values)),
    st.tuples(st.just("unwind"), times, lanes, st.integers(1, 500),
              st.one_of(st.none(), pairs)),
    st.tuples(st.just("exception"), times, lanes, st.sampled_from(["ValueError", "KeyError"]),
              TEXT, st.sampled_from(["raised", "caught"])),
    st.tuples(st.just("crash"), times, lanes, st.sampled_from(["signal", "uncaught"]),
              st.sampled_from(["SIGSEGV", "ValueError"]), TEXT),
    st.tuples(st.just("event"), times, lanes, st.sampled_from(["log", "marker"]),
              st.dictionaries(TEXT, st.one_of(TEXT, st.integers(0, 100)), max_size=2)),
)


def write_events(sink, evs, batch_bytes: int) -> None:
    w = TraceWriter(sink, language="python", trace_id="ab" * 16, start_ns=1, batch_bytes=batch_bytes)
    lane_ids = [w.lane(f"lane{i}") for i in range(3)]
    for ev in evs:
        kind, t, lane = ev[0], ev[1], lane_ids[ev[2]]
        if kind == "call":
            args = None if ev[4] is None else w.encode_pairs(ev[4])
            w.call(t, lane, w.function(*ev[3]), args)
        elif kind == "return":
            if ev[3] == "none":
                w.ret(t, lane)
            else:
                w.ret(t, lane, w.encode_value(ev[3]))
        elif kind == "unwind":
            w.unwind(t, lane, ev[3], None if ev[4] is None else w.encode_pairs(ev[4]))
        elif kind == "exception":
            w.exception(t, lane, ev[3], ev[4], kind=ev[5], line=7)
        elif kind == "crash":
            w.crash(t, lane, ev[3], ev[4], ev[5], {"signal": 11})
        else:
            w.event(t, lane, ev[3], ev[4])
    w.close()


def expected(ev) -> dict:
    kind, t, lane = ev[0], ev[1], ev[2]
    if kind == "call":
        out = {"type": "call", "t": t, "lane": lane,
               "fn": dict(zip(("name", "module", "file", "line"), ev[3]))}
        if ev[4] is not None:
            out["args"] = ev[4]
        return out
    if kind == "return":
        out = {"type": "return", "t": t, "lane": lane}
        if ev[3] != "none":
            out["value"] = ev[3]
        return out
    if kind == "unwind":
        out = {"type": "unwind", "t": t, "lane": lane, "line": ev[3]}
        if ev[4] is not None:
            out["locals"] = ev[4]
        return out
    if kind == "exception":
        return {"type": "exception", "t": t, "lane": lane, "kind": ev[5], "exc_type": ev[3],
                "message": ev[4], "line": 7}
    if kind == "crash":
        return {"type": "crash", "t": t, "lane": lane, "kind": ev[3], "reason": ev[4],
                "message": ev[5], "detail": {"signal": 11}}
    return {"type": "event", "t": t, "lane": lane, "kind": ev[3], "attrs": ev[4]}


def read_events(path) -> tuple[list[dict], TraceReader]:
    decoder = Decoder()
    functions: dict[int, dict] = {}
    out = []
    with TraceReader(path) as reader:
        for rec in reader.records():
            d = decoder.record(rec)
            if d["type"] == "function":
                functions[d["id"]] = {k: d[k] for k in ("name", "module", "file", "line")}
            elif d["type"] == "call":
                out.append({**d, "fn": functions[d["fn"]]})
            elif d["type"] in ("return", "unwind", "exception", "crash", "event"):
                out.append(d)
    return out, reader


@settings(max_examples=150, deadline=None)
@given(evs=st.lists(events, max_size=40), batch_bytes=st.sampled_from([1, 64, 4096, 1 << 20]))
def test_random_event_streams_round_trip_exactly(tmp_path_factory, evs, batch_bytes):
    path = tmp_path_factory.mktemp("rt") / "t.otrace"
    with open(path, "wb") as sink:
        write_events(sink, evs, batch_bytes)
    got, reader = read_events(path)
    assert reader.complete and not reader.truncated
    assert got == [expected(ev) for ev in evs]


@settings(max_examples=200, deadline=None)
@given(value=values)
def test_captured_values_round_trip(value):
    sink = io.BytesIO()
    w = TraceWriter(sink, language="python")
    wire = w.encode_value(value)
    decoder = Decoder()
    decoder.strings = {sid: text for text, sid in w._strings.items()}
    assert decoder.value(wire) == value
