"""`orion run -- COMMAND...`: run a command with capture on for every runtime (the Python
agent in its Python processes, the preloaded native agent in its C/C++ programs, ...)."""

from __future__ import annotations

import click

from ..options import mode_option, spool_option
from ..running import RUN_MODE, exit_like, traced_run
from ..spool import Spool


@click.command(context_settings={"ignore_unknown_options": True,
                                 "allow_interspersed_args": False})
@mode_option(RUN_MODE, "dev: everything; safe: calls only, sampled; error: a trace only when "
                   "something fails.")
@click.option("--include", "include", multiple=True, metavar="MODULE",
              help="Also trace this module (and its submodules), e.g. a library. Repeatable.")
@click.option("--exclude", "exclude", multiple=True, metavar="MODULE",
              help="Never trace this module (and its submodules). Repeatable.")
@click.option("--include-func", "include_funcs", multiple=True, metavar="PATTERN",
              help="C/C++: record only functions whose name matches this glob "
                   "(e.g. 'shop_*', 'ns::Cart::*'). Repeatable.")
@click.option("--exclude-func", "exclude_funcs", multiple=True, metavar="PATTERN",
              help="C/C++: never record functions whose name matches this glob. Repeatable.")
@click.option("--sample", default=None, metavar="RATE",
              help="safe mode: fraction of runs recorded (0.01, 1%), or 'off' to record all "
                   "[default: capture.sample_rate or $ORION_SAMPLE, else off].")
@spool_option
@click.option("--verbose", "-v", is_flag=True, help="Say how each runtime records.")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def command(mode: str, include: tuple[str, ...], exclude: tuple[str, ...],
            include_funcs: tuple[str, ...], exclude_funcs: tuple[str, ...], sample: str | None,
            spool: Spool, verbose: bool, command: tuple[str, ...]) -> None:
    """Run COMMAND (python app.py, python -m pkg, an instrumented C/C++ program...) traced.

    The program's output and exit status are its own; the ids of the traces it wrote
    are printed on stderr.
    """
    exit_like(traced_run(list(command), mode=mode, spool=str(spool.path), include=include,
                         exclude=exclude, include_funcs=include_funcs,
                         exclude_funcs=exclude_funcs, sample=sample, verbose=verbose,
                         say=lambda line: click.echo(line, err=True)))
