"""Diff views: unified and side by side, plain and coloured."""

from __future__ import annotations

from orion.analysis.diff import DiffOptions, diff_traces
from orion.model import load_trace
from orion.render.diff import render_side_by_side, render_unified
from orion.render.safe import terminal

from ..analysis.trees import node, write_tree


def result(spool):
    a = write_tree(spool, [node("main", node("f", args={"x": 1}, value=1))])
    b = write_tree(spool, [node("main", node("f", args={"x": 2}, value=1), node("g"))])
    return diff_traces(load_trace(a), load_trace(b), DiffOptions(timing=False))


def test_unified(spool):
    lines = list(render_unified(result(spool), DiffOptions(), colour=False))
    assert lines[0].startswith("--- A ") and lines[1].startswith("+++ B ")
    assert "  # arguments differ: x: 1 → 2" in lines
    assert any(line.startswith("- f(x=1)  → 1  ") for line in lines)
    assert any(line.startswith("+ f(x=2)  → 1  ") for line in lines)
    assert lines[-1] == "2 differences: 1 args, 1 only b"


def test_colour_only_when_asked(spool):
    plain = "\n".join(render_unified(result(spool), DiffOptions(), colour=False))
    coloured = "\n".join(map(terminal, render_unified(result(spool), DiffOptions(),
                                                       colour=True)))
    assert "\x1b[" not in plain and "\x1b[31m- f(x=1)" in coloured


def test_side_by_side_columns(spool):
    lines = list(render_side_by_side(result(spool), DiffOptions(), colour=False, width=81))
    pair = next(line for line in lines if " | " in line and "f(x=1)" in line)
    assert pair.index(" | ") == 39 and pair[42:].startswith("f(x=2)  → 1")
    assert any(line.startswith(" " * 39 + " > g()") for line in lines)


def test_a_call_that_differs_twice_is_one_hunk(spool):
    a = write_tree(spool, [node("main", node("f", args={"x": 1}, value=1))])
    b = write_tree(spool, [node("main", node("f", args={"x": 2}, value=4))])
    both = diff_traces(load_trace(a), load_trace(b), DiffOptions(timing=False))
    lines = list(render_unified(both, DiffOptions(), colour=False))
    assert sum(line.startswith("@@") for line in lines) == 1
    assert sum(line.startswith("- f(x=1)") for line in lines) == 1
    assert "  # arguments differ: x: 1 → 2" in lines and "  # return value differs: 1 → 4" in lines
    side = list(render_side_by_side(both, DiffOptions(), colour=False, width=200))
    [header] = [line for line in side if line.startswith("@@")]
    assert header.endswith("# arguments differ: x: 1 → 2; return value differs: 1 → 4")
    assert lines[-1] == "2 differences: 1 args, 1 return"  # --json still lists both
