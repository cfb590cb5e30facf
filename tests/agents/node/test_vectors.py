"""The Node.js agent's writer reproduces spec/vectors/ (spec section 13, step 1): each
vector's records written by agents/node/lib/writer.js decode to the vector's records, and
read as complete or cut as the vector does."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ...vector_shapes import VECTORS, assert_plain_zstd_reads_the_header
from orion.format.decode import decode_records
from orion.format.reader import TraceReader

from .conftest import validate

WRITE_VECTOR = Path(__file__).resolve().parents[3] / "agents" / "node" / "tools" / "write-vector.js"
WRITTEN = sorted(p.stem for p in VECTORS.glob("*.json"))


def _without_checksum(record: dict) -> dict:
    """The CRC-32 is over the writer's own bytes, which may differ (spec 13: bytes may)."""
    return {k: v for k, v in record.items() if not (record["type"] == "end" and k == "checksum")}


@pytest.mark.parametrize("name", WRITTEN)
def test_writer_reproduces_vector(tmp_path: Path, name: str) -> None:
    out = tmp_path / f"{name}.otrace"
    done = subprocess.run(["node", str(WRITE_VECTOR), str(VECTORS / f"{name}.json"), str(out)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    vector = json.loads((VECTORS / f"{name}.json").read_text())
    with TraceReader(out) as reader:
        got = list(decode_records(reader.records()))
        complete, truncated = reader.complete, reader.truncated
    assert [_without_checksum(r) for r in got] == [_without_checksum(r) for r in vector["records"]]
    assert (complete, truncated) == (vector["complete"], vector["truncated"])
    validate([out], tmp_path)
    assert_plain_zstd_reads_the_header(out)
