"""Drawing a trace diff for people: a unified view (like `diff -u`) or side by side.

Each difference becomes a hunk headed by its lane and the calls leading to it; lines
only in A start with `-`, lines only in B with `+`. Calls are drawn by the same
`call_line` as `orion show`, so a call reads the same in both commands.
"""

from __future__ import annotations

import shutil
from typing import Iterator

from ..analysis.diff import (ARGS, CALLS, EXCEPTION, LANE, ONLY_A, ONLY_B, OUTCOME, RAISED,
                             RETURN, TIMING, TREE, TREE_MAX_CALLS, DiffOptions, DiffResult,
                             Difference, trace_json)
from ..model import Call, Trace
from ..timeparse import format_duration_ns
from .safe import Style
from .table import clip
from .tree import call_line, format_value

SHORT_ID = 12


def _describe(trace: Trace) -> str:
    info = trace_json(trace)
    name = trace.summary.get("name") or " ".join(map(str, trace.summary.get("command") or [])) \
        or trace.summary.get("root") or ""
    return (f"{(info['id'] or '?')[:SHORT_ID]}  {clip(name, 60)}  "
            f"({info['status'] or '?'}, {info['calls']} calls)").rstrip()


def _line(call: Call, nested: int = 0) -> str:
    return call_line(call, Style(False), nested)


def _hunk_header(d: Difference) -> str:
    path = d.a_path if d.kind != ONLY_B else d.b_path
    callers = " › ".join(c.label for c in path[:-1]) or "(top level)"
    return f"@@ {d.lane}: {callers} @@"


def _what(d: Difference) -> str:
    if d.kind == ARGS:
        changed = ", ".join(f"{k}: {format_value(a)} → {format_value(b)}"
                            for k, (a, b) in d.detail["changed"].items())
        extra = [f"only in A: {', '.join(d.detail['only_a'])}"] if d.detail["only_a"] else []
        extra += [f"only in B: {', '.join(d.detail['only_b'])}"] if d.detail["only_b"] else []
        return "arguments differ: " + "; ".join(x for x in [changed, *extra] if x)
    if d.kind == RETURN:
        return f"return value differs: {format_value(d.detail['a'])} → {format_value(d.detail['b'])}"
    if d.kind == OUTCOME:
        return f"ended differently: {d.detail['a']} → {d.detail['b']}"
    if d.kind == EXCEPTION:
        def text(e):
            return f"{e['type']}: {e['message']}" if e else "?"
        return f"different exception: {text(d.detail['a'])} → {text(d.detail['b'])}"
    if d.kind == RAISED:
        return "exceptions raised or caught inside differ"
    if d.kind == ONLY_A:
        return "call only in A"
    if d.kind == ONLY_B:
        return "call only in B"
    return d.kind


def _pairs(d: Difference) -> tuple[list[str], list[str]]:
    """The lines of a difference on each side (empty where the side has nothing)."""
    if d.kind == LANE:
        text = f"lane {d.lane} ({d.detail['calls']} calls)"
        return ([text], []) if d.detail["side"] == "a" else ([], [text])
    left = [_line(d.a, d.detail.get("calls", 0) if d.kind == ONLY_A else 0)] if d.a else []
    right = [_line(d.b, d.detail.get("calls", 0) if d.kind == ONLY_B else 0)] if d.b else []
    return left, right


def _hunks(differences: list[Difference]) -> Iterator[list[Difference]]:
    """The differences other than timing, those of one pair of calls together (a call
    whose arguments and return value both differ is one hunk, not two)."""
    hunk: list[Difference] = []
    for d in differences:
        if d.kind == TIMING or d.kind == CALLS:
            continue
        if hunk and d.a is not None and d.b is not None and (d.a, d.b) == (hunk[-1].a,
                                                                            hunk[-1].b):
            hunk.append(d)
            continue
        if hunk:
            yield hunk
        hunk = [d]
    if hunk:
        yield hunk


def _timing_lines(timing: list[Difference], options: DiffOptions) -> Iterator[str]:
    if not timing:
        return
    yield (f"timing (total time per function changed by ≥ {options.time_threshold:.0%} "
           f"and ≥ {format_duration_ns(options.time_min_ns)}):")
    for d in timing:
        t = d.detail
        change = f"{t['change']:+.0%}" if t["change"] is not None else "new time"
        yield (f"  {t['function']}  {format_duration_ns(t['a_ns'])} → "
               f"{format_duration_ns(t['b_ns'])}  ({change}; calls {t['a_calls']} → "
               f"{t['b_calls']})")


