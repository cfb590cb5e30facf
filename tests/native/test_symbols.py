"""Native functions are named wherever a trace is read: exports and graphs as well as
`orion show` (they are recorded as bare addresses and resolved from the binaries)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import COMPILERS, orion, run_traced
from .test_programs import build_with_library


@pytest.mark.parametrize("compiler", COMPILERS)
def test_exports_and_graph_name_native_functions(tmp_path: Path, compiler: str) -> None:
    exe = build_with_library(tmp_path, compiler)
    status, (trace,) = run_traced(exe, spool=tmp_path / "spool")
    assert status == 0
    folded = orion("export", str(trace), "--format", "folded", "-o", str(tmp_path / "f"))
    assert folded.returncode == 0, folded.stderr
    stacks = {line.rsplit(" ", 1)[0] for line in (tmp_path / "f").read_text().splitlines()}
    assert "main;shop_price;discount" in stacks
    chrome = orion("export", str(trace), "--format", "chrome", "-o", str(tmp_path / "c"))
    assert chrome.returncode == 0, chrome.stderr
    document = json.loads((tmp_path / "c").read_text())
    events = document["traceEvents"] if isinstance(document, dict) else document
    names = {e.get("name") for e in events if e.get("ph") == "X"}
    assert {"main", "shop_price", "discount"} <= names
    graph = orion("graph", str(trace), "--json")
    assert graph.returncode == 0, graph.stderr
    labels = {n["label"] for n in json.loads(graph.stdout)["nodes"]}
    assert {"main", "shop_price", "discount"} <= labels
    assert not any(label.startswith("0x") for label in labels)
