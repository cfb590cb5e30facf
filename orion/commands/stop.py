"""`orion stop`: turn off the capture that `orion start` turned on."""

from __future__ import annotations

import click

from ..runtimes import runtimes


@click.command()
@click.option("--site", "site_path", metavar="DIR", default=None,
              help="site-packages directory of the hook (default: the user site-packages).")
def command(site_path: str | None) -> None:
    """Turn off capture for new Python processes (ORION_MODE still works per process)."""
    for runtime in runtimes():
        what = runtime.switch(False, "error", None, None, site_path)
        if what:
            click.echo(f"orion: capture off for {what}; ORION_MODE still turns it on for "
                       f"one process", err=True)
