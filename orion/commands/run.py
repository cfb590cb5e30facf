"""`orion run -- COMMAND...`: run a command with capture on for every runtime (the Python
agent in its Python processes, the preloaded native agent in its C/C++ programs, ...)."""

from __future__ import annotations

import click

from ..agent.config import DEFAULT_SAMPLE, parse_sample
from ..config import agent_environ
from ..options import mode_option, spool_option
from ..render.safe import terminal
from ..running import exit_like, run_with_capture
from ..runtimes import Capture, recorded, runtimes
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
@click.option("--verbose", "-v", is_flag=True, help="Say how each runtime records.")
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
    rate = parse_sample(sample) if sample else None
    capture = Capture(mode=mode, spool=str(spool.path.resolve()), include=include,
                      exclude=exclude, include_funcs=include_funcs, exclude_funcs=exclude_funcs,
                      sample=rate, base=environ)
    if verbose:
        how = ", ".join(filter(None, (runtime.describe() for runtime in runtimes())))
        click.echo(f"orion: {mode} mode, {how}, spool {capture.spool}", err=True)
    status, written = run_with_capture(list(command), capture)
    for line in _written_lines(written):
        click.echo(terminal(line), err=True)
    if not written and mode == "error":
        click.echo("orion: no trace written (error mode: nothing failed)", err=True)
    elif not written and mode == "safe" and _effective_rate(rate, environ) < 1.0:
        click.echo(f"orion: no trace written (safe mode: this run was not among the "
                   f"{_effective_rate(rate, environ):.0%} sampled)", err=True)
    elif not written:
        click.echo(f"orion: no trace written: no agent ran in this command ({recorded()} "
                   f"are recorded)", err=True)
    exit_like(status)


def _written_lines(paths: list[str]) -> list[str]:
    """One line per trace written: its id and status (incomplete: the process was killed
    before it could finish it; still readable)."""
    if not paths:
        return []
    from ..format.summary import read_summary

    lines = []
    for path in paths:
        try:
            summary = read_summary(path)
            lines.append(f"orion: trace {summary['trace_id']} {summary.get('status')}")
        except Exception:
            lines.append(f"orion: trace {path}")
    return lines


def _effective_rate(rate: float | None, environ: dict[str, str]) -> float:
    """The safe-mode rate the agents used: --sample, else the configured one."""
    if rate is not None:
        return rate
    return parse_sample(environ["ORION_SAMPLE"]) if environ.get("ORION_SAMPLE") else DEFAULT_SAMPLE
