"""`orion import`: validate trace files and add them to the spool."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import OrionError
from ..importing import IMPORTED, REFUSED, UNREADABLE, expand_sources, import_file
from ..options import json_option, spool_option
from ..render.jsonout import write_json
from ..render.progress import progress
from ..render.safe import terminal
from ..spool import Spool


def read_paths(files: tuple[str, ...]) -> list[Path]:
    """The files given, with `-` replaced by the paths on stdin, one whole line each
    (paths may hold spaces, so lines are not split into words as ids are)."""
    paths: list[Path] = []
    for name in files:
        if name == "-":
            paths.extend(Path(line.strip()) for line in sys.stdin if line.strip())
        else:
            paths.append(Path(name).expanduser())
    return paths


@click.command("import")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option("--force", is_flag=True, help="Replace a trace whose id is already in the spool.")
@json_option
@spool_option
@click.pass_context
def command(ctx: click.Context, files: tuple[str, ...], force: bool, as_json: bool,
            spool: Spool) -> None:
    """Validate trace files and add them to the spool.

    Each FILE (a directory stands for the .otrace, .json and .jsonl files in it; - reads
    paths from stdin) is checked in full first, then copied into the spool under its
    trace id. OTLP/JSON (an object, an array or JSON Lines) and Chrome Trace Event JSON
    files are converted to .otrace first, one trace per trace id. Incomplete
    traces are imported with a note; invalid ones and ids already in the spool (unless
    --force) are refused, and the others still go in. Prints the imported ids, one per
    line. Exits 1 if a file was refused, 2 if one could not be read as a trace.
    """
    sources = expand_sources(read_paths(files))
    if not sources:
        raise OrionError("no trace files to import (stdin or the directories given were empty)")
    results = []
    with progress(sources, "importing") as items:
        for source in items:
            results.extend(import_file(spool, source, replace=force))
    for result in results:
        if result.outcome != IMPORTED:
            click.echo(terminal(f"orion: {result.outcome}: {result.source}: {result.reason}"),
                       err=True)
        elif not result.complete:
            click.echo(f"orion: note: {result.source}: incomplete trace (no end record; its "
                       f"program may have crashed), imported as is", err=True)
    if as_json:
        write_json([result.as_json() for result in results], sys.stdout)
    else:
        for result in results:
            if result.outcome == IMPORTED:
                click.echo(result.trace_id)
    outcomes = {result.outcome for result in results}
    if UNREADABLE in outcomes:
        ctx.exit(2)
    if REFUSED in outcomes:
        ctx.exit(1)
