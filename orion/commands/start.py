"""`orion start`: trace every new Python process of this user, with no code change."""

from __future__ import annotations

import click

from ..agent.config import parse_ring
from ..runtimes import runtimes
from ..spool import resolve_spool


@click.command()
@click.option("--mode", type=click.Choice(["dev", "safe", "error"]), default="error",
              show_default=True, help="Capture mode for every new Python process.")
@click.option("--spool", metavar="DIR", default=None,
              help="Spool the traces go to (default: resolved in each process as usual).")
@click.option("--ring", default="sampled", show_default=True, metavar="sampled|N",
              help="error mode's memory of what led to a failure: 'sampled' (every thread's "
                   "stack sampled about every millisecond, ~1.04x) or N, the exact last N "
                   "calls (~1.4x: a hook on every call).")
@click.option("--site", "site_path", metavar="DIR", default=None,
              help="site-packages directory for the hook (default: the user site-packages).")
def command(mode: str, spool: str | None, ring: str, site_path: str | None) -> None:
    """Turn on capture for every new Python process (a .pth hook in site-packages).

    ORION_MODE=off in a process's environment turns it off for that process.
    """
    parse_ring(ring)  # refused here, not in every process it would start in
    spool_path = str(resolve_spool(spool).resolve()) if spool else None
    changed = [runtime.switch(True, mode, spool_path, ring if mode == "error" else None,
                              site_path) for runtime in runtimes()]
    where = spool_path or "the default spool"
    how = f"{mode} mode, {ring} ring" if mode == "error" else f"{mode} mode"
    for what in filter(None, changed):
        click.echo(f"orion: capture on ({how}) for {what}, into {where}", err=True)
    click.echo("orion: `orion stop` turns it off", err=True)
