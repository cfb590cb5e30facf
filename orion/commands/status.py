"""`orion status`: is capture on, where do traces go, and what failed lately."""

from __future__ import annotations

import sys

import click

from ..doctor import capture_state, serve_processes, spool_stats
from ..options import json_option, spool_option
from ..render.jsonout import write_json
from ..render.progress import progress
from ..render.safe import terminal
from ..render.table import format_bytes
from ..serve.registry import url_of
from ..spool import Spool
from ..timeparse import format_time_ns


@click.command("status")
@json_option
@spool_option
def command(as_json: bool, spool: Spool) -> None:
    """Show whether capture is on and how, the spool (traces total, failed, incomplete,
    disk used), the newest failures, and whether `orion serve` is running, and where."""
    state = capture_state()
    with progress(spool.entries(), "reading summaries") as items:
        stats = spool_stats(spool, items)
    serving = serve_processes() or []
    failures = [{"id": f.entry.trace_id, "status": f.summary.get("status"),
                 "start_ns": f.summary.get("start_ns"),
                 "name": f.summary.get("name") or f.summary.get("root"),
                 "exception": (f.summary.get("exception") or {}).get("type")}
                for f in stats.newest_failures]
    if as_json:
        write_json({"capture": state, "spool": stats.path, "total": stats.total,
                    "failed": stats.failed, "incomplete": stats.incomplete,
                    "bytes": stats.bytes, "newest_failures": failures,
                    "serve": [{"pid": pid, "url": url_of(pid)} for pid in serving]},
                   sys.stdout)
        return
    click.echo(f"capture: {'on' if state['on'] else 'off'} ({state['how']})")
    click.echo(f"spool: {stats.path}")
    click.echo(f"traces: {stats.total} total, {stats.failed} failed, "
               f"{stats.incomplete} incomplete, {format_bytes(stats.bytes)}")
    if failures:
        click.echo("newest failures:")
        for f in failures:
            what = " ".join(x for x in (f["name"], f["exception"]) if x)
            click.echo(terminal(f"  {f['id'][:12]}  {format_time_ns(f['start_ns'])}  "
                                f"{f['status']}  {what}"))
    for pid in serving:
        click.echo(f"serve: running at {url_of(pid) or 'an unknown address'} (pid {pid})")
    if not serving:
        click.echo("serve: not running")
