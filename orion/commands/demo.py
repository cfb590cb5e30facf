"""`orion demo`: write an example failing trace into the spool, then show it."""

from __future__ import annotations

import click

from ..demo import write_demo_trace
from ..options import spool_option
from ..spool import Spool


@click.command("demo")
@click.option("--no-show", is_flag=True, help="Only write the trace and print its path.")
@spool_option
@click.pass_context
def command(ctx: click.Context, spool: Spool, no_show: bool) -> None:
    """Record an example failing trace into the spool and show it.

    The trace is what a checkout program that dies of a ValueError five calls deep looks
    like; try `orion list`, `orion show @` and `orion cat @` on it afterwards.
    """
    path = write_demo_trace(spool)
    click.echo(f"wrote {path}", err=True)
    if not no_show:
        from . import show

        ctx.invoke(show.command, refs=(path,), spool=str(spool.path))
