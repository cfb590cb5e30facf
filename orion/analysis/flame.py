"""Folded stacks: the time spent in each distinct call path, the input of flame graphs.

A call path is the labels of the calls from a lane's root down to a call; its weight is
the self time (nanoseconds) of every call on that path. Memory grows with the number of
distinct paths, not with the number of calls, so a million-call trace folds in a small
dict. The same folding feeds `orion export --format folded|speedscope` and the SVG that
`orion graph --flame` draws.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterable

from ..export.spans import Span, SpanStream


def frame_name(label: str) -> str:
    """A label made safe for the folded format (`;` separates frames, a line is a stack)."""
    return label.replace(";", ":").replace("\n", " ").replace("\r", " ") or "?"


def fold_lanes(path: Path) -> list[tuple[str, Counter]]:
    """Self time per call path, for each lane of a trace: [(lane name, stacks)]."""
    by_lane: dict[int, Counter] = {}
    with SpanStream(path) as stream:
        for span in stream.items():
            if isinstance(span, Span):
                counter = by_lane.get(span.lane)
                if counter is None:
                    counter = by_lane[span.lane] = Counter()
                counter[span.stack] += span.self_ns
        return [(stream.lanes[lane].name,
                 Counter({tuple(frame_name(label) for label in stream.labels(node)): weight
                          for node, weight in counter.items()}))
                for lane, counter in sorted(by_lane.items())]


def fold_traces(paths: Iterable[Path]) -> Counter:
    """Self time per call path, summed over the lanes of several traces."""
    total: Counter = Counter()
    for path in paths:
        for _lane, stacks in fold_lanes(path):
            total.update(stacks)
    return total


def folded_lines(stacks: Counter) -> Iterable[str]:
    """`a;b;c 123` lines, sorted, without empty weights."""
    for stack in sorted(stacks):
        if stacks[stack] > 0:
            yield f"{';'.join(stack)} {stacks[stack]}"
