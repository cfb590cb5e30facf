"""Native functions and crashes are resolved from the binaries wherever a trace is read:
names in exports and graphs as well as `orion show`, and the crash on its source lines
(the trace records only addresses)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from .conftest import (COMPILERS, assert_valid, compile_program, decoded, function_names,
                       orion, run_traced)
from .test_programs import CRASHES, build_with_library


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


@pytest.mark.parametrize("compiler", COMPILERS)
def test_crash_is_placed_on_its_source_line(tmp_path: Path, compiler: str) -> None:
    exe = compile_program(tmp_path, compiler, CRASHES)
    status, (trace,) = run_traced(exe, spool=tmp_path / "spool")
    assert status == -signal.SIGSEGV
    # total dereferences NULL on line 6; checkout calls total on line 8, main checkout on 13
    show = orion("show", "--json", str(trace))
    assert show.returncode == 0, show.stderr
    path = json.loads(show.stdout)["failing_path"]
    assert [(f["name"], f["line"]) for f in path] == [("main", 13), ("checkout", 8),
                                                       ("total", 6)]
    text = orion("show", str(trace)).stdout
    assert "main:13 › checkout:8 › total:6" in text and "(line 6)" in text
    replay = orion("replay", "--exception", "--json", str(trace))
    assert replay.returncode == 0, replay.stderr
    stack = json.loads(replay.stdout)["stack"]
    assert [(f["function"], f["line"]) for f in stack] == [("main", 13), ("checkout", 8),
                                                          ("total", 6)]


@pytest.mark.parametrize("compiler", COMPILERS)
def test_otrace_export_keeps_names_without_the_binary(tmp_path: Path, compiler: str) -> None:
    exe = compile_program(tmp_path, compiler, CRASHES)
    status, (trace,) = run_traced(exe, spool=tmp_path / "spool")
    assert status == -signal.SIGSEGV
    exported = tmp_path / "bug.otrace"
    result = orion("export", str(trace), "-o", str(exported))
    assert result.returncode == 0, result.stderr
    exe.unlink()  # the ticket's reader has no binary (or another build of it)
    assert_valid(exported)
    show = orion("show", "--json", str(exported))
    assert show.returncode == 0, show.stderr
    document = json.loads(show.stdout)
    assert [(f["name"], f["line"]) for f in document["failing_path"]] == [
        ("main", 13), ("checkout", 8), ("total", 6)]
    assert document["summary"]["trace_id"] == json.loads(
        orion("show", "--json", str(trace)).stdout)["summary"]["trace_id"]
    text = orion("show", str(exported)).stdout
    assert "main:13 › checkout:8 › total:6" in text
    assert "failed at  main › checkout › total (line 6)" in text
    functions = function_names(decoded(exported))
    total = next(f for f in functions.values() if f["name"] == "total")
    assert total["file"].endswith("prog.c") and total["line"] == 5 and total["addr"]
