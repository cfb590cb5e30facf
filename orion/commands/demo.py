"""`orion demo`: record the bundled example program failing, then show its trace."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import click

from ..running import run_with_capture
from ..runtimes import Capture
from ..options import spool_option
from ..spool import Spool, user_data_dir

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "checkout.py"


@click.command("demo")
@click.option("--no-show", is_flag=True, help="Only record the trace and print its path.")
@spool_option
@click.pass_context
def command(ctx: click.Context, spool: Spool, no_show: bool) -> None:
    """Record the bundled checkout example failing, then show its trace.

    The example dies of a ValueError five calls deep; the trace holds every call with its
    arguments, the exception, and the locals of each frame it unwound. Afterwards try
    `orion list`, `orion show @`, `orion replay @` and `orion cat @`.
    """
    # The agent never traces code inside its own package (or site-packages), so the
    # example runs from a copy in the user's data directory, where it stays readable
    # for `orion replay` to show its source lines.
    program = user_data_dir() / "examples" / EXAMPLE.name
    program.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(EXAMPLE, program)
    argv = [sys.executable, str(program), "--coupon", "SAVE15%X"]
    click.echo(f"orion: recording {' '.join(argv[1:])}", err=True)
    capture = Capture(mode="dev", spool=str(spool.path.resolve()), base=dict(os.environ))
    written = run_with_capture(argv, capture).written
    if not written:
        raise click.ClickException("the example ran but wrote no trace (see `orion doctor`)")
    click.echo(f"orion: wrote {written[-1]}", err=True)
    if not no_show:
        from . import show

        ctx.invoke(show.command, refs=(str(written[-1]),), spool=str(spool.path))
