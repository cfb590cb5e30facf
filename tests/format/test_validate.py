"""Each rule of the validator, shown on a deliberately broken trace written byte by byte."""

from __future__ import annotations

import json
import math
import struct
import zlib
from pathlib import Path

import msgpack
import pytest
import zstandard
from jsonschema import Draft202012Validator

from orion.format import constants as C
from orion.format.decode import decode_records
from orion.format.errors import TraceError
from orion.format.frames import iter_frames
from orion.format.reader import TraceReader
from orion.format.validate import (ERROR, WARNING, is_valid, load_schema, record_validators,
                                   validate_trace)
from orion.format.writer import trailer_bytes

VECTORS = Path(__file__).resolve().parents[2] / "spec" / "vectors"
TRACE_ID = "ab" * 16
NAMES = [[C.STRING, 0, "main"], [C.STRING, 1, "MainThread"], [C.STRING, 2, "thread"]]
DEFS = NAMES + [[C.FUNCTION, 0, 0, None, None, 1], [C.LANE, 0, 1, 2, None, None]]
_COUNTED = {C.CALL: "calls", C.RETURN: "returns", C.UNWIND: "unwinds",
            C.EXCEPTION: "exceptions", C.CRASH: "crashes", C.STACK: "stacks", C.EVENT: "events"}


def pack(record) -> bytes:
    return msgpack.packb(record, use_bin_type=True)


