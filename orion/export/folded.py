"""The `folded` export: `frame;frame;frame weight` lines for flamegraph.pl and its peers
(inferno, speedscope's import); the weight is self time in nanoseconds. Names are escaped
(render/safe.py) as on a terminal, where these lines are often read."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from ..analysis.flame import fold_traces, folded_lines
from ..render.safe import escape


def write(path: Path, out: BinaryIO) -> None:
    for line in folded_lines(fold_traces([path])):
        out.write(escape(line).encode("utf-8") + b"\n")
