"""`orion watch -- CMD...`: re-run CMD under capture on every change; show what changed."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..running import exit_like
from ..options import mode_option, spool_option
from ..project import project_root
from ..render.progress import progress
from ..render.safe import terminal
from ..spool import Spool
from ..watching import Change, describe, watch


@click.command("watch", context_settings={"ignore_unknown_options": True,
                                          "allow_interspersed_args": False})
@mode_option("error", "Capture mode of each run (error: a trace per failure; dev: whole "
                     "runs, diffed run to run).")
@click.option("--debounce", type=click.FloatRange(min=0), default=0.3, show_default=True,
              metavar="SECONDS", help="Quiet time after the last change before a run.")
@click.option("--max-runs", type=click.IntRange(min=1), default=None, metavar="N",
              help="Stop after N runs (default: until interrupted).")
@click.option("--root", type=click.Path(exists=True, file_okay=False), default=None,
              help="Directory to watch (default: the top of the git working tree).")
@spool_option
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def command(mode: str, debounce: float, max_runs: int | None, root: str | None, spool: Spool,
            command: tuple[str, ...]) -> None:
    """Run COMMAND under capture now and after every change to the project.

    Files git ignores, version control directories and the spool do not count as
    changes. After each run, standard error shows the new failures, the fixed ones, and
    for a failure seen in both runs where its executions first diverge. Exits with the
    last run's status.
    """
    where = Path(root).resolve() if root else project_root()

    def report(run: int, changed: list[str], change: Change) -> None:
        existing = [c for c in changed if (where / c).exists()] or changed  # not temp files
        shown = ", ".join(existing[:5]) + (f" and {len(existing) - 5} more"
                                           if len(existing) > 5 else "")
        why = f" after changes to {shown}" if changed else ""
        click.echo(f"orion watch: run {run}{why}", err=True)
        for line in describe(change):
            click.echo(terminal(line), err=True)
        sys.stderr.flush()

    click.echo(f"orion watch: watching {where}; ^C stops", err=True)
    try:
        status = watch(where, list(command), spool, mode, report, debounce, max_runs,
                       progress=progress)
    except KeyboardInterrupt:
        status = 130
    exit_like(status)
