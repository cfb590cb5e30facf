"""The structure every agent's traces must share with spec/vectors/ (spec section 13):
the same record types, each with the columns the vectors give it and values of the same
kinds; the header first, also for a plain `zstd -dc | msgpack` reader.

Agents in other languages cannot write the vectors' records byte for byte from a real
program, so their real traces are held against the vectors' shapes instead.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import msgpack

from orion.format.decode import decode_records
from orion.format.reader import TraceReader

VECTORS = Path(__file__).resolve().parent.parent / "spec" / "vectors"
OPEN_MAPS = {"header", "end"}  # agents may add keys to these (spec 4.1, 4.7)
# Columns holding captured values or free maps: their kinds vary by design.
FREE_COLUMNS = {"args", "value", "locals", "attrs", "detail", "exception", "env", "process",
                "agent", "counts", "records", "frames", "version"}


def _kind(value) -> str:
    return "bool" if isinstance(value, bool) else type(value).__name__


def vector_shapes() -> dict[str, dict]:
    """For each record type in the vectors: the keys every record has, the keys some have,
    and the kinds of the non-nil values of each key."""
    shapes: dict[str, dict] = {}
    for path in sorted(VECTORS.glob("*.json")):
        for record in json.loads(path.read_text())["records"]:
            shape = shapes.setdefault(record["type"], {"required": set(record), "allowed": set(),
                                                       "kinds": defaultdict(set)})
            shape["required"] &= set(record)
            shape["allowed"] |= set(record)
            for key, value in record.items():
                if value is not None:
                    shape["kinds"][key].add(_kind(value))
    return shapes


def assert_matches_vectors(path: Path) -> None:
    """`path`, written by an agent, has the vectors' structure (see the module docstring)."""
    shapes = vector_shapes()
    with TraceReader(path) as reader:
        records = list(decode_records(reader.records()))
    assert records and records[0]["type"] == "header", "the header comes first"
    assert records[0]["format"] == "otrace" and records[0]["version"][0] == 1
    for index, record in enumerate(records):
        kind = record["type"]
        assert kind in shapes, f"record {index}: type {kind!r} is in no vector"
        shape = shapes[kind]
        missing = shape["required"] - set(record)
        assert not missing, f"record {index} ({kind}) lacks {sorted(missing)}"
        if kind not in OPEN_MAPS:
            extra = set(record) - shape["allowed"]
            assert not extra, f"record {index} ({kind}) has columns no vector has: {extra}"
        for key, value in record.items():
            if key in FREE_COLUMNS or value is None or key not in shape["kinds"]:
                continue
            assert _kind(value) in shape["kinds"][key], (
                f"record {index} ({kind}): {key} is a {_kind(value)}, the vectors' a "
                f"{'/'.join(sorted(shape['kinds'][key]))}")
    assert_plain_zstd_reads_the_header(path)


def assert_plain_zstd_reads_the_header(path: Path) -> None:
    """`zstd -dc FILE` piped into any msgpack decoder yields the header first."""
    zstd = shutil.which("zstd")
    if zstd is None:
        return
    done = subprocess.run([zstd, "-dc", str(path)], capture_output=True, timeout=60)
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    unpacker.feed(done.stdout)
    first = next(unpacker)
    assert first[0] == 0 and first[1]["format"] == "otrace", "zstd -dc: header first"
