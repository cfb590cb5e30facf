"""`orion test -- CMD...`: run a test command under capture; one trace per failing test."""

from __future__ import annotations

import sys

import click

from ..running import exit_like, shell_status
from ..options import json_option, mode_option, spool_option
from ..render.jsonout import dumps
from ..render.table import format_table
from ..spool import Spool
from ..testrun import table_rows, run_captured


@click.command("test", context_settings={"ignore_unknown_options": True,
                                         "allow_interspersed_args": False})
@mode_option("error", "A trace per failing test in every mode; dev/safe also trace the "
                     "whole run (its calls, with adaptive capture).")
@click.option("--output", "-o", type=click.File("w"), default=None, metavar="FILE",
              help="Write the summary to FILE instead of standard error.")
@json_option
@spool_option
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def command(mode: str, output, as_json: bool, spool: Spool, command: tuple[str, ...]) -> None:
    """Run COMMAND (pytest ..., python -m pytest ...) with capture on, then summarise.

    The summary lists the traces the run wrote (test id, outcome, exception, trace id,
    failure fingerprint) on standard error, or in FILE with --output, so the command's
    own standard output is unchanged. Exits with the command's exit status; the traces
    stay in the spool for `orion show` or `orion export`.
    """
    result = run_captured(list(command), spool, mode)
    out = output or sys.stderr
    if as_json:
        out.write(dumps({"status": shell_status(result.status), "spool": str(spool.path),
                         "traces": [f.json() for f in result.traces]}, indent=2) + "\n")
    elif result.traces:
        headers, rows = table_rows(result.traces)
        out.write("\n".join(format_table(headers, rows, max_widths={2: 60})) + "\n")
        out.write(f"orion: {len(rows)} trace(s) in {spool.path}; "
                  f"`orion show <TRACE>` shows one\n")
    else:
        out.write(f"orion: no trace written (exit status {shell_status(result.status)})\n")
    out.flush()
    exit_like(result.status)
