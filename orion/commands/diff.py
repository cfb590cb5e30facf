"""`orion diff A B`: compare two executions by structure (see docs/diff.md)."""

from __future__ import annotations

import math
import sys

import click

from ..analysis.diff import (DEFAULT_TIME_MIN_NS, DEFAULT_TIME_THRESHOLD, DiffOptions,
                             diff_files, result_json)
from ..errors import OrionError
from ..ids import resolve_many
from ..options import json_option, spool_option
from ..render.diff import render_side_by_side, render_unified
from ..render.jsonout import write_json
from ..render.safe import terminal
from ..render.table import wants_colour
from ..spool import Spool
from ..timeparse import parse_nanoseconds


def _threshold(text: str) -> float:
    """`50%` or `0.5` -> 0.5; anything else (a bare 50, a negative, nan) is refused rather
    than guessed at."""
    percent = text.strip().endswith("%")
    try:
        value = float(text.strip().rstrip("%")) / (100 if percent else 1)
    except ValueError:
        value = math.nan
    if not 0 <= value < math.inf or (not percent and value > 1):
        raise OrionError(f"--time-threshold {text!r}: give a percentage (50%) or a fraction "
                         f"from 0 to 1 (0.5)")
    return value


@click.command("diff")
@click.argument("refs", nargs=-1, metavar="A B")
@click.option("--side-by-side", "-y", is_flag=True, help="Show A and B in two columns.")
@click.option("--time-threshold", default=f"{DEFAULT_TIME_THRESHOLD:.0%}", show_default=True,
              metavar="PCT", help="Report a function whose total time changed by this much "
                   "(50% or 0.5).")
@click.option("--time-min", default=str(DEFAULT_TIME_MIN_NS), show_default=True,
              metavar="NS", help="... and by at least this much (ns, or 500us, 5ms, 1s).")
@click.option("--no-timing", is_flag=True, help="Compare structure and values only.")
@click.option("--colour/--no-colour", "--color/--no-color", default=None,
              help="Colour the output (default: on a terminal).")
@json_option
@spool_option
@click.pass_context
def command(ctx: click.Context, refs: tuple[str, ...], side_by_side: bool, time_threshold: str,
            time_min: str, no_timing: bool, colour: bool | None, as_json: bool,
            spool: Spool) -> None:
    """Compare two traces by structure, not by clock.

    Call trees are aligned lane by lane; the output names the first divergence (where
    the two paths split, with its stack on each side), then every difference: calls on
    one side only, different arguments, return values or exceptions, and functions whose
    total time changed by more than --time-threshold and --time-min. Give two ids, or
    pipe them in (`orion list --failed | head -2 | orion diff`; `-` reads stdin too).

    --json prints {"version": 1, "a": {"id", "path", "status", "calls"}, "b": {...},
    "same", "matched_calls", "first_divergence": null or {"index", "kind", "lane",
    "function", "parent", "a_stack", "b_stack"}, "differences": [{"kind", "lane",
    "function", "path", "a", "b", "detail"}], "counts": {kind: n}}; kinds are only_a,
    only_b, args, return, exception, outcome, raised, lane, timing (docs/diff.md).

    Exit status: 0 the same, 1 different, 2 error.
    """
    paths = resolve_many(refs, spool)
    if len(paths) != 2:
        raise OrionError(f"diff compares two traces, got {len(paths)}")
    options = DiffOptions(time_threshold=_threshold(time_threshold),
                          time_min_ns=parse_nanoseconds(time_min, "--time-min"), timing=not no_timing)
    result = diff_files(paths[0], paths[1], options)
    if as_json:
        write_json(result_json(result), sys.stdout)
    else:
        colour = wants_colour(sys.stdout, colour)
        render = render_side_by_side if side_by_side else render_unified
        for line in render(result, options, colour):
            click.echo(terminal(line), color=colour)
    ctx.exit(0 if result.same else 1)
