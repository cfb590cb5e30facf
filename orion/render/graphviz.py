"""Call graphs as Graphviz DOT, and DOT rendered to SVG/PNG/PDF by Graphviz's `dot`.

Node names in the DOT text are the graph's node ids, so a program reading the output
back (for instance through `dot -Tjson`) finds the same names as in `orion graph --json`.
The graphviz Python package is imported only when an image is asked for.
"""

from __future__ import annotations

from ..analysis.callgraph import CallGraph, Node, percentile
from ..errors import OrionError
from ..timeparse import format_duration_ns
from .safe import escape

IMAGE_FORMATS = ("svg", "png", "pdf")
MAX_FAILURES_SHOWN = 3


def quote(text: str) -> str:
    """A DOT double-quoted string (newlines become DOT's centred line breaks); control and
    bidi characters from a trace are shown as escapes (render/safe.py), as in a terminal."""
    text = "\n".join(escape(line) for line in text.split("\n"))
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n") + '"'


def _node_label(node: Node) -> str:
    durations = sorted(node.durations)
    lines = [node.label]
    lines.append(f"{node.calls} call{'' if node.calls == 1 else 's'} · total {format_duration_ns(node.total_ns)} · "
                 f"self {format_duration_ns(node.self_ns)}")
    lines.append(f"p50 {format_duration_ns(percentile(durations, 50))} · "
                 f"p95 {format_duration_ns(percentile(durations, 95))}")
    if node.errors:
        lines.append(f"errors {node.errors} ({node.error_rate:.0%})")
        failing = node.recent_failures()[:MAX_FAILURES_SHOWN]
        lines.append("failing: " + ", ".join(tid[:12] for tid in failing))
    return "\n".join(lines)


def _fill(node: Node) -> str:
    if not node.errors:
        return "#eef3fb"
    # from pale orange to red as the error rate grows
    return "#fde0c5" if node.error_rate < 0.25 else "#f9a98b" if node.error_rate < 0.75 \
        else "#f26b5b"


def to_dot(graph: CallGraph) -> str:
    """The graph as DOT text: nodes annotated with counts, times, latency and failures
    (functions grouped in a box per module); edges with call counts and time, thicker for
    the hotter ones."""
    hottest = max((edge.total_ns for edge in graph.edges.values()), default=0) or 1
    lines = [f"digraph {quote(graph.kind + ' graph')} {{",
             '  graph [rankdir=LR, fontname="Helvetica", fontsize=10];',
             '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9, color="#55667788"];']
    by_module: dict[str | None, list[Node]] = {}
    for node in sorted(graph.nodes.values(), key=lambda n: n.id):
        by_module.setdefault(node.module, []).append(node)
    for module, nodes in sorted(by_module.items(), key=lambda kv: kv[0] or ""):
        indent = "  "
        if module is not None:  # a function graph: one box per module
            lines.append(f"  subgraph {quote('cluster_' + module)} {{")
            lines.append(f'    label={quote(module)}; style="rounded,dashed"; '
                         f'color="#99aabb"; fontcolor="#556677";')
            indent = "    "
        for node in nodes:
            tooltip = node.file or node.id
            lines.append(f"{indent}{quote(node.id)} [label={quote(_node_label(node))}, "
                         f"fillcolor={quote(_fill(node))}, tooltip={quote(tooltip)}];")
        if module is not None:
            lines.append("  }")
    for edge in sorted(graph.edges.values(), key=lambda e: (e.caller, e.callee)):
        label = f"{edge.calls}× {format_duration_ns(edge.total_ns)}"
        if edge.errors:
            label += f"\n{edge.errors} failed"
        width = 1 + 4 * edge.total_ns / hottest
        color = ', color="#d0402f"' if edge.errors else ""
        lines.append(f"  {quote(edge.caller)} -> {quote(edge.callee)} "
                     f"[label={quote(label)}, penwidth={width:.2f}{color}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(dot_text: str, image_format: str) -> bytes:
    """DOT text rendered by Graphviz to svg, png or pdf bytes."""
    try:
        import graphviz
    except ImportError:
        raise OrionError("rendering images needs the graphviz Python package: "
                         "pip install 'orionis-trace[interchange]' (or use --format dot)"
                         ) from None
    try:
        return graphviz.Source(dot_text).pipe(format=image_format)
    except graphviz.ExecutableNotFound:
        raise OrionError("Graphviz's `dot` program is not installed (Debian: apt-get install "
                         "graphviz); --format dot needs no Graphviz") from None
    except graphviz.CalledProcessError as exc:
        raise OrionError(f"dot failed: {(exc.stderr or b'').decode(errors='replace')[:200]}"
                         ) from None
