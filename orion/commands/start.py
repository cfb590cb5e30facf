"""`orion start`: trace every new Python process of this user, with no code change."""

from __future__ import annotations

import click

from ..agent.launch import switch
from ..spool import resolve_spool


@click.command()
@click.option("--mode", type=click.Choice(["dev", "safe", "error"]), default="error",
              show_default=True, help="Capture mode for every new Python process.")
@click.option("--spool", metavar="DIR", default=None,
              help="Spool the traces go to (default: resolved in each process as usual).")
@click.option("--site", "site_path", metavar="DIR", default=None,
              help="site-packages directory for the hook (default: the user site-packages).")
def command(mode: str, spool: str | None, site_path: str | None) -> None:
    """Turn on capture for every new Python process (a .pth hook in site-packages).

    ORION_MODE=off in a process's environment turns it off for that process.
    """
    spool_path = str(resolve_spool(spool).resolve()) if spool else None
    path = switch(True, mode, spool_path, site_path)
    where = spool_path or "the default spool"
    click.echo(f"orion: capture on ({mode} mode) for new Python processes, into {where}",
               err=True)
    click.echo(f"orion: hook {path}; `orion stop` turns it off", err=True)
