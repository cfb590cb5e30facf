"""`orion graph`: call, module and service graphs (Graphviz) and flame graphs (SVG)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..analysis.callgraph import KINDS, build_graph
from ..errors import OrionError
from ..ids import resolve_many
from ..options import json_option, spool_option
from ..render.graphviz import IMAGE_FORMATS, render, to_dot
from ..render.jsonout import dumps
from ..spool import Spool

FORMATS = ("dot", *IMAGE_FORMATS)
SUFFIXES = {".dot": "dot", ".gv": "dot", ".svg": "svg", ".png": "png", ".pdf": "pdf"}


def _write(data: bytes, output: str | None, binary: bool) -> None:
    if output is None or output == "-":
        if binary and sys.stdout.isatty():
            raise OrionError("refusing to write an image to a terminal: use -o FILE")
        stdout = sys.stdout.buffer
        stdout.write(data)
        stdout.flush()
        return
    try:
        Path(output).expanduser().write_bytes(data)
    except OSError as exc:
        raise OrionError(f"{output}: cannot write ({exc.strerror or exc})") from None
    click.echo(output)


def _refuse_conflicts(kind: str, output_format: str | None, output: str | None,
                      focus: str | None, depth: int | None, flame: bool, as_json: bool) -> None:
    """Options that cannot all be honoured are an error, not silently half-ignored."""
    if flame:
        given = [name for name, clash in (
            ("--json", as_json), ("--focus", focus is not None), ("--depth", depth is not None),
            ("--kind", kind != "function"), ("--format", output_format not in (None, "svg")))
            if clash]
        if given:
            raise OrionError(f"--flame draws an SVG flame graph: it does not take "
                             f"{', '.join(given)}")
    elif as_json and output_format is not None:
        raise OrionError("--json and --format are alternatives: give one")
    suffix = SUFFIXES.get(Path(output).suffix.lower()) if output else None
    writes = "svg" if flame else "JSON" if as_json else output_format
    if suffix and writes and writes != suffix:
        raise OrionError(f"-o {output}: the name says {suffix} but the output is {writes}")


@click.command("graph")
@click.argument("refs", nargs=-1, metavar="ID...")
@click.option("--kind", type=click.Choice(KINDS), default="function", show_default=True,
              help="What a node is: a function, a module, or a service.")
@click.option("--format", "-f", "output_format", type=click.Choice(FORMATS), default=None,
              help="dot (Graphviz text) or an image drawn by Graphviz: svg, png, pdf "
                   "(default: from the -o suffix, else dot).")
@click.option("--output", "-o", metavar="FILE", help="Write to FILE instead of stdout.")
@click.option("--focus", metavar="FN",
              help="Only FN (a function name, module or service) and what calls it or it "
                   "calls, within --depth calls.")
@click.option("--depth", type=click.IntRange(min=1), default=None, metavar="N",
              help="With --focus: at most N calls away from it; without: only nodes first "
                   "reached within N levels of a thread's root.")
@click.option("--flame", is_flag=True,
              help="Draw an SVG flame graph (self time per call path) instead.")
@json_option
@spool_option
def command(refs: tuple[str, ...], kind: str, output_format: str | None,
            output: str | None, focus: str | None, depth: int | None, flame: bool,
            as_json: bool, spool: Spool) -> None:
    """Draw the call graph of traces, aggregated over all of them.

    Nodes carry call counts, total and self time, p50/p95 latency, error rate and the
    ids of recent failing traces; edges carry call counts and time. `orion list --failed
    | orion graph - --kind module -o modules.svg` draws where failures cross modules;
    `orion graph @ --flame -o flame.svg` draws a flame graph.
    """
    _refuse_conflicts(kind, output_format, output, focus, depth, flame, as_json)
    paths = list(dict.fromkeys(resolve_many(refs, spool)))
    if flame:
        from ..analysis.flame import fold_traces
        from ..render.flamegraph import flame_svg

        title = f"Flame graph of {len(paths)} trace(s)" if len(paths) > 1 else \
            f"Flame graph of {paths[0].name}"
        _write(flame_svg(fold_traces(paths), title).encode("utf-8"), output, binary=False)
        return
    graph = build_graph(paths, kind)
    if focus is not None:
        names = graph.find(focus)
        if not names:
            raise OrionError(f"--focus {focus!r}: no {kind} of that name in the graph")
        graph = graph.focused(names, depth)
    elif depth is not None:
        graph = graph.shallow(depth)
    if as_json:
        _write((dumps(graph.to_json(), indent=2) + "\n").encode("utf-8"), output, False)
        return
    if output_format is None:
        output_format = SUFFIXES.get(Path(output).suffix.lower(), "dot") if output else "dot"
    text = to_dot(graph)
    if output_format == "dot":
        _write(text.encode("utf-8"), output, binary=False)
    else:
        _write(render(text, output_format), output, binary=output_format != "svg")
