"""`orion show`: one trace for a person — summary, environment, then the call tree.

`--json` prints one object with a stable shape:

    {"summary": {...},            the trace summary (as `orion list --json`), with "complete"
     "header": {...},             the header record (process, agent, env snapshot ...)
     "failing_path": [{"fn", "name", "line"}],   root -> frame where the failure began
     "lanes": [{"id", "name", "kind", "native_id", "parent",
                "calls": [call, ...],            roots, in time order
                "exceptions": [...], "events": [...]}]}   what happened outside any call

where each call is {"fn", "name", "start", "end", "outcome" ("returned", "unwound" or
"open"), "args"?, "value"? (only when captured), "line"/"locals"/"error" (unwound calls),
"exceptions"?, "events"?, "hidden_calls"? (cut by --depth), "calls": [call, ...]}.
Times are nanoseconds since the trace started; "fn" is null for a frame that began before
a ring window. A trace imported from OpenTelemetry keeps its bookkeeping events in
"events" (`otel.span` first in each call's, `otel.resource` in its first lane's); the
text form shows them as the resource lines of the header and, per call, its span kind,
status and attributes instead.
"""

from __future__ import annotations

import shlex
import sys
from typing import Any, Iterator, TextIO

import click

from ..analysis.trace_index import IndexedSteps, open_indexed
from ..errors import OrionError
from ..ids import resolve_many
from ..model import Call, Lane, Trace, failing_path, load_trace
from ..options import json_option, spool_option
from ..render.jsonout import dumps
from ..render.safe import Style, terminal
from ..render.table import STATUS_COLOURS, wants_colour
from ..render.tree import (DEFAULT_MAX_LINES, DrawnTree, TreeOptions, format_pairs,
                           format_value, iter_calls_json, iter_indexed_calls_json, render_tree)
from ..spool import Spool
from ..timeparse import format_duration_ns, format_time_ns

ENV_VARS_SHOWN = 20
INCOMPLETE = "incomplete: the program stopped before the trace was closed"


def _field(name: str, value: Any) -> str:
    return f"{name:<10} {value}"


def header_lines(trace: Trace, colour: bool) -> list[str]:
    """The block above the tree: who ran what, when, and how it ended."""
    s, h = trace.summary, trace.header
    process = h.get("process") or {}
    agent = h.get("agent") or {}
    status = s.get("status") or "-"
    lines = [_field("trace", f"{trace.trace_id}  ({trace.path})")]
    for key in ("name", "service"):
        if s.get(key):
            lines.append(_field(key, s[key]))
    status_text = Style(colour)(status, fg=STATUS_COLOURS.get(status), bold=True) \
        if status in STATUS_COLOURS else status
    if s.get("exit_code") is not None:
        status_text += f"  (exit code {s['exit_code']})"
    lines.append(_field("status", status_text))
    agent_text = " ".join(str(x) for x in (agent.get("language"), agent.get("name"),
                                            agent.get("version")) if x)
    lines.append(_field("agent", f"{agent_text or '-'}  · mode {h.get('mode') or '-'}"
                        + ("  · ring window (earlier calls were not kept)"
                           if trace.window == "ring" else "")))
    duration = s.get("duration_ns")
    duration = format_duration_ns(duration if duration is not None else trace.end_t)
    started = format_time_ns(s.get("start_ns") or h.get("start_ns"))
    lines.append(_field("started", f"{started}  · duration {duration}"))
    argv = process.get("argv")
    if argv:
        lines.append(_field("command", shlex.join(str(a) for a in argv)
                            if isinstance(argv, list) else str(argv)))
    if process.get("cwd"):
        lines.append(_field("cwd", process["cwd"]))
    host, pid = process.get("host") or "-", process.get("pid") or "-"
    lines.append(_field("host", f"{host}  · pid {pid}"))
    lines += [_field("resource", text) for text in resource_texts(trace)]
    exception = s.get("exception")
    if isinstance(exception, dict) and exception.get("type"):
        message = str(exception.get("message") or "").replace("\n", " ")
        lines.append(_field("exception", f"{exception['type']}: {message}" if message
                            else exception["type"]))
    path = failing_path(trace)
    if path:
        last = path[-1]
        where = f" (line {last.line})" if last.line is not None else ""
        lines.append(_field("failed at", path_text([c.label for c in path]) + where))
        lines += [_field("", text) for text in path_places(path)]
    calls = sum(lane.calls for lane in trace.lanes.values())
    lines.append(_field("recorded", f"{calls} calls on {len(trace.lanes)} lane(s)"))
    if trace.complete:
        lines.append(_field("complete", "yes"))
    else:
        note = INCOMPLETE + (" (its last frame was cut)" if trace.truncated else "")
        lines.append(Style(colour)(note, fg="yellow", bold=True))
    return lines


