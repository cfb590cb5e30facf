"""The Java agent's writer reproduces spec/vectors/ (spec section 13, step 1): each vector's
records, written by agents/java's TraceFile (through its VectorWriter), decode to the
vector's records and read as complete or cut as the vector does."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import msgpack
import pytest

from orion.format.decode import decode_records
from orion.format.reader import TraceReader
from orion.runtimes.java import agent_jar

from ...vector_shapes import VECTORS, assert_plain_zstd_reads_the_header
from .conftest import orion, plain_env, requires_jdk

pytestmark = requires_jdk


@pytest.fixture(scope="module")
def jar() -> Path:
    built = agent_jar()
    assert built is not None
    return built


@pytest.mark.parametrize("name", sorted(p.stem for p in VECTORS.glob("*.json")))
def test_the_java_writer_reproduces_the_vector(jar: Path, tmp_path: Path, name: str) -> None:
    vector = json.loads((VECTORS / f"{name}.json").read_text())
    source = tmp_path / f"{name}.msgpack"  # the JDK reads no JSON: the vector as msgpack
    source.write_bytes(msgpack.packb({"records": vector["records"], "truncated": vector["truncated"]}))
    out = tmp_path / f"{name}.otrace"
    done = subprocess.run(["java", "-cp", str(jar), "dev.orionis.agent.VectorWriter", str(source),
                           str(out)], capture_output=True, text=True, env=plain_env(), timeout=60)
    assert done.returncode == 0, done.stderr
    with TraceReader(out) as reader:
        records = list(decode_records(reader.records()))
        complete, truncated = reader.complete, reader.truncated
    assert records == vector["records"]
    assert (complete, truncated) == (vector["complete"], vector["truncated"])
    assert orion("validate", str(out), cwd=tmp_path).returncode == 0  # a cut one: a warning
    assert_plain_zstd_reads_the_header(out)
