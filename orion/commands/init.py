"""`orion init`: make the current project an orion project (.orion/, config, .gitignore)."""

from __future__ import annotations

from pathlib import Path

import click

from ..config import KNOWN_KEYS
from ..project import apply_steps, next_steps, plan_init, project_root
from ..runtimes import detect_languages


@click.command("init")
@click.argument("directory", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--mode", type=click.Choice(KNOWN_KEYS["capture.mode"].choices),
              default=KNOWN_KEYS["capture.mode"].default, show_default=True,
              help="capture.mode written to the new .orion/config.toml.")
@click.option("--dry-run", "-n", is_flag=True, help="Show what would be done; change nothing.")
def command(directory: Path | None, mode: str, dry_run: bool) -> None:
    """Set up .orion/ (spool and config.toml) in DIRECTORY and ignore it in git.

    DIRECTORY defaults to the top of the git working tree containing the working
    directory (or the working directory itself). The project's languages are detected from
    its files, and the next steps for each are printed. Running it again changes nothing.
    """
    root = directory.resolve() if directory else project_root()
    languages = detect_languages(root)
    steps = plan_init(root, mode)
    click.echo(f"project {root}")
    click.echo("languages: " + (", ".join(languages) if languages else "none detected"))
    if not steps:
        click.echo("already set up: nothing to do")
    for step in steps:
        click.echo(("would " if dry_run else "") + step.describe)
    if not dry_run:
        apply_steps(steps)
    for lang, text in next_steps(root, languages):
        first, *rest = text.splitlines()
        click.echo(f"next ({lang}): {first}")
        for line in rest:
            click.echo(f"  {line}" if line else "")
