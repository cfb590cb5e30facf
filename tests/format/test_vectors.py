"""The golden vectors in spec/vectors/: what every reader must decode, and what every agent
must be able to reproduce."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import msgpack
import pytest

from orion.format import constants as C
from orion.format.decode import decode_records
from orion.format.frames import FrameDecompressor, iter_frames
from orion.format.reader import TraceReader
from orion.format.summary import read_summary
from orion.format.validate import is_valid, validate_trace

VECTORS = Path(__file__).resolve().parents[2] / "spec" / "vectors"
NAMES = ["normal", "exception", "truncated", "multithread", "values", "ring", "native"]


def decoded(path: Path) -> dict:
    with TraceReader(path) as reader:
        records = list(decode_records(reader.records()))
        complete, truncated = reader.complete, reader.truncated
    doc = {"file": path.name, "complete": complete, "truncated": truncated,
           "records": records, "summary": read_summary(path)}
    return json.loads(json.dumps(doc))  # tuples -> lists, as the golden file holds them


def golden(name: str, directory: Path = VECTORS) -> dict:
    return json.loads((directory / f"{name}.json").read_text(encoding="utf-8"))


def test_every_vector_is_committed():
    assert sorted(p.stem for p in VECTORS.glob("*.otrace")) == sorted(NAMES)
    assert sorted(p.stem for p in VECTORS.glob("*.json")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_vector_decodes_to_its_golden_json(name):
    assert decoded(VECTORS / f"{name}.otrace") == golden(name)


@pytest.mark.parametrize("name", [n for n in NAMES if n != "truncated"])
def test_complete_vectors_validate(name):
    doc = golden(name)
    assert doc["complete"] and not doc["truncated"] and doc["summary"]["complete"]
    assert validate_trace(VECTORS / f"{name}.otrace") == []


def test_truncated_vector_keeps_every_record_of_its_complete_frames():
    path = VECTORS / "truncated.otrace"
    doc = golden("truncated")
    assert not doc["complete"] and doc["truncated"]
    assert doc["summary"]["status"] == "crashed" and not doc["summary"]["complete"]
    data = path.read_bytes()
    frames = [f for f in iter_frames(data, C.PRELUDE_SIZE) if not f.skippable]
    assert len(frames) >= 3 and frames[-1].offset + frames[-1].size < len(data)
    inflate = FrameDecompressor()
    wire = [r for f in frames
            for r in msgpack.Unpacker(io.BytesIO(inflate.decompress(data, f)), raw=False)]
    assert len(doc["records"]) == len(wire)
    assert [r["type"] for r in doc["records"]] == [C.TYPE_NAMES[r[0]] for r in wire]
    crash = next(i for i, r in enumerate(doc["records"]) if r["type"] == "crash")
    assert doc["records"][crash]["kind"] == "signal"
    assert crash < len(doc["records"]) - 5  # in an earlier frame, not the cut one
    assert is_valid(validate_trace(path))


def test_vectors_cover_the_format():
    records = [r for name in NAMES for r in golden(name)["records"]]
    types = {r["type"] for r in records}
    assert types >= set(C.TYPE_NAMES.values())
    text = json.dumps(records)
    for key in ('"cut"', '"redacted"', '"elided"', '"entries"', '"fields"', '"error"',
                '"items"', '"addr"', '"window": "ring"', '"parent": 0'):
        assert key in text, key
    assert {r["kind"] for r in records if r["type"] == "exception"} == {"raised", "caught"}
    lanes = golden("multithread")["records"]
    times = [r["t"] for r in lanes if "t" in r]
    assert times != sorted(times)  # interleaved lanes: the clock goes back across lanes
    for name in NAMES:
        env = golden(name)["records"][0]["env"]
        assert {"os", "runtime", "vars"} <= set(env)
        assert any(v == {"t": "str", "redacted": True} for v in env["vars"].values())


def test_regenerating_gives_the_same_decoded_json(tmp_path):
    script = VECTORS / "generate.py"
    subprocess.run([sys.executable, str(script), str(tmp_path)], check=True,
                   capture_output=True, timeout=60)
    for name in NAMES:
        assert golden(name, tmp_path) == golden(name)
        assert decoded(tmp_path / f"{name}.otrace") == golden(name)
