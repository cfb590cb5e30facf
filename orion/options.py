"""Options shared by many commands, each defined once as a decorator.

Each decorator adds its click options and hands the command a ready object (a Spool, a
TraceFilter, an output format) instead of raw strings, so commands stay thin.
"""

from __future__ import annotations

import functools
import re
import sys
from typing import Callable, Sequence

import click

from .errors import OrionError
from .format.constants import STATUSES
from .query import FAILED_STATUSES, TraceFilter
from .spool import Spool, resolve_spool
from .timeparse import parse_when_ns


def warn(message: str) -> None:
    """A warning on stderr, one line, as every command prints them."""
    from .render.safe import terminal

    click.echo(terminal(f"orion: warning: {message}"), err=True)


def spool_option(command: Callable) -> Callable:
    """`--spool DIR`; the command receives `spool: Spool`."""

    @functools.wraps(command)
    def wrapper(*args, spool: str | None, **kwargs):
        if spool is None:  # `orion --spool DIR list`
            spool = click.get_current_context().find_root().params.get("spool")
        return command(*args, spool=Spool(resolve_spool(spool), warn=warn), **kwargs)

    return click.option(
        "--spool", metavar="DIR", default=None,
        help="Spool directory (default: $ORION_SPOOL, the nearest .orion/spool, "
             "or the user data directory).",
    )(wrapper)


def mode_option(default: str, help: str) -> Callable:
    """`--mode dev|safe|error` for commands that run something traced; the command receives
    `mode`: the option, else $ORION_MODE, else capture.mode from a config file, else
    `default` (each command has the one that suits it)."""

    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def wrapper(*args, mode: str | None, **kwargs):
            if mode is None:
                from .config import agent_environ

                mode = agent_environ().get("ORION_MODE") or default
            return command(*args, mode=mode, **kwargs)

        return click.option(
            "--mode", type=click.Choice(["dev", "safe", "error"]), default=None,
            help=f"{help} [default: $ORION_MODE, else capture.mode in the config, "
                 f"else {default}]")(wrapper)

    return decorate


def output_format_option(formats: Sequence[str], terminal: str, pipe: str) -> Callable:
    """`--format` (and `--json` as its shortcut); the command receives `output_format`.

    Without an explicit choice the format depends on where stdout goes: `terminal` for a
    person, `pipe` for the next program.
    """

    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def wrapper(*args, output_format: str | None, as_json: bool, **kwargs):
            if as_json:
                output_format = "json"
            if output_format is None:
                output_format = terminal if sys.stdout.isatty() else pipe
            return command(*args, output_format=output_format, **kwargs)

        wrapper = click.option("--json", "as_json", is_flag=True,
                               help="Shortcut for --format json.")(wrapper)
        return click.option(
            "--format", "-f", "output_format", type=click.Choice(list(formats)), default=None,
            help=f"Output format (default: {terminal} on a terminal, {pipe} in a pipe).",
        )(wrapper)

    return decorate


def json_option(command: Callable) -> Callable:
    """`--json` for commands whose only other output is for people."""
    return click.option("--json", "as_json", is_flag=True,
                        help="Print JSON (a stable shape, see the docs) instead of text.")(command)


def split_csv(values: Sequence[str]) -> frozenset[str] | None:
    """A repeatable option's values, each possibly comma-separated; None when empty."""
    items = {part.strip() for value in values for part in value.split(",") if part.strip()}
    return frozenset(items) or None


def filter_options(command: Callable) -> Callable:
    """Trace selection shared by list, clean and friends; the command gets `trace_filter`."""

    @functools.wraps(command)
    def wrapper(*args, failed: bool, ok: bool, status: Sequence[str], lang: Sequence[str],
                since: str | None, until: str | None, grep: str | None, **kwargs):
        statuses = split_csv(status)
        if statuses:
            unknown = statuses - set(STATUSES)
            if unknown:
                raise OrionError(f"unknown status {', '.join(sorted(unknown))!r} "
                                 f"(choose from {', '.join(STATUSES)})")
        if failed and ok:
            raise OrionError("--failed and --ok exclude each other")
        if failed:
            statuses = (statuses or FAILED_STATUSES) & FAILED_STATUSES
        if ok:
            statuses = frozenset({"ok"})
        try:
            pattern = re.compile(grep, re.IGNORECASE) if grep else None
        except re.error as exc:
            raise OrionError(f"--grep {grep!r} is not a valid regular expression ({exc})")
        trace_filter = TraceFilter(
            statuses=statuses,
            languages=split_csv(lang),
            since_ns=parse_when_ns(since) if since else None,
            until_ns=parse_when_ns(until) if until else None,
            grep=pattern,
        )
        return command(*args, trace_filter=trace_filter, **kwargs)

    options = [
        click.option("--failed", is_flag=True,
                     help="Only traces that failed, crashed or are incomplete."),
        click.option("--ok", is_flag=True, help="Only traces that finished without failure."),
        click.option("--status", multiple=True, metavar="STATUS",
                     help=f"Only these statuses ({', '.join(STATUSES)}); repeat or use commas."),
        click.option("--lang", multiple=True, metavar="LANG",
                     help="Only traces from these languages (python, c, cpp, go, rust, node, "
                          "java); repeat or use commas."),
        click.option("--since", metavar="WHEN",
                     help="Only traces started after WHEN: a duration ago (2h, 3d) or a date."),
        click.option("--until", metavar="WHEN",
                     help="Only traces started before WHEN: a duration ago or a date."),
        click.option("--grep", metavar="REGEX",
                     help="Only traces in which a function name, the exception type or its "
                          "message matches (a case-insensitive regular expression)."),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


MAX_COMPLETIONS = 50


def complete_trace_ids(ctx: click.Context, param: click.Parameter,
                       incomplete: str) -> list:
    """Shell completion for trace references: ids from the spool (newest first), then `@`."""
    from click.shell_completion import CompletionItem

    from .format.errors import TraceError
    from .format.summary import read_summary

    spool = Spool(resolve_spool(ctx.params.get("spool")))
    items = []
    for entry in spool.entries():
        if len(items) >= MAX_COMPLETIONS:
            break
        if not entry.trace_id.startswith(incomplete.lower()):
            continue
        try:
            summary = read_summary(entry.path)
            what = " ".join(str(x) for x in (summary.get("status"),
                                             summary.get("name") or summary.get("root")) if x)
        except (TraceError, OSError):  # completion must never fail on one bad file
            what = ""
        items.append(CompletionItem(entry.trace_id, help=what or None))
    if "@".startswith(incomplete):
        items.append(CompletionItem("@", help="the newest trace"))
    return items