def _compared_lines(result: DiffResult) -> Iterator[str]:
    """How big traces were compared, and the functions called a different number of times."""
    if result.compared == TREE:
        return
    yield (f"(more than {TREE_MAX_CALLS:,} calls: compared by the calls that raised, caught or "
           "unwound, or stayed open, and by calls per function)")
    counts = [d for d in result.differences if d.kind == CALLS]
    if counts:
        yield "calls per function:"
    for d in counts:
        yield f"  {d.detail['function']}  {d.detail['a_calls']} → {d.detail['b_calls']}"


def _summary_line(result: DiffResult) -> str:
    if result.same:
        return "no differences"
    counts: dict[str, int] = {}
    for d in result.differences:
        counts[d.kind] = counts.get(d.kind, 0) + 1
    parts = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in counts.items())
    total = len(result.differences)
    return f"{total} difference{'s' if total != 1 else ''}: {parts}"


def _divergence_lines(result: DiffResult) -> Iterator[str]:
    first = result.first_divergence
    if first is None:
        return
    path = first.a_path if first.kind != ONLY_B else first.b_path
    where = " › ".join(c.label for c in path) or first.lane
    parent = f" in {path[-2].label}" if len(path) >= 2 else ""
    yield f"first divergence{parent}: {first.function or first.lane} — {_what(first)}"
    yield f"  at {first.lane}: {where}"
    for side, stack in (("A", first.a_path), ("B", first.b_path)):
        if stack:
            yield f"  stack in {side}:"
            for depth, call in enumerate(stack):
                yield "    " + "  " * min(depth, 20) + _line(call)


def render_unified(result: DiffResult, options: DiffOptions, colour: bool) -> Iterator[str]:
    """The default view: header, first divergence, one hunk per pair of calls, timing."""
    style = Style(colour)
    yield style(f"--- A {_describe(result.a)}", fg="red", bold=True)
    yield style(f"+++ B {_describe(result.b)}", fg="green", bold=True)
    for line in _compared_lines(result):
        yield style(line, dim=line.startswith("("))
    for line in _divergence_lines(result):
        yield style(line, bold=line.startswith("first"))
    for hunk in _hunks(result.differences):
        yield style(_hunk_header(hunk[0]), fg="cyan")
        for d in hunk:
            yield style(f"  # {_what(d)}", dim=True)
        left, right = _pairs(hunk[0])
        for line in left:
            yield style("- " + line, fg="red")
        for line in right:
            yield style("+ " + line, fg="green")
    yield from _timing_lines([d for d in result.differences if d.kind == TIMING], options)
    yield style(_summary_line(result), bold=True)


def render_side_by_side(result: DiffResult, options: DiffOptions, colour: bool,
                        width: int | None = None) -> Iterator[str]:
    """A and B in two columns; `<` only in A, `>` only in B, `|` different on both."""
    style = Style(colour)
    width = width or shutil.get_terminal_size((160, 24)).columns
    column = max((width - 3) // 2, 20)

    def row(left: str, mark: str, right: str, **colours) -> str:
        return style(clip(left, column).ljust(column) + f" {mark} " + clip(right, column),
                     **colours)

    yield row(f"A {_describe(result.a)}", " ", f"B {_describe(result.b)}", bold=True)
    yield from _compared_lines(result)
    for line in _divergence_lines(result):
        yield line
    for hunk in _hunks(result.differences):
        yield style(_hunk_header(hunk[0]) + "  # " + "; ".join(map(_what, hunk)), fg="cyan")
        left, right = _pairs(hunk[0])
        for k in range(max(len(left), len(right))):
            a = left[k] if k < len(left) else ""
            b = right[k] if k < len(right) else ""
            mark, colours = ("|", {"fg": "yellow"}) if a and b else \
                ("<", {"fg": "red"}) if a else (">", {"fg": "green"})
            yield row(a, mark, b, **colours)
    yield from _timing_lines([d for d in result.differences if d.kind == TIMING], options)
    yield style(_summary_line(result), bold=True)
