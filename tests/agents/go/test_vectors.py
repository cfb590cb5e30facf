"""spec section 13: the Go writer writes the records of every vector (agents/go's
TestWriteTheVectors), and the reference reader decodes them to the vectors' records."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from orion.format.decode import decode_records
from orion.format.reader import TraceReader
from orion.runtimes.go import agent_dir

from ...vector_shapes import VECTORS, assert_plain_zstd_reads_the_header
from .conftest import BUILD_TIMEOUT, GO, orion, plain_env, requires_go

pytestmark = requires_go


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("vectors")
    done = subprocess.run([GO, "test", "-count=1", "-run", "TestWriteTheVectors", "."],
                          cwd=agent_dir(), capture_output=True, text=True,
                          env=plain_env(ORION_VECTOR_OUT=str(out)), timeout=BUILD_TIMEOUT)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


@pytest.mark.parametrize("name", sorted(p.stem for p in VECTORS.glob("*.json")))
def test_the_go_writer_reproduces_the_vector(written: Path, name: str) -> None:
    expected = json.loads((VECTORS / f"{name}.json").read_text())
    path = written / f"{name}.otrace"
    with TraceReader(path) as reader:
        records = list(decode_records(reader.records()))
        complete, truncated = reader.complete, reader.truncated
    assert records == expected["records"]
    assert (complete, truncated) == (expected["complete"], expected["truncated"])
    assert orion("validate", str(path), cwd=written).returncode == 0
    assert_plain_zstd_reads_the_header(path)
