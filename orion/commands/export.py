"""`orion export`: write traces to a file, a directory or stdout, in a chosen format."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import OrionError
from ..export import (FORMATS, export_to_directory, export_to_file, export_trace,
                      exported_path)
from ..format.reader import read_trailer
from ..ids import resolve_many
from ..options import spool_option
from ..render.progress import progress
from ..spool import Spool
from ..timeparse import parse_nanoseconds


def _note_incomplete(sources: list[Path]) -> None:
    """Say so for a trace whose program died before closing it, as cat and import do."""
    for source in sources:
        if read_trailer(source) is None:
            click.echo(f"orion: note: {source}: incomplete (no end record): exported as far "
                       f"as it goes", err=True)


@click.command("export")
@click.argument("refs", nargs=-1, required=True, metavar="ID...")
@click.option("--output", "-o", metavar="FILE|DIR|-",
              help="Where to write: a file, a directory (one file per trace, required for "
                   "several traces) or - for stdout (the default when stdout is not a terminal).")
@click.option("--format", "format_name", type=click.Choice(list(FORMATS)), default="otrace",
              show_default=True,
              help="Output format: " + "; ".join(f"{f.name}: {f.help}" for f in FORMATS.values()))
@click.option("--min-duration", metavar="DURATION",
              help="chrome, otlp, jaeger: only calls that lasted at least this long "
                   "(e.g. 500us, 2ms, 1s; plain numbers are nanoseconds).")
@click.option("--merge", is_flag=True,
              help="chrome: all traces into one file, a process each, with flows from a "
                   "parent process's call to the child process it started.")
@spool_option
def command(refs: tuple[str, ...], output: str | None, format_name: str,
            min_duration: str | None, merge: bool, spool: Spool) -> None:
    """Write traces to a file, a directory or stdout.

    `orion export @ -o crash.otrace` copies the newest trace to a file you can attach to a
    bug report; `orion list --failed | orion export - -o failures/` copies several into a
    directory. `--format chrome` opens in Perfetto, `otlp` and `jaeger` in tracing tools,
    `folded` and `speedscope` in flame graph viewers; `orion list | orion export - --format
    parquet -o DIR` builds one dataset partitioned by date (DIR/date=YYYY-MM-DD/...).
    Prints the paths written, one per line.
    """
    fmt = FORMATS[format_name]
    options = {"min_duration_ns": parse_nanoseconds(min_duration)
                                  if min_duration is not None else 0}
    if min_duration is not None and "min_duration_ns" not in fmt.options:
        raise OrionError(f"--min-duration does not apply to --format {fmt.name}")
    if merge and fmt.merger() is None:
        raise OrionError(f"--merge: a {fmt.name} file holds one trace (chrome can hold several)")
    found = list(dict.fromkeys(resolve_many(refs, spool)))
    paths: list = [found] if merge else found  # what goes into each file
    if output == "-" or (output is None and len(paths) == 1):
        if len(paths) > 1:
            raise OrionError(f"{len(paths)} traces cannot share stdout: use -o DIR"
                             + (" (or --merge)" if fmt.merger() else ""))
        if fmt.binary and sys.stdout.isatty():
            raise OrionError(f"refusing to write binary {fmt.name} data to a terminal: "
                             f"use -o FILE, or redirect stdout to a file or a pipe")
        stdout = sys.stdout.buffer
        export_trace(paths[0], fmt, stdout, **options)
        stdout.flush()
        _note_incomplete(found)
        return
    if output is None:
        raise OrionError(f"{len(paths)} traces need a directory to go into: use -o DIR")
    target = Path(output).expanduser()
    if (len(paths) > 1 and target.suffix and not target.exists()
            and not output.endswith(("/", "\\"))):
        raise OrionError(f"-o {output} names a file, but {len(paths)} traces need a directory: "
                         f"give one (end it with / if its name has a dot)"
                         + (" or --merge" if fmt.merger() else ""))
    into_directory = (len(paths) > 1 or target.is_dir() or output.endswith(("/", "\\"))
                      or (fmt.dataset and not output.endswith(fmt.suffix)))
    try:
        if into_directory:
            if target.exists() and not target.is_dir():
                raise OrionError(f"{output} is a file; several traces need a directory")
            names = [exported_path(path, fmt) if isinstance(path, Path)
                     else Path("merged" + fmt.suffix) for path in paths]
            with progress(list(zip(paths, names)), "exporting") as jobs:
                targets = export_to_directory(jobs, fmt, target, **options)
        else:
            export_to_file(paths[0], fmt, target, **options)
            targets = [target]
    except OSError as exc:
        raise OrionError(f"{exc.filename or output}: cannot write "
                         f"({exc.strerror or exc})") from None
    click.echo("\n".join(str(destination) for destination in targets))
    _note_incomplete(found)
