"""`orion fingerprint`: structural and failure fingerprints of traces.

Prints one line per trace: `<trace id>  s1:<hex>  f1:<hex>` (`-` when the trace did not
fail). `--json` prints [{"id", "path", "structural", "failure"}]. The algorithms are
described in orion/analysis/fingerprint.py and by `--explain`.
"""

from __future__ import annotations

import sys

import click

from ..analysis.fingerprint import (Fingerprints, explain_failure, explain_structure,
                                    failure_fingerprint, file_structure)
from ..ids import resolve_many
from ..options import json_option, spool_option
from ..render.jsonout import write_json
from ..render.safe import terminal
from ..spool import Spool


@click.command("fingerprint")
@click.argument("refs", nargs=-1, metavar="ID...")
@click.option("--explain", is_flag=True, help="List what went into each hash.")
@click.option("--failure", "only_failure", is_flag=True,
              help="Print only the failure fingerprint (traces that did not fail are skipped).")
@json_option
@spool_option
def command(refs: tuple[str, ...], explain: bool, only_failure: bool, as_json: bool,
            spool: Spool) -> None:
    """Fingerprint traces: equal for executions that took the same path.

    The structural fingerprint (s1:...) hashes the call tree's shape, ignoring values,
    times, ids and how often a loop or recursion repeated. The failure fingerprint
    (f1:...) hashes the exception type and the program's own frames on the failing
    stack, so the same bug hit with different data gets the same one. Ids may come on
    stdin: `orion list --failed | orion fingerprint -`.
    """
    results = []
    for path in resolve_many(refs, spool):
        folded, trace = file_structure(path)
        found = Fingerprints(folded.fingerprint, failure_fingerprint(trace))
        trace_id = trace.trace_id or str(path)
        if as_json:
            results.append({"id": trace_id, "path": str(path), **found.to_json()})
            continue
        if explain:
            click.echo(f"trace {trace_id}")
            explained = [] if only_failure else explain_structure(folded)
            for line in explained + explain_failure(trace):
                click.echo(terminal("  " + line))
        elif only_failure:
            if found.failure:
                click.echo(f"{trace_id}  {found.failure}")
        else:
            click.echo(f"{trace_id}  {found.structural}  {found.failure or '-'}")
    if as_json:
        write_json(results, sys.stdout)
