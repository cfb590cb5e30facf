"""The `otrace` export: the trace file itself, copied byte for byte after a header check."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import BinaryIO

from ..format.reader import TraceReader


def write(path: Path, out: BinaryIO) -> None:
    """Copy the trace; a file that is not a trace (wrong magic, newer major) raises TraceError."""
    with TraceReader(path):
        pass
    with open(path, "rb") as src:
        shutil.copyfileobj(src, out, 1 << 20)
