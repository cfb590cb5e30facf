"""Exporting traces to other formats: a registry of formats, each a `write` function.

A format is one entry in FORMATS naming the module under orion.export that holds its
`write(path, out, **options)` function; the module is imported only when that format is
used, so a format that needs a heavy library (pyarrow for parquet) costs nothing to the
others. Adding a format is adding its module and one line here; `orion export --format`
offers every name in FORMATS. Options (such as `min_duration_ns`) are passed only to the
formats that name them. A `dataset` format written into a directory lays its files out
as a dataset partitioned by date (`date=YYYY-MM-DD/<name>`), which DuckDB, Spark and
ClickHouse read as one table.
"""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable

from ..format.reader import TraceReader
from ..spool import TRACE_SUFFIX


@dataclass(frozen=True)
class ExportFormat:
    name: str
    suffix: str  # file name suffix of an exported file
    binary: bool  # never written to a terminal
    module: str  # module under orion.export with `write(path, out: BinaryIO, **options)`
    help: str
    options: tuple[str, ...] = ()  # keyword options its writer accepts
    dataset: bool = False  # partitioned by date when written into a directory
    function: str = "write"  # the writer's name in its module

    def writer(self) -> Callable[..., None]:
        return getattr(importlib.import_module(f"{__name__}.{self.module}"), self.function)

    def merger(self) -> Callable[..., None] | None:
        """`write_merged(paths, out, **options)` for formats that put several traces in
        one file, else None."""
        return getattr(importlib.import_module(f"{__name__}.{self.module}"), "write_merged",
                       None)


SPAN_OPTIONS = ("min_duration_ns",)

FORMATS: dict[str, ExportFormat] = {f.name: f for f in (
    ExportFormat("otrace", ".otrace", True, "otrace", "the trace file itself (native functions named)"),
    ExportFormat("chrome", ".trace.json", False, "chrome",
                 "Chrome Trace Event JSON (Perfetto UI, chrome://tracing)", SPAN_OPTIONS),
    ExportFormat("otlp", ".otlp.json", False, "otlp", "OpenTelemetry OTLP/JSON TracesData",
                 SPAN_OPTIONS),
    ExportFormat("jaeger", ".jaeger.json", False, "jaeger", "JSON for Jaeger UI's upload",
                 SPAN_OPTIONS),
    ExportFormat("folded", ".folded", False, "folded",
                 "folded stacks weighted by self time in ns (flamegraph.pl, inferno)"),
    ExportFormat("speedscope", ".speedscope.json", False, "speedscope",
                 "speedscope profile, one per lane"),
    ExportFormat("parquet", ".parquet", True, "columnar",
                 "Parquet, one row per event (needs pyarrow)", dataset=True,
                 function="write_parquet"),
    ExportFormat("arrow", ".arrow", True, "columnar",
                 "Arrow IPC file, one row per event (needs pyarrow)", dataset=True,
                 function="write_arrow"),
)}


def export_trace(path: Path | list[Path], fmt: ExportFormat, out: BinaryIO,
                 **options: Any) -> None:
    """Write the trace at `path` to the open binary stream `out` in format `fmt` (a list of
    paths: all of them into one file, for formats with a merger); options the format does
    not take are ignored."""
    accepted = {key: value for key, value in options.items() if key in fmt.options}
    if isinstance(path, list):
        merger = fmt.merger()
        if merger is None:
            raise ValueError(f"{fmt.name} cannot hold several traces in one file")
        merger(path, out, **accepted)
    else:
        fmt.writer()(path, out, **accepted)


def export_to_file(path: Path | list[Path], fmt: ExportFormat, target: Path,
                   **options: Any) -> None:
    """Export to `target` atomically: a reader never sees half a file, a failure leaves none."""
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as out:
            export_trace(path, fmt, out, **options)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def export_to_directory(jobs: Iterable[tuple[Path | list[Path], Path]], fmt: ExportFormat,
                        target: Path, **options: Any) -> list[Path]:
    """Export each (source, relative name) of `jobs` to `target`/name, all or nothing.

    Files are written into a hidden staging directory (inside `target` when it exists,
    else next to where it will be) and moved into place only when every one is written,
    so a failure (pyarrow missing, a corrupt trace, a full disk) leaves no file and no
    directory behind. Returns the paths written.
    """
    existed = target.is_dir()
    anchor = target if existed else next(p for p in target.parents if p.is_dir())
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=anchor))
    names: list[Path] = []
    try:
        for source, name in jobs:
            destination = staging / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            with open(destination, "wb") as out:
                export_trace(source, fmt, out, **options)
            names.append(name)
        if existed:
            for name in names:
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / name, target / name)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [target / name for name in names]


def exported_name(path: Path, fmt: ExportFormat) -> str:
    """The file name an exported trace gets in a directory: the source's, new suffix."""
    return path.stem + fmt.suffix if path.suffix == TRACE_SUFFIX else path.name + fmt.suffix


def exported_path(path: Path, fmt: ExportFormat) -> Path:
    """Where an exported trace goes inside a target directory: its name, under a
    `date=YYYY-MM-DD` partition (the trace's UTC start day) for dataset formats."""
    name = Path(exported_name(path, fmt))
    if not fmt.dataset:
        return name
    with TraceReader(path) as reader:
        start_ns = reader.header.get("start_ns")
    start_ns = start_ns if isinstance(start_ns, int) and start_ns >= 0 else 0
    day = datetime.fromtimestamp(start_ns // 10**9, tz=timezone.utc).strftime("%Y-%m-%d")
    return Path(f"date={day}") / name
