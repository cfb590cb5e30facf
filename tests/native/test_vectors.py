"""The C and C++ agents' real traces have the structure of spec/vectors/ (spec section
13): threads, a crash with its stack, C++ exceptions and scopes, in every mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..vector_shapes import assert_matches_vectors
from .conftest import COMPILERS, CXX_COMPILERS, compile_program, run_traced
from .test_programs import CRASHES, EXCEPTIONS, THREADS


@pytest.mark.parametrize("mode", ["dev", "safe", "error"])
@pytest.mark.parametrize("compiler", COMPILERS)
def test_c_traces_match_the_vectors(tmp_path: Path, compiler: str, mode: str) -> None:
    threads = compile_program(tmp_path, compiler, THREADS, name="threads")
    crashes = compile_program(tmp_path, compiler, CRASHES, name="crashes")
    run_traced(threads, spool=tmp_path / "threads", mode=mode)
    status, traces = run_traced(crashes, spool=tmp_path / "crash", mode=mode)
    assert status != 0 and traces
    for path in [*sorted((tmp_path / "threads").glob("*.otrace")), *traces]:
        assert_matches_vectors(path)


@pytest.mark.parametrize("compiler", CXX_COMPILERS)
def test_cpp_traces_match_the_vectors(tmp_path: Path, compiler: str) -> None:
    agents = Path(__file__).resolve().parents[2] / "agents"
    exe = compile_program(tmp_path, compiler, EXCEPTIONS,
                          extra=[f"-I{agents / 'c' / 'include'}",
                                 f"-I{agents / 'cpp' / 'include'}"])
    _, traces = run_traced(exe, spool=tmp_path / "spool")
    assert traces
    for path in traces:
        assert_matches_vectors(path)
