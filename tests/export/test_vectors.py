"""Every export of every spec vector (ring windows, native frames, cut files, threads):
well-formed, nested, and readable by the official OTLP parser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from orion.cli import cli

from .test_chrome import assert_nested
from .test_otlp import parse, spans_of

VECTORS = sorted((Path(__file__).resolve().parents[2] / "spec" / "vectors").glob("*.otrace"))


def export(path: Path, fmt: str) -> str:
    result = CliRunner().invoke(cli, ["export", str(path), "--format", fmt])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_vector_exports(path):
    chrome = json.loads(export(path, "chrome"))
    assert_nested(chrome["traceEvents"])
    calls = [e for e in chrome["traceEvents"] if e["ph"] == "X"]
    otlp = spans_of(parse(json.loads(export(path, "otlp"))))
    assert len(otlp) == len(calls)
    assert len({s.span_id for s in otlp}) == len(otlp)
    known = {s.span_id for s in otlp}
    assert all(s.parent_span_id in known for s in otlp if s.parent_span_id)
    jaeger = json.loads(export(path, "jaeger"))["data"][0]
    assert len(jaeger["spans"]) == len(calls)
    folded = export(path, "folded")
    assert sum(int(line.rsplit(" ", 1)[1]) for line in folded.splitlines()) <= sum(
        round(e["dur"] * 1000) for e in calls)
