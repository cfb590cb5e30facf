"""`orion cat`: every record of a trace, decoded, one JSON object per line (plumbing).

The decoded form is the one spec/otrace.schema.json describes: strings resolved, `t` in
nanoseconds since the trace started. Records stream from the file, so memory stays
bounded whatever the trace's size.
"""

from __future__ import annotations

import sys

import click

from ..errors import OrionError
from ..format import constants as C
from ..format.decode import Decoder
from ..format.reader import TraceReader
from ..ids import resolve_many
from ..options import spool_option, split_csv
from ..render.jsonout import dumps
from ..spool import Spool

TYPE_CHOICES = tuple(name for _, name in sorted(C.TYPE_NAMES.items())) + ("unknown",)
BATCH = 4096  # lines written per call to the stream


def _type_codes(names: tuple[str, ...]) -> tuple[frozenset[int], bool] | None:
    """The record codes --type asks for and whether codes this orion does not know are
    wanted too ("unknown"); None when every record is wanted."""
    if not names:
        return None
    by_name = {name: code for code, name in C.TYPE_NAMES.items()}
    wanted = split_csv(names) or frozenset()
    bad = wanted - set(TYPE_CHOICES)
    if bad:
        raise OrionError(f"unknown record type {', '.join(sorted(bad))!r} "
                         f"(choose from {', '.join(TYPE_CHOICES)})")
    codes = frozenset(by_name[name] for name in wanted if name in by_name)
    return codes, "unknown" in wanted


@click.command("cat")
@click.argument("refs", nargs=-1, required=True, metavar="ID...")
@click.option("--type", "-t", "types", multiple=True, metavar="TYPE",
              help=f"Only records of this type ({', '.join(TYPE_CHOICES)}); repeat or use "
                   f"commas.")
@spool_option
def command(spool: Spool, refs: tuple[str, ...], types: tuple[str, ...]) -> None:
    """Print every record of a trace as JSON lines (plumbing).

    ID is a trace id, a unique prefix, a path, '@', '@~N', or '-' to read ids from
    standard input; several traces are printed one after the other. A note goes to
    standard error when a trace is incomplete.
    """
    selection = _type_codes(types)
    paths = resolve_many(refs, spool)
    out = sys.stdout
    for path in paths:
        with TraceReader(path) as reader:
            record = Decoder(str(path)).record
            batch: list[str] = []
            for rec in reader.records():
                code = rec[0]
                if selection is not None and code not in selection[0] and not (
                        selection[1] and code not in C.TYPE_NAMES):
                    if code == C.STRING:  # later records still need the string table
                        record(rec)
                    continue
                batch.append(dumps(record(rec)))
                if len(batch) >= BATCH:
                    batch.append("")
                    out.write("\n".join(batch))
                    batch.clear()
            if batch:
                batch.append("")
                out.write("\n".join(batch))
            complete, truncated = reader.complete, reader.truncated
        if not complete:
            cut = ", its last frame was cut" if truncated else ""
            click.echo(f"orion: note: {path}: incomplete (no end record{cut}): the program "
                       f"stopped before the trace was closed", err=True)
