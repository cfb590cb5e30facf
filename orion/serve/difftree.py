"""Two call trees side by side, row by row, as `orion diff` pairs their calls.

The rows follow the library's alignment (`pair_lanes`, `align`): each row is a pair of
calls matched across the traces, or a call on one side only. Only what leads to a
difference is opened: a matched call with no difference in or below it stays one row,
and a run of such siblings is folded into one row that counts them, so that two runs of
a million calls that differ in one place read as a few dozen rows.
"""

from __future__ import annotations

from typing import Any

from ..analysis.diff import LANE, ONLY_A, ONLY_B, TIMING, DiffResult, align, call_json, pair_lanes
from ..model import Call, subtree_size

MAX_ROWS = 2_000
FOLD_RUN = 3  # this many unchanged sibling pairs in a row, or more, are folded into one


def _marks(result: DiffResult) -> tuple[dict[int, list[str]], set[int]]:
    """The kinds of difference found at each call (by identity), and the calls on the
    way to one (whose children must be shown)."""
    kinds: dict[int, list[str]] = {}
    leads: set[int] = set()
    for d in result.differences:
        if d.kind in (TIMING, LANE):
            continue
        for call in (d.a, d.b):
            if call is not None:
                kinds.setdefault(id(call), []).append(d.kind)
        for call in (*d.a_path, *d.b_path):
            if call is not d.a and call is not d.b:
                leads.add(id(call))
    return kinds, leads


def _row(depth: int, lane: str, mark: str, a: Call | None, b: Call | None,
         **extra: Any) -> dict:
    return {"depth": depth, "lane": lane, "mark": mark,
            "a": call_json(a) if a is not None else None,
            "b": call_json(b) if b is not None else None, **extra}


def diff_rows(result: DiffResult) -> dict:
    """`{"rows": [...], "truncated": bool}`: the side-by-side tree of `result`; the row
    of its first divergence has `"first": true`."""
    kinds, leads = _marks(result)
    shown = leads.union(kinds)  # calls that get a row of their own
    first = result.first_divergence
    first_call = None if first is None else first.a if first.a is not None else first.b
    rows: list[dict] = []
    for lane_a, lane_b in pair_lanes(result.a, result.b):
        if lane_a is None or lane_b is None:
            lane = lane_a or lane_b
            rows.append(_row(0, lane.name, "lane_" + ("a" if lane_a else "b"), None, None,
                             calls=lane.calls))
            continue
        name = lane_a.name if lane_a.name == lane_b.name else f"{lane_a.name}/{lane_b.name}"
        # Depth-first in execution order, without recursion: (sibling pairs, depth).
        stack = [(iter(align(lane_a.roots, lane_b.roots)), 0)]
        while stack and len(rows) < MAX_ROWS:
            pairs, depth = stack.pop()
            unchanged: list[tuple[Call, Call]] = []
            for x, y in pairs:
                if x is not None and y is not None and id(x) not in shown \
                        and id(y) not in shown:
                    unchanged.append((x, y))
                    continue
                rows.extend(_unchanged(unchanged, depth, name))
                unchanged = []
                if y is None or x is None:
                    call = x if y is None else y
                    rows.append(_row(depth, name, ONLY_A if y is None else ONLY_B, x, y,
                                     calls=1 + subtree_size(call), first=call is first_call))
                    continue
                found = kinds.get(id(x)) or kinds.get(id(y)) or []  # the same on both
                rows.append(_row(depth, name, "changed" if found else "leads", x, y,
                                 kinds=found, first=first_call in (x, y)))
                if x.children or y.children:
                    stack.append((pairs, depth))  # its next siblings, once its calls are done
                    stack.append((iter(align(x.children, y.children)), depth + 1))
                    break
            else:
                rows.extend(_unchanged(unchanged, depth, name))
    return {"rows": rows[:MAX_ROWS], "truncated": len(rows) >= MAX_ROWS}


def _unchanged(pairs: list[tuple[Call, Call]], depth: int, lane: str) -> list[dict]:
    """Matched calls with no difference in or below them: one row each, or one row for a
    run of FOLD_RUN or more."""
    if len(pairs) < FOLD_RUN:
        return [_row(depth, lane, "same", x, y) for x, y in pairs]
    calls = sum(1 + subtree_size(x) for x, _ in pairs)
    names = sorted({x.label for x, _ in pairs})
    return [{"depth": depth, "lane": lane, "mark": "folded", "a": None, "b": None,
             "pairs": len(pairs), "calls": calls, "functions": names[:5]}]
