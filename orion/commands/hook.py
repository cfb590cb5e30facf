"""`orion hook install|uninstall`: git hooks that run the tests under capture."""

from __future__ import annotations

import re
import shutil
import sys

import click

from ..hooks import (HOOKS, default_command, install, repo_root, run_hook, tagged_traces,
                     uninstall)
from ..running import shell_status
from ..errors import OrionError
from ..options import spool_option
from ..render.table import format_table
from ..spool import Spool
from ..testrun import table_rows


@click.group("hook")
def command() -> None:
    """Install or remove git hooks that run the project's tests under capture.

    A failing run refuses the commit (or push) and keeps one trace per failing test in
    the spool, tagged with the commit it was taken at.
    """


@command.command("install", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED, metavar="[HOOK] [-- CMD...]",
                shell_complete=lambda ctx, param, incomplete: [
                    h for h in HOOKS if h.startswith(incomplete) and not ctx.params.get("args")])
def install_command(args: tuple[str, ...]) -> None:
    """Install HOOK (pre-commit, the default, or pre-push) running CMD under capture.

    CMD defaults to the project's test command (python -m pytest -q, cargo test, go test
    ./..., npm test, mvn -q test or gradle test, from its files). A hook already there is kept
    as HOOK.orion-backup and still runs first.
    """
    hook, cmd = (args[0], list(args[1:])) if args and args[0] in HOOKS else ("pre-commit",
                                                                             list(args))
    if cmd and _looks_like_a_hook(cmd[0]):
        raise OrionError(f"unknown hook {cmd[0]!r}: orion installs {' or '.join(HOOKS)} "
                         f"(then -- CMD... for the command to run)")
    repo = repo_root()
    done = install(repo, hook, cmd or default_command(repo))
    click.echo(f"installed {done.path}")
    if done.backup is not None:
        click.echo(f"the earlier hook is kept as {done.backup} and runs first")


def _looks_like_a_hook(word: str) -> bool:
    """`pre-comit`, `post-commit`: a hook's name, not a command (no such program)."""
    return re.fullmatch(r"[a-z]+(-[a-z]+)+", word) is not None and shutil.which(word) is None


@command.command("uninstall")
@click.argument("hooks", nargs=-1, type=click.Choice(HOOKS))
def uninstall_command(hooks: tuple[str, ...]) -> None:
    """Remove orion's HOOKS (default: all) and restore the hooks they replaced."""
    repo = repo_root()
    changed = False
    for hook in hooks or HOOKS:
        what = uninstall(repo, hook)
        if what:
            click.echo(what)
            changed = True
    if not changed:
        click.echo("no orion hook installed", err=True)


@command.command("list")
@spool_option
@click.pass_context
def list_command(ctx: click.Context, spool: Spool) -> None:
    """List the traces hook runs kept: trace id, hook, commit (HEAD when the hook ran)
    and, for pre-commit, the staged tree. Exits 1 when there are none."""
    found = tagged_traces(spool)
    rows = [[trace_id, tag.get("hook", "-"), tag.get("commit", "-"), tag.get("tree", "-")]
            for trace_id, tag in found]
    if rows:
        click.echo("\n".join(format_table(["TRACE", "HOOK", "COMMIT", "TREE"], rows)))
    else:
        click.echo(f"no trace in {spool.path} was kept by a git hook", err=True)
        ctx.exit(1)


@command.command("run", hidden=True, context_settings={"ignore_unknown_options": True,
                                                       "allow_interspersed_args": False})
@click.argument("hook", type=click.Choice(HOOKS))
@spool_option
@click.argument("cmd", nargs=-1, required=True, type=click.UNPROCESSED)
def run_command(hook: str, spool: Spool, cmd: tuple[str, ...]) -> None:
    """What an installed hook runs: CMD under capture, traces tagged with the commit."""
    result, info = run_hook(repo_root(), hook, list(cmd), spool)
    if result.traces:
        headers, rows = table_rows(result.traces)
        click.echo("\n".join(format_table(headers, rows, max_widths={2: 60})), err=True)
    if result.status != 0:
        at = info.get("commit", "the first commit")[:12]
        click.echo(f"orion: {hook} refused: the tests failed (exit status {result.status}); "
                   f"{len(result.traces)} trace(s) tagged with {at} in {spool.path}", err=True)
    sys.exit(shell_status(result.status))
