"""`orion doctor`: check the installation; say how to fix each problem."""

from __future__ import annotations

import sys

import click

from ..doctor import FAIL, OK, run_checks
from ..options import json_option, spool_option
from ..project import project_root
from ..render.jsonout import write_json
from ..render.table import wants_colour
from ..spool import Spool

_LABELS = {OK: ("ok", "green"), "warn": ("warn", "yellow"), FAIL: ("FAIL", "red")}


@click.command("doctor")
@json_option
@spool_option
@click.pass_context
def command(ctx: click.Context, as_json: bool, spool: Spool) -> None:
    """Check the spool, the zero-config hook, each language's agent and toolchain (the
    Python hook and pytest plugin, that the C/C++ agent builds...) and the git hooks.

    Each problem comes with the line that fixes it. Exits 1 when a check fails (warnings
    alone exit 0).
    """
    checks = run_checks(spool, project_root())
    if as_json:
        write_json([c.json() for c in checks], sys.stdout)
    else:
        colour = wants_colour(sys.stdout)
        for check in checks:
            label, fg = _LABELS[check.level]
            label = click.style(f"{label:<4}", fg=fg) if colour else f"{label:<4}"
            click.echo(f"{label}  {check.name}: {check.detail}")
            if check.fix:
                click.echo(f"      fix: {check.fix}")
    if any(check.level == FAIL for check in checks):
        ctx.exit(1)
