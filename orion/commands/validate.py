"""`orion validate`: check traces against the schema and the format's rules (spec/OTRACE.md)."""

from __future__ import annotations

import sys

import click

from ..errors import OrionError
from ..format.errors import TraceError
from ..format.validate import ERROR, is_valid, validate_trace
from ..ids import resolve_many
from ..options import json_option, spool_option
from ..render.jsonout import write_json
from ..render.safe import terminal
from ..spool import Spool


@click.command("validate")
@click.argument("traces", nargs=-1, metavar="FILE|ID...")
@click.option("--quiet", "-q", is_flag=True,
              help="Print nothing; only the exit status tells (0 valid, 1 invalid, 2 unreadable).")
@json_option
@spool_option
@click.pass_context
def command(ctx: click.Context, traces: tuple[str, ...], quiet: bool, as_json: bool,
            spool: Spool) -> None:
    """Check traces against the schema and the format's rules.

    Prints `OK path` for a valid trace, else one line per problem:
    `path: record N (type): message`. Warnings (an incomplete trace) do not make a
    trace invalid. Exits 0 when all are valid, 1 when any is invalid, 2 when a file
    cannot be read as a trace at all.
    """
    if not traces:
        raise OrionError("no trace given (pass files, ids, '@', or '-' to read them from stdin)")
    status = 0
    report = []
    for path in resolve_many(traces, spool):
        try:
            problems = validate_trace(path)
        except TraceError as exc:
            status = 2
            report.append({"path": str(path), "valid": False, "readable": False,
                           "problems": [{"record": None, "type": None, "severity": ERROR,
                                         "message": exc.message}]})
            if not quiet and not as_json:
                click.echo(terminal(f"orion: error: {path}: {exc.message}"), err=True)
            continue
        valid = is_valid(problems)
        if not valid:
            status = max(status, 1)
        report.append({"path": str(path), "valid": valid, "readable": True,
                       "problems": [p.as_json() for p in problems]})
        if quiet or as_json:
            continue
        for problem in problems:
            prefix = "" if problem.severity == ERROR else "warning: "
            click.echo(terminal(f"{path}: {prefix}{problem}"))
        if valid:
            click.echo(f"OK {path}")
    if as_json and not quiet:
        write_json(report, sys.stdout)
    ctx.exit(status)
