"""`orion list`: the traces in the spool, newest first, filtered by their summaries.

Fingerprints (the FINGERPRINT column, `--fingerprint X`, `--group-by fingerprint`) come
from the summary when the agent wrote them, else are computed once per file and kept in
the spool's hidden `.cache/`; a plain `orion list | ...` into a pipe never computes them.
They are computed reading the trace twice, never holding its whole tree, so memory stays
bounded whatever its size; only a ring window's trace (error mode) is loaded whole, so one
of more than IN_PASSING_MAX_RECORDS records gets none here (`-`, null in JSON; `orion
fingerprint ID` computes it).
"""

from __future__ import annotations

import sys

import click

from ..analysis.fingerprint import IN_PASSING_MAX_RECORDS, FingerprintCache, Fingerprints
from ..format.errors import OutOfMemory, TraceError
from ..options import filter_options, output_format_option, spool_option
from ..query import Listed, TraceFilter, listed_json, memory_named, select, selected
from ..render.jsonout import write_json, write_jsonl
from ..render.safe import terminal
from ..render.table import colour_status, format_table, wants_colour
from ..spool import Spool
from ..timeparse import format_duration_ns, format_time_ns

SHORT_ID = 12
SHORT_FINGERPRINT = 15  # "f1:" + 12 hex digits
UNKNOWN = "-"  # the fingerprint of a trace too big to fingerprint here


def primary(found: Fingerprints | None) -> str:
    return found.primary if found is not None else UNKNOWN


def _exception_text(summary: dict) -> str:
    exception = summary.get("exception") or {}
    return ": ".join(x for x in (exception.get("type"), exception.get("message"))
                     if x).replace("\n", " ")


def table_lines(items: list[Listed], colour: bool,
                found: list[Fingerprints | None] | None = None) -> list[str]:
    headers = ["ID", "STARTED", "LANG", "STATUS", "DURATION", "CALLS", "ENTRY", "EXCEPTION"]
    if found is not None:
        headers.insert(6, "FINGERPRINT")
    rows = []
    for index, item in enumerate(items):
        s = item.summary
        row = [
            item.entry.trace_id[:SHORT_ID],
            format_time_ns(s.get("start_ns")),
            s.get("language") or "-",
            s.get("status") or "-",
            format_duration_ns(s.get("duration_ns")),
            str((s.get("counts") or {}).get("calls", "-")),
            s.get("name") or s.get("root") or "-",
            _exception_text(s),
        ]
        if found is not None:
            row.insert(6, primary(found[index])[:SHORT_FINGERPRINT])
        rows.append(row)
    entry_col = len(headers) - 2
    lines = format_table(headers, rows, max_widths={entry_col: 40, entry_col + 1: 60})
    return [lines[0]] + [colour_status(line, item.summary.get("status"), colour)
                         for line, item in zip(lines[1:], items)]


def group_rows(items: list[Listed], found: list[Fingerprints | None]) -> list[dict]:
    """Traces per fingerprint, biggest group first (ties: the most recent first); the
    traces too big to fingerprint here form the group `-`."""
    groups: dict[str, dict] = {}
    for item, fp in zip(items, found):
        key = primary(fp)
        group = groups.setdefault(key, {"fingerprint": key, "count": 0, "ids": [],
                                        "statuses": {}, "example": item.summary})
        group["count"] += 1
        group["ids"].append(item.entry.trace_id)
        status = item.summary.get("status") or "-"
        group["statuses"][status] = group["statuses"].get(status, 0) + 1
    return sorted(groups.values(), key=lambda g: -g["count"])


def group_lines(groups: list[dict]) -> list[str]:
    rows = []
    for g in groups:
        example = g["example"]
        statuses = ",".join(f"{k}:{v}" for k, v in g["statuses"].items())
        rows.append([str(g["count"]), g["fingerprint"][:SHORT_FINGERPRINT], statuses,
                     g["ids"][0][:SHORT_ID], example.get("name") or example.get("root") or "-",
                     _exception_text(example)])
    return format_table(["COUNT", "FINGERPRINT", "STATUSES", "NEWEST", "ENTRY", "EXCEPTION"],
                        rows, max_widths={4: 40, 5: 60})


