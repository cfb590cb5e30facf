"""`orion clean`: delete traces from the spool, after showing what will go."""

from __future__ import annotations

import sys

import click

from ..cleaning import CleanPlan, delete, plan_clean
from ..render.progress import progress
from ..errors import OrionError
from ..options import filter_options, json_option, spool_option
from ..query import TraceFilter
from ..render.jsonout import write_json
from ..render.safe import terminal
from ..render.table import format_bytes
from ..spool import Spool
from ..timeparse import parse_duration_ns


def describe(plan: CleanPlan) -> str:
    text = f"{len(plan.traces)} trace(s)"
    if plan.temporaries:
        text += f" and {len(plan.temporaries)} stale temporary file(s)"
    return f"{text}, {format_bytes(plan.size)}"


@click.command("clean")
@click.option("--older-than", metavar="DURATION",
              help="Only traces started more than DURATION ago (30m, 12h, 7d, 2w).")
@click.option("--keep", type=click.IntRange(min=0), metavar="N",
              help="Keep the newest N of the selected traces; delete the rest.")
@filter_options
@click.option("--all", "select_all", is_flag=True,
              help="Select every trace (the other options still narrow it).")
@click.option("--dry-run", "-n", is_flag=True, help="List what would be deleted; delete nothing.")
@click.option("--yes", "-y", is_flag=True, help="Delete without asking.")
@json_option
@spool_option
@click.pass_context
def command(ctx: click.Context, spool: Spool, older_than: str | None, keep: int | None, trace_filter: TraceFilter,
            select_all: bool, dry_run: bool, yes: bool, as_json: bool) -> None:
    """Delete traces from the spool.

    Say what to delete: `--older-than 7d`, `--keep 100`, `--failed`, `--ok`, the other
    filters, or `--all`; they combine. Stale temporary files that killed writers left
    behind go too. On a terminal it asks first; in scripts pass --yes. --dry-run only
    lists the files (one path per line).
    """
    filtering = trace_filter != TraceFilter()
    if not (older_than or keep is not None or filtering or select_all):
        raise OrionError("say what to delete: --older-than, --keep, --failed, --ok or --all")

    def warn(entry, error) -> None:
        click.echo(terminal(f"orion: warning: keeping unreadable {error}"), err=True)

    plan = plan_clean(spool, trace_filter if filtering else None,
                      parse_duration_ns(older_than) if older_than else None, keep,
                      on_error=warn)
    if dry_run or not plan.files:
        report(spool, plan, dry_run=True, as_json=as_json)
        return
    if not yes:
        if not sys.stdin.isatty():
            raise OrionError(f"would delete {describe(plan)} from {spool.path}: pass --yes to "
                             f"confirm without a terminal (--dry-run lists them)")
        click.confirm(f"Delete {describe(plan)} from {spool.path}?", abort=True, err=True)
    with progress(plan.files, "deleting") as items:
        deleted, failed = delete(items)
    report(spool, CleanPlan([d for d in deleted if d.trace_id],
                            [d for d in deleted if not d.trace_id]), dry_run=False,
           as_json=as_json)
    for item, exc in failed:
        click.echo(f"orion: error: cannot delete {item.path}: {exc.strerror or exc}", err=True)
    if failed:
        ctx.exit(2)


def report(spool: Spool, plan: CleanPlan, dry_run: bool, as_json: bool) -> None:
    """What went (or would go): JSON, or paths on stdout for a dry run and one line on stderr."""
    if as_json:
        write_json({"spool": str(spool.path), "dry_run": dry_run,
                    "traces": [item.as_json() for item in plan.traces],
                    "temporaries": [item.as_json() for item in plan.temporaries],
                    "count": len(plan.traces), "bytes": plan.size}, sys.stdout)
    elif dry_run:
        for item in plan.files:
            click.echo(str(item.path))
    if not plan.files:
        click.echo(f"nothing to delete in {spool.path}", err=True)
    else:
        verb = "would delete" if dry_run else "deleted"
        click.echo(f"{verb} {describe(plan)} from {spool.path}", err=True)
