"""`orion config`: get, set, unset and list settings in the user and project files."""

from __future__ import annotations

import sys

import click

from ..config import (
    KNOWN_KEYS, config_path, format_value, key_for, parse_value, resolve_config, set_value,
    unset_value,
)
from ..options import json_option
from ..render.jsonout import write_json
from ..render.table import format_table


def scope_option(command):
    """`--user` (the default) or `--project`; the command receives `scope`."""
    command = click.option("--project", "scope", flag_value="project",
                           help="The project's .orion/config.toml (shared with the team).")(command)
    return click.option("--user", "scope", flag_value="user", default=True,
                        help="The user's config file (the default).")(command)


@click.group("config")
def command() -> None:
    """Get, set and list configuration values.

    Settings live in the user's config file and in the project's .orion/config.toml,
    which wins. Keys are dotted (capture.mode, redact.names ...); `orion config list`
    shows every known key, its value and where that value comes from. Keys of your own
    start with `x.`.
    """


@command.command("get")
@click.argument("key")
@click.pass_context
def get(ctx: click.Context, key: str) -> None:
    """Print the value of KEY (lists comma-separated); exit 1 when it has none."""
    key_for(key)
    setting = resolve_config().get(key)
    if setting is None or setting.value is None:
        click.echo(f"{key} is not set", err=True)
        ctx.exit(1)
    click.echo(format_value(setting.value))


@command.command("set")
@click.argument("key")
@click.argument("value")
@scope_option
def set_(key: str, value: str, scope: str) -> None:
    """Set KEY to VALUE in the user's file, or the project's with --project.

    Lists are given comma-separated: `orion config set capture.exclude 'tests/*,vendor/*'`.
    """
    parsed = parse_value(key, value)
    path = set_value(key, parsed, scope)
    click.echo(f"{key} = {format_value(parsed)}  ({path})", err=True)


@command.command("unset")
@click.argument("key")
@scope_option
@click.pass_context
def unset(ctx: click.Context, key: str, scope: str) -> None:
    """Remove KEY from the user's file, or the project's with --project; exit 1 if absent."""
    if unset_value(key, scope):
        click.echo(f"unset {key} in {config_path(scope)}", err=True)
        return
    setting = resolve_config().get(key)
    where = (f"; it is set in the {setting.source} config {setting.path}"
             if setting is not None and setting.path is not None else "")
    click.echo(f"{key} is not set in {config_path(scope)}{where}", err=True)
    ctx.exit(1)


@command.command("list")
@json_option
def list_(as_json: bool) -> None:
    """Show every setting, its value and where it comes from (default, user, project)."""
    settings = resolve_config().values()
    if as_json:
        write_json([{"key": s.key, "value": s.value, "source": s.source,
                     "path": str(s.path) if s.path else None,
                     "help": KNOWN_KEYS[s.key].help if s.key in KNOWN_KEYS else None}
                    for s in settings], sys.stdout)
        return
    rows = [[s.key, format_value(s.value) if s.value is not None else "-",
             f"{s.source} ({s.path})" if s.path else s.source] for s in settings]
    click.echo("\n".join(format_table(["KEY", "VALUE", "SOURCE"], rows, max_widths={1: 60})))
