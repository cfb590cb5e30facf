"""`orion run -- COMMAND...`: run a command with capture on: the Python agent for the
Python processes it starts, the preloaded C agent for instrumented C/C++ programs."""

from __future__ import annotations

import os

import click

from ..agent.config import AgentConfig, parse_sample
from ..agent.launch import exit_like, run_traced
from ..config import agent_environ
from ..options import mode_option, spool_option
from ..spool import Spool


@click.command(context_settings={"ignore_unknown_options": True,
                                 "allow_interspersed_args": False})
@mode_option("dev", "dev: everything; safe: calls only, sampled; error: a trace only when "
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
@click.option("--verbose", "-v", is_flag=True, help="Say which hook (C or Python) is active.")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def command(mode: str, include: tuple[str, ...], exclude: tuple[str, ...],
            include_funcs: tuple[str, ...], exclude_funcs: tuple[str, ...], sample: str | None,
            spool: Spool, verbose: bool, command: tuple[str, ...]) -> None:
    """Run COMMAND (python app.py, python -m pkg, an instrumented C/C++ program...) traced.

    The program's output and exit status are its own; the ids of the traces it wrote
    are printed on stderr.
    """
    environ = agent_environ()
    if sample is None and mode == "safe" and "ORION_SAMPLE" not in environ:
        sample = "off"  # a run asked for by hand is recorded, unless a rate is configured
    config = AgentConfig.from_env(
        environ, mode=mode, include_modules=list(include) or None,
        exclude_modules=list(exclude) or None, spool=str(spool.path.resolve()),
        sample=parse_sample(sample) if sample else None)
    from ..native.launch import native_env

    # C/C++ programs: preload the agent
    os.environ.update(native_env(mode, config.spool, include_funcs, exclude_funcs))
    if verbose:
        from ..agent import hook_kind

        click.echo(f"orion: {mode} mode, {hook_kind()} hook, spool {config.spool}", err=True)
    status, written = run_traced(list(command), config)
    from ..format.summary import read_summary

    for path in written:
        try:
            summary = read_summary(path)
            click.echo(f"orion: trace {summary['trace_id']} {summary.get('status')}", err=True)
        except Exception:
            click.echo(f"orion: trace {path}", err=True)
    if not written and mode == "error":
        click.echo("orion: no trace written (error mode: nothing failed)", err=True)
    elif not written and mode == "safe" and config.sample < 1.0:
        click.echo(f"orion: no trace written (safe mode: this run was not among the "
                   f"{config.sample:.0%} sampled)", err=True)
    elif not written:
        click.echo("orion: no trace written: no agent ran in this command (Python programs "
                   "and C/C++ built with -finstrument-functions are recorded)", err=True)
    exit_like(status)