def resource_texts(trace: Trace) -> list[str]:
    """One line per OpenTelemetry resource of an imported trace: attributes, scopes."""
    out = []
    for resource in trace.resources:
        scopes = [" ".join(str(s[k]) for k in ("name", "version") if s.get(k))
                  for s in resource.get("scopes") or [] if isinstance(s, dict)]
        attrs = resource.get("attributes")
        text = format_pairs(attrs, "  ") if isinstance(attrs, dict) else ""
        if any(scopes):
            text += ("  · " if text else "") + "scope " + ", ".join(s for s in scopes if s)
        out.append(text or "-")
    return out


def path_text(labels: list[str], keep: int = 4) -> str:
    """`main › parse × 3 › …`: repeats folded (recursion), long chains cut in the middle."""
    groups: list[list] = []
    for label in labels:
        if groups and groups[-1][0] == label:
            groups[-1][1] += 1
        else:
            groups.append([label, 1])
    parts = [label if n == 1 else f"{label} ×{n}" for label, n in groups]
    if len(parts) > 2 * keep + 1:
        parts = parts[:keep] + [f"… {len(parts) - 2 * keep} more …"] + parts[-keep:]
    return " › ".join(parts)


def path_places(path: list[Call], keep: int = 4) -> list[str]:
    """`file:line  function` per frame of the failing path, innermost last, as a traceback
    reads (long paths cut in the middle); a frame with no file keeps its name only."""
    texts = []
    for call in path:
        fn = call.fn
        line = call.line if call.line is not None else (fn.line if fn is not None else None)
        place = f"{fn.file}:{line}" if fn is not None and fn.file and line is not None else (
            fn.file if fn is not None and fn.file else "")
        texts.append(f"{place}  {call.label}" if place else call.label)
    if len(texts) > 2 * keep + 1:
        texts = texts[:keep] + [f"… {len(texts) - 2 * keep} more frames …"] + texts[-keep:]
    return texts


def _env_text(value: Any) -> str:
    return value if isinstance(value, str) else format_value(value, 200)


def env_lines(env: Any, show_all: bool) -> list[str]:
    """The environment snapshot: OS, runtime, then variables (capped unless show_all)."""
    if not isinstance(env, dict) or not env:
        return []
    lines = ["environment"]
    for key, value in env.items():
        if isinstance(value, dict) and not ("t" in value and len(value) <= 4):
            items = list(value.items())
            shown = items if show_all else items[:ENV_VARS_SHOWN]
            entries = [f"{name}={_env_text(v)}" for name, v in shown]
            if len(items) > len(shown):
                entries.append(f"… {len(items) - len(shown)} more (use --env)")
            lines.append(f"  {key:<9} {entries[0] if entries else '-'}")
            lines += [f"  {'':<9} {entry}" for entry in entries[1:]]
        elif isinstance(value, list):
            lines.append(f"  {key:<9} {', '.join(_env_text(v) for v in value)}")
        else:
            lines.append(f"  {key:<9} {_env_text(value)}")
    return lines


def select_lanes(trace: Trace, wanted: tuple[str, ...]) -> list[Lane]:
    """Lanes by id or name, in trace order; OrionError names the lanes that exist."""
    lanes = list(trace.lanes.values())
    if not wanted:
        return lanes
    chosen = [lane for lane in lanes if str(lane.id) in wanted or lane.name in wanted]
    known = {str(lane.id) for lane in lanes} | {lane.name for lane in lanes}
    missing = [w for w in wanted if w not in known]
    if missing or not chosen:
        have = ", ".join(f"{lane.id} ({lane.name})" for lane in lanes) or "none"
        raise OrionError(f"no lane {', '.join(missing) or wanted[0]!r} in this trace "
                         f"(lanes: {have})")
    return chosen


