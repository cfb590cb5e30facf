"""`orion stop`: turn off the capture that `orion start` turned on."""

from __future__ import annotations

import click

from ..agent.launch import switch


@click.command()
@click.option("--site", "site_path", metavar="DIR", default=None,
              help="site-packages directory of the hook (default: the user site-packages).")
def command(site_path: str | None) -> None:
    """Turn off capture for new Python processes (ORION_MODE still works per process)."""
    path = switch(False, site_path=site_path)
    click.echo(f"orion: capture off for new Python processes (hook {path} reads only "
               f"ORION_MODE)", err=True)
