"""`orion list`: the traces in the spool, newest first, filtered by their summaries."""

from __future__ import annotations

import sys

import click

from ..options import filter_options, output_format_option, spool_option
from ..query import Listed, TraceFilter, select
from ..render.jsonout import write_json, write_jsonl
from ..render.table import colour_status, format_table
from ..spool import Spool
from ..timeparse import format_duration_ns, format_time_ns

SHORT_ID = 12


def listed_json(item: Listed) -> dict:
    return {"id": item.entry.trace_id, "path": str(item.entry.path), **item.summary}


def table_lines(items: list[Listed], colour: bool) -> list[str]:
    headers = ["ID", "STARTED", "LANG", "STATUS", "DURATION", "CALLS", "ENTRY", "EXCEPTION"]
    rows = []
    for item in items:
        s = item.summary
        exception = s.get("exception") or {}
        exc_text = ": ".join(x for x in (exception.get("type"), exception.get("message")) if x)
        rows.append([
            item.entry.trace_id[:SHORT_ID],
            format_time_ns(s.get("start_ns")),
            s.get("language") or "-",
            s.get("status") or "-",
            format_duration_ns(s.get("duration_ns")),
            str((s.get("counts") or {}).get("calls", "-")),
            s.get("name") or s.get("root") or "-",
            exc_text.replace("\n", " "),
        ])
    lines = format_table(headers, rows, max_widths={6: 40, 7: 60})
    return [lines[0]] + [colour_status(line, item.summary.get("status"), colour)
                         for line, item in zip(lines[1:], items)]


@click.command("list")
@filter_options
@click.option("--limit", "-n", type=click.IntRange(min=1), default=None,
              help="Show at most N traces.")
@output_format_option(["table", "ids", "json", "jsonl"], terminal="table", pipe="ids")
@spool_option
@click.pass_context
def command(ctx: click.Context, spool: Spool, trace_filter: TraceFilter, limit: int | None,
            output_format: str) -> None:
    """List traces in the spool, newest first.

    On a terminal this prints a table; into a pipe, bare trace ids one per line, so
    `orion list --failed | head -2 | orion diff -` works. Exits 1 when no trace matches.
    """

    def warn(entry, error) -> None:
        click.echo(f"orion: warning: skipping {error}", err=True)

    items = select(spool.entries(), trace_filter, limit, on_error=warn)
    out = sys.stdout
    if output_format == "ids":
        out.writelines(item.entry.trace_id + "\n" for item in items)
    elif output_format == "json":
        write_json([listed_json(item) for item in items], out)
    elif output_format == "jsonl":
        write_jsonl((listed_json(item) for item in items), out)
    elif items:
        colour = out.isatty()
        click.echo("\n".join(table_lines(items, colour)))
    else:
        click.echo(f"no traces match in {spool.path}", err=True)
    if not items:
        ctx.exit(1)