@click.command("list")
@filter_options
@click.option("--fingerprint", "fingerprint", metavar="X", default=None,
              help="Only traces whose structural or failure fingerprint starts with X.")
@click.option("--group-by", type=click.Choice(["fingerprint"]), default=None,
              help="Count traces per fingerprint (failure fingerprint for failed traces).")
@click.option("--limit", "-n", type=click.IntRange(min=1), default=None,
              help="Show at most N traces.")
@output_format_option(["table", "ids", "json", "jsonl"], terminal="table", pipe="ids")
@spool_option
@click.pass_context
def command(ctx: click.Context, spool: Spool, trace_filter: TraceFilter,
            fingerprint: str | None, group_by: str | None, limit: int | None,
            output_format: str) -> None:
    """List traces in the spool, newest first.

    On a terminal this prints a table; into a pipe, bare trace ids one per line, so
    `orion list --failed | head -2 | orion diff -` works. The FINGERPRINT column shows a
    failed trace's failure fingerprint, else its structural one (see `orion fingerprint`).
    With --group-by fingerprint: one row per fingerprint with its count (ids format: the
    newest trace of each group; json: [{"fingerprint", "count", "ids", "statuses",
    "example"}]). Exits 1 when no trace matches.
    """

    def warn(entry, error) -> None:
        click.echo(terminal(f"orion: warning: skipping {error}"), err=True)

    need_fingerprints = fingerprint is not None or group_by is not None or output_format != "ids"
    found: list[Fingerprints | None] | None = None
    if not need_fingerprints:
        items = select(spool.entries(), trace_filter, limit, on_error=warn)
    else:
        cache = FingerprintCache(spool.path)
        found = []
        kept = []
        # Read as needed: a trace removed before its fingerprint is read (writers and
        # `orion clean` at work) gives way to the next one, never a shorter list.
        for item in selected(spool.entries(), trace_filter, on_error=warn):
            try:
                with memory_named(item.entry.path):
                    fp = cache.get(item.entry.trace_id, item.entry.path, item.summary,
                                   max_records=IN_PASSING_MAX_RECORDS)
            except OutOfMemory:
                raise  # an error naming the file, never a row left out
            except (TraceError, OSError) as exc:  # one bad file never hides the rest
                if not item.entry.path.exists():
                    continue
                warn(item.entry, exc)
                continue
            if fp is None and fingerprint is not None:  # left out: say so, never silently
                short = item.entry.trace_id[:SHORT_ID]
                click.echo(f"orion: note: {short} is a ring window of more than "
                           f"{IN_PASSING_MAX_RECORDS:,} records and has no fingerprint here "
                           f"(`orion fingerprint {short}` computes it)", err=True)
            if fingerprint is None or (fp is not None and fp.matches(fingerprint)):
                kept.append(item)
                found.append(fp)
            if limit is not None and len(kept) >= limit:
                break
        items = kept
        cache.save()
    out = sys.stdout
    if group_by is not None:
        groups = group_rows(items, found)
        if output_format == "ids":
            out.writelines(g["ids"][0] + "\n" for g in groups)
        elif output_format == "json":
            write_json(groups, out)
        elif output_format == "jsonl":
            write_jsonl(groups, out)
        elif groups:
            click.echo("\n".join(map(terminal, group_lines(groups))))
    elif output_format == "ids":
        out.writelines(item.entry.trace_id + "\n" for item in items)
    elif output_format == "json":
        write_json([listed_json(item, fp) for item, fp in zip(items, found)], out)
    elif output_format == "jsonl":
        write_jsonl((listed_json(item, fp) for item, fp in zip(items, found)), out)
    elif items:
        colour = wants_colour(out)
        click.echo("\n".join(map(terminal, table_lines(items, colour, found))))
    if not items:
        if output_format == "table":
            click.echo(f"no traces match in {spool.path}", err=True)
        ctx.exit(1)
