"""Exporting traces to other formats: a registry of formats, each a `write` function.

A format is one entry in FORMATS naming the module under orion.export that holds its
`write(path, out)` function; the module is imported only when that format is used, so a
format that needs a heavy library (pyarrow for parquet) costs nothing to the others.
Adding a format is adding its module and one line here; `orion export --format` offers
every name in FORMATS.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable

from ..spool import TRACE_SUFFIX


@dataclass(frozen=True)
class ExportFormat:
    name: str
    suffix: str  # file name suffix of an exported file
    binary: bool  # never written to a terminal
    module: str  # module under orion.export with `write(path, out: BinaryIO) -> None`
    help: str

    def writer(self) -> Callable[[Path, BinaryIO], None]:
        return importlib.import_module(f"{__name__}.{self.module}").write


FORMATS: dict[str, ExportFormat] = {f.name: f for f in (
    ExportFormat("otrace", ".otrace", True, "otrace", "the trace file itself, byte for byte"),
)}


def export_trace(path: Path, fmt: ExportFormat, out: BinaryIO) -> None:
    """Write the trace at `path` to the open binary stream `out` in format `fmt`."""
    fmt.writer()(path, out)


def export_to_file(path: Path, fmt: ExportFormat, target: Path) -> None:
    """Export to `target` atomically: a reader never sees half a file, a failure leaves none."""
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as out:
            export_trace(path, fmt, out)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def exported_name(path: Path, fmt: ExportFormat) -> str:
    """The file name an exported trace gets in a directory: the source's, new suffix."""
    return path.stem + fmt.suffix if path.suffix == TRACE_SUFFIX else path.name + fmt.suffix
