"""The `speedscope` export: a speedscope file with one sampled profile per lane, each
call path weighted by its self time in nanoseconds (https://www.speedscope.app)."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from ..analysis.flame import fold_lanes
from ..format.reader import TraceReader
from ..render.jsonout import dumps

SCHEMA = "https://www.speedscope.app/file-format-schema.json"


def write(path: Path, out: BinaryIO) -> None:
    frames: dict[str, int] = {}
    profiles = []
    for lane_name, stacks in fold_lanes(path):
        samples, weights = [], []
        for stack in sorted(stacks):
            if stacks[stack] > 0:
                samples.append([frames.setdefault(label, len(frames)) for label in stack])
                weights.append(stacks[stack])
        total = sum(weights)
        profiles.append({"type": "sampled", "name": lane_name, "unit": "nanoseconds",
                         "startValue": 0, "endValue": total, "samples": samples,
                         "weights": weights})
    with TraceReader(path) as reader:
        name = f"{reader.header.get('trace_id', path.stem)}"
    document = {"$schema": SCHEMA, "name": name, "exporter": "orion",
                "activeProfileIndex": 0,
                "shared": {"frames": [{"name": label} for label in frames]},
                "profiles": profiles}
    out.write(dumps(document).encode("utf-8"))
    out.write(b"\n")