def frame(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(write_checksum=True, write_content_size=True).compress(data)


def raw_trace(path: Path, body: list, *, header: dict | None = None, end: bool = True,
              summary: dict | None = None, trailer: dict | None | bool = True,
              after_end: list = (), prelude_version: tuple[int, int] = (1, 0)) -> Path:
    """Write a trace from wire records (timed ones with their deltas), one frame for the
    body; the end record's counts and checksum are computed unless `summary` overrides them."""
    head = {"format": "otrace", "version": [1, 0], "trace_id": TRACE_ID,
            "agent": {"language": "python", "name": "test", "version": "0"}, "mode": "dev",
            "start_ns": 10**18, "process": {"pid": 1, "argv": ["x"]}, "env": {},
            "records": C.describe_records(), **(header or {})}
    records = [[C.HEADER, head], *body]
    data = b"".join(pack(r) for r in records)
    counts = dict.fromkeys(("calls", "returns", "unwinds", "exceptions", "crashes", "stacks",
                            "events"), 0)
    for r in body:
        if r[0] in _COUNTED:
            counts[_COUNTED[r[0]]] += 1
    end_summary = {
        "trace_id": TRACE_ID, "status": "ok", "language": "python", "mode": "dev",
        "start_ns": 10**18, "duration_ns": 10**6, "command": ["x"], "host": None, "pid": 1,
        "root": "main", "exception": None, "exit_code": 0,
        "counts": dict(counts, records=len(records),
                       functions=sum(r[0] == C.FUNCTION for r in body),
                       lanes=sum(r[0] == C.LANE for r in body)),
        "checksum": zlib.crc32(data), **(summary or {})}
    out = (C.SKIPPABLE_MAGIC_BYTES + struct.pack("<I", 16) + C.PRELUDE_MAGIC
           + struct.pack("<HHI", *prelude_version, 0))
    out += frame(pack([C.HEADER, head])) + frame(data[len(pack([C.HEADER, head])):]
                                                 or pack([64]))
    if end:
        out += frame(pack([C.END, end_summary]) + b"".join(pack(r) for r in after_end))
        if trailer:
            out += trailer_bytes(pack(end_summary if trailer is True else trailer))
    path.write_bytes(out)
    return path


def problems_of(tmp_path, body, **options):
    return validate_trace(raw_trace(tmp_path / "t.otrace", body, **options))


def only(problems, severity=ERROR):
    found = [p for p in problems if p.severity == severity]
    assert len(found) == 1, [str(p) for p in problems]
    return found[0]


CALL_RET = [[C.CALL, 100, 0, 0], [C.RETURN, 50, 0]]


def test_a_well_formed_raw_trace_has_no_problems(tmp_path):
    assert problems_of(tmp_path, DEFS + CALL_RET) == []


@pytest.mark.parametrize("name", sorted(p.stem for p in VECTORS.glob("*.otrace")))
def test_vectors_are_valid(name):
    problems = validate_trace(VECTORS / f"{name}.otrace")
    assert is_valid(problems), [str(p) for p in problems]
    assert [p.severity for p in problems] == ([WARNING] if name == "truncated" else [])


def test_schema_violation_names_the_record_and_field(tmp_path):
    body = DEFS + [[C.CALL, 100, 0, 0], [C.RETURN, 50, "zero"]]
    problem = only(problems_of(tmp_path, body, summary={"status": "failed"}))
    assert (problem.index, problem.type) == (7, "return")
    assert problem.message.startswith("lane: 'zero' is not of type 'integer'")
    assert str(problem).startswith("record 7 (return): lane:")


def test_schema_checks_nested_captured_values(tmp_path):
    value = [C.V_SEQ, None, [1, [C.V_TEXT, None, "x", -3]]]  # a negative cut
    body = DEFS + [[C.CALL, 100, 0, 0], [C.RETURN, 5, 0, value]]
    problem = only(problems_of(tmp_path, body, summary={"status": "failed"}))
    assert (problem.index, problem.type) == (7, "return")
    assert "-3" in problem.message


def test_undefined_function(tmp_path):
    problem = only(problems_of(tmp_path, DEFS + [[C.CALL, 100, 0, 5], [C.RETURN, 50, 0]]))
    assert (problem.index, problem.type, problem.message) == (6, "call", "function 5 is not defined")


def test_undefined_function_in_a_stack_frame(tmp_path):
    body = DEFS + [[C.STACK, 10, 0, "exception", [[0, 1, None], [9, 2, None]]]]
    problem = only(problems_of(tmp_path, body))
    assert (problem.index, problem.type, problem.message) == (6, "stack", "function 9 is not defined")


def test_undefined_lane(tmp_path):
    problem = only(problems_of(tmp_path, DEFS + [[C.CALL, 100, 3, 0]],
                               summary={"status": "failed"}))
    assert (problem.index, problem.type, problem.message) == (6, "call", "lane 3 is not defined")


def test_lane_parent_must_be_defined_before(tmp_path):
    body = DEFS + [[C.LANE, 1, 1, 2, None, 4]]
    problem = only(problems_of(tmp_path, body))
    assert (problem.index, problem.type) == (6, "lane")
    assert problem.message == "parent lane 4 is not defined before lane 1"


def test_ids_count_from_zero_in_definition_order(tmp_path):
    body = NAMES + [[C.STRING, 7, "x"], [C.FUNCTION, 0, 0, None, None, 1],
                    [C.MODULE, 1, 0, 4096, None]]
    problems = [p for p in problems_of(tmp_path, body) if p.severity == ERROR]
    assert [(p.index, p.type) for p in problems] == [(4, "string"), (6, "module")]
    assert problems[0].message == ("defines string 7 but the next string id is 3 "
                                   "(ids count from 0 in definition order)")


def test_undefined_string_is_reported_where_it_is_used(tmp_path):
    body = NAMES + [[C.FUNCTION, 0, 42, None, None, 1]]
    problem = problems_of(tmp_path, body)[0]
    assert (problem.index, problem.type) == (4, "function")
    assert "undefined string 42" in problem.message


def test_function_needs_a_name_or_an_address(tmp_path):
    body = NAMES + [[C.FUNCTION, 0, None, None, None, None], [C.FUNCTION, 1, None, None, None,
                                                               None, 0x1000]]
    problem = only(problems_of(tmp_path, body))
    assert (problem.index, problem.message) == (4, "function has neither a name nor an address")


def test_unmatched_return(tmp_path):
    problem = only(problems_of(tmp_path, DEFS + [[C.RETURN, 50, 0]]))
    assert (problem.index, problem.type) == (6, "return")
    assert problem.message == "return with no open call on lane 0"
    problem = only(problems_of(tmp_path, DEFS + [[C.UNWIND, 50, 0, 3]]))
    assert problem.message == "unwind with no open call on lane 0"


def test_ring_window_allows_returns_of_calls_before_it(tmp_path):
    body = DEFS + [[C.RETURN, 50, 0], [C.CALL, 10, 0, 0], [C.RETURN, 10, 0], [C.UNWIND, 10, 0, 4]]
    assert problems_of(tmp_path, body, header={"window": "ring"}) == []
    assert [p.index for p in problems_of(tmp_path, body)] == [6, 9]


def test_open_calls_at_the_end_of_an_ok_trace(tmp_path):
    body = DEFS + [[C.CALL, 100, 0, 0], [C.CALL, 100, 0, 0], [C.RETURN, 50, 0]]
    problem = only(problems_of(tmp_path, body))
    assert (problem.index, problem.type) == (9, "end")
    assert problem.message == "status is ok but lane 0 ends with 1 open call(s)"
    assert problems_of(tmp_path, body, summary={"status": "failed"}) == []


def test_incomplete_trace_is_a_warning_not_an_error(tmp_path):
    problems = problems_of(tmp_path, DEFS + [[C.CALL, 100, 0, 0]], end=False)
    problem = only(problems, WARNING)
    assert is_valid(problems) and problem.index is None
    assert problem.message.startswith("incomplete trace: no end record")


def test_time_is_monotonic_per_lane(tmp_path):
    two_lanes = DEFS + [[C.LANE, 1, 1, 2, None, 0]]
    interleaved = two_lanes + [[C.CALL, 100, 0, 0], [C.CALL, -50, 1, 0], [C.RETURN, 80, 0],
                               [C.RETURN, 10, 1]]
    assert problems_of(tmp_path, interleaved) == []  # negative deltas across lanes are fine
    backwards = two_lanes + [[C.CALL, 100, 0, 0], [C.RETURN, -1, 0]]
    problem = only(problems_of(tmp_path, backwards))
    assert (problem.index, problem.type) == (8, "return")
    assert problem.message == "time goes backwards on lane 0: 99 after 100"


def test_time_before_the_trace_start(tmp_path):
    problem = only(problems_of(tmp_path, DEFS + [[C.CALL, -5, 0, 0]],
                               summary={"status": "failed"}))
    assert (problem.index, problem.type) == (6, "call")
    assert problem.message.startswith("t: -5 is less than the minimum of 0")


def test_end_counts_must_match_the_body(tmp_path):
    counts = {"records": 8, "calls": 5, "returns": 1, "unwinds": 0, "exceptions": 0,
              "crashes": 0, "stacks": 0, "events": 0, "functions": 1, "lanes": 1}
    problem = only(problems_of(tmp_path, DEFS + CALL_RET, summary={"counts": counts}))
    assert (problem.index, problem.type) == (8, "end")
    assert problem.message == "counts.calls is 5 but the trace holds 1"


def test_end_checksum_must_match(tmp_path):
    problem = only(problems_of(tmp_path, DEFS + CALL_RET, summary={"checksum": 1234}))
    assert (problem.index, problem.type) == (8, "end")
    assert problem.message.startswith("checksum 1234 does not match the records")


def test_end_trace_id_must_match_the_header(tmp_path):
    problem = only(problems_of(tmp_path, DEFS + CALL_RET, summary={"trace_id": "cd" * 16}))
    assert (problem.index, problem.type) == (8, "end")
    assert problem.message == f"trace_id {'cd' * 16!r} differs from the header's {TRACE_ID!r}"


def test_duration_covers_the_last_event(tmp_path):
    problem = only(problems_of(tmp_path, DEFS + CALL_RET, summary={"duration_ns": 120}))
    assert problem.message == "duration_ns 120 is shorter than the last event at 150"


def test_trailer_must_repeat_the_end_record(tmp_path):
    problem = only(problems_of(tmp_path, DEFS + CALL_RET, trailer={"status": "ok"}))
    assert (problem.index, problem.message) == (None, "the trailer differs from the end record")
    missing = only(problems_of(tmp_path, DEFS + CALL_RET, trailer=False), WARNING)
    assert missing.message.startswith("no trailer")


def test_records_after_the_end_record(tmp_path):
    problem = only(problems_of(tmp_path, DEFS + CALL_RET, after_end=[[C.STRING, 3, "late"]]))
    assert (problem.index, problem.type, problem.message) == (9, "string",
                                                              "record after the end record")


def test_header_version_must_match_the_prelude(tmp_path):
    problem = only(problems_of(tmp_path, DEFS + CALL_RET, header={"version": [1, 3]}))
    assert (problem.index, problem.type) == (0, "header")
    assert problem.message == "header version 1.3 differs from the prelude's 1.0"


def test_second_header(tmp_path):
    body = DEFS + [[C.HEADER, {"format": "otrace"}]]
    problem = only(problems_of(tmp_path, body))
    assert (problem.index, problem.type) == (6, "header")


def test_unknown_record_types(tmp_path):
    assert problems_of(tmp_path, DEFS + [[70, "private"]] + CALL_RET) == []
    problem = only(problems_of(tmp_path, DEFS + [[20, "x"]] + CALL_RET))
    assert (problem.index, problem.type) == (6, "unknown")
    assert problem.message == ("record type 20 is not defined in format 1.0 "
                               "(reserved for future versions)")
    newer = problems_of(tmp_path, DEFS + [[20, "x"]] + CALL_RET,
                        header={"version": [1, 2]}, prelude_version=(1, 2))
    assert newer == []  # a later minor's record type: ignored
    problem = only(problems_of(tmp_path, DEFS + [[300, "x"]] + CALL_RET))
    assert problem.message == "record type 300 is outside 0..127"


def test_non_finite_floats_are_not_allowed_on_the_wire(tmp_path):
    body = DEFS + [[C.CALL, 100, 0, 0], [C.RETURN, 50, 0, math.inf]]
    problem = only(problems_of(tmp_path, body))
    assert (problem.index, problem.type) == (7, "return")
    assert problem.message == "non-finite float inf on the wire (write a text node)"


def test_pairs_and_maps_need_even_lengths(tmp_path):
    body = DEFS + [[C.CALL, 100, 0, 0, [0, 1, 2]], [C.RETURN, 50, 0, [C.V_MAP, None, [1]]]]
    problems = [p for p in problems_of(tmp_path, body) if p.severity == ERROR]
    assert [(p.index, p.message) for p in problems] == [
        (6, "name/value pairs with an odd number of items"),
        (7, "map value with an odd number of keys and values")]


def test_corrupt_frame_makes_the_file_unreadable(tmp_path):
    path = raw_trace(tmp_path / "t.otrace", DEFS + CALL_RET)
    data = bytearray(path.read_bytes())
    body = list(iter_frames(data, C.PRELUDE_SIZE))[1]
    data[body.offset + body.size - 6] ^= 0xFF  # inside the body frame's last block
    path.write_bytes(bytes(data))
    with pytest.raises(TraceError, match="corrupt frame at byte"):
        validate_trace(path)


def test_compiled_schema_agrees_with_jsonschema():
    """The fast predicates only speed up jsonschema: same verdict on good and broken records."""
    schema = load_schema()
    full = Draft202012Validator(schema)
    validators = record_validators()
    samples = []
    for golden in VECTORS.glob("*.json"):
        samples += json.loads(golden.read_text())["records"]
    broken = []
    for record in samples:
        for key, value in record.items():
            if key == "type":
                continue
            for bad in (None, -1, "x", 1.5, True, [], {}, [[1]], {"t": "x"}):
                if bad != value:
                    broken.append({**record, key: bad})
        broken.append({**record, "extra": 1})
        broken.append({k: v for k, v in record.items() if k in ("type", "t")})
    assert len(broken) > 1000
    for record in samples + broken:
        fast, slow = validators[record["type"]]
        assert fast(record) == slow.is_valid(record) == full.is_valid(record), record


def test_decoded_vectors_match_the_top_level_schema():
    full = Draft202012Validator(load_schema())
    with TraceReader(VECTORS / "values.otrace") as reader:
        for record in decode_records(reader.records()):
            full.validate(record)