def iter_json(trace: Trace, lanes: list[Lane], max_depth: int | None,
              steps: IndexedSteps | None = None) -> Iterator[str]:
    """The --json document as text chunks, so huge and deep trees never build in memory:
    from the whole tree, or walking `steps` (then `trace` is their pruned load)."""
    path = [{"fn": c.fn.id if c.fn is not None else None, "name": c.label,
             "file": c.fn.file if c.fn is not None else None,
             "def_line": c.fn.line if c.fn is not None else None,
             "line": c.line} for c in failing_path(trace)]
    yield (f'{{"summary": {dumps(trace.summary)}, "header": {dumps(trace.header)}, '
           f'"failing_path": {dumps(path)}, "lanes": [')
    lane_index = {lane_id: n for n, lane_id in enumerate(trace.lanes)}
    for i, lane in enumerate(lanes):
        head = dumps(lane.to_json())[:-1]
        yield (", " if i else "") + head + ', "calls": '
        if steps is None:
            yield from iter_calls_json(lane.roots, max_depth)
            events = lane.events
        else:
            yield from iter_indexed_calls_json(steps, lane_index[lane.id], max_depth)
            events = steps.lane_items(lane_index[lane.id])
        yield (f', "exceptions": {dumps([e.to_json() for e in lane.exceptions])}, '
               f'"events": {dumps([e.to_json() for e in events])}}}')
    yield "]}\n"


def write_chunks(chunks: Iterator[str], out: TextIO, size: int = 4096) -> None:
    """Write text chunks a few thousand at a time (one write per chunk was a third of
    `show --json`'s time)."""
    batch: list[str] = []
    for chunk in chunks:
        batch.append(chunk)
        if len(batch) >= size:
            out.write("".join(batch))
            batch.clear()
    out.write("".join(batch))


@click.command("show")
@click.argument("refs", nargs=-1, metavar="[ID]")
@json_option
@click.option("--depth", type=click.IntRange(min=1), default=None, metavar="N",
              help="Draw calls down to depth N only (deeper ones are counted).")
@click.option("--lane", "lanes", multiple=True, metavar="ID",
              help="Only this lane (id or name); repeatable.")
@click.option("--all", "show_all", is_flag=True,
              help=f"Draw the whole tree (default: at most {DEFAULT_MAX_LINES} lines).")
@click.option("--no-env", is_flag=True, help="Leave out the environment snapshot.")
@click.option("--env", "all_env", is_flag=True, help="Show every environment variable.")
@spool_option
def command(spool: Spool, refs: tuple[str, ...], as_json: bool, depth: int | None,
            lanes: tuple[str, ...], show_all: bool, no_env: bool, all_env: bool) -> None:
    """Show a trace: summary, environment and call tree.

    ID is a trace id, a unique prefix, a path, '@' (the newest, the default), '@~N', or
    '-' to read it from standard input. Incomplete traces (the program died before
    closing its trace) show everything that was written.
    """
    paths = resolve_many(refs or ("@",), spool)
    if len(paths) > 1:
        raise OrionError(f"show takes one trace, got {len(paths)} "
                         f"(pick one, e.g. `orion list | head -1 | orion show -`)")
    max_lines = None if show_all else DEFAULT_MAX_LINES
    out = sys.stdout
    if as_json:  # every call: walked from an index of the file (bounded memory)
        steps = open_indexed(paths[0])
        trace = steps.trace if steps is not None else load_trace(paths[0])
        write_chunks(iter_json(trace, select_lanes(trace, lanes), depth, steps), out)
        return
    # The text form reads only what it draws (bounded memory on any trace).
    trace = load_trace(paths[0], prune=DrawnTree(max_lines, depth))
    chosen = select_lanes(trace, lanes)
    colour = wants_colour(out)
    lines = header_lines(trace, colour)
    if not no_env:
        lines += env_lines(trace.env, all_env)
    out.write("\n".join(map(terminal, lines)) + "\n\n")
    options = TreeOptions(max_depth=depth, max_lines=max_lines, colour=colour)
    for line in render_tree(chosen, options):
        out.write(terminal(line) + "\n")
    if not chosen or not any(lane.roots or lane.events or lane.exceptions for lane in chosen):
        out.write("(no calls recorded)\n")
