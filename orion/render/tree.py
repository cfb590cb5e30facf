"""Drawing call trees: indented text for people, nested JSON for programs.

Both walk the tree with explicit stacks (never recursion), so a 100,000-deep recursion
renders like any other trace. Text output is capped by lines (`max_lines`) and depth, and
runs of repeated sibling calls fold into one line, so that a big trace stays readable.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any, Iterable, Iterator


from ..analysis.replay import CALL_CODE, RETURN_CODE, UNWIND_CODE
from ..format.writer import NO_VALUE
from ..importers.otlp import SPAN_KINDS, STATUS_CODES, STATUS_ERROR
from ..model import (OPEN, RETURNED, UNWOUND, Call, Crash, Cut, Event, Folded, Lane,
                     Raised, Stack, propagating_child, subtree_size)
from ..timeparse import format_duration_ns
from .jsonout import dumps
from .safe import Style
from .table import clip

DEFAULT_MAX_LINES = 400
COLLAPSE_MIN = 3  # a run of this many quiet sibling calls to one function is folded
INDENT_LIMIT = 40  # deeper levels keep this much indentation and show their depth
VALUE_WIDTH = 60
ARGS_WIDTH = 120
ARG_WIDTH = 50
MESSAGE_WIDTH = 160
ITEMS_SHOWN = (3, 2, 0)  # items shown of a sequence or mapping at nesting depth 0, 1, 2+
STR_SHOWN = 40
# Span kinds worth a tag: internal (and unspecified) is the default, the others say who
# talks to whom.
KIND_TAGS = {code: name.lower() for name, code in SPAN_KINDS.items()
             if code > SPAN_KINDS["INTERNAL"]}


@dataclass
class TreeOptions:
    max_depth: int | None = None  # calls deeper than this are counted, not drawn
    max_lines: int | None = DEFAULT_MAX_LINES  # None: no cap
    collapse: bool = True
    colour: bool = False


# -- captured values ------------------------------------------------------------------

def format_value(value: Any, width: int = VALUE_WIDTH) -> str:
    """A captured value (decoded JSON form) as a short Python-like text."""
    return clip(_fmt(value, 0), width)


def _more(cut: Any, shown: int) -> str:
    if isinstance(cut, bool) or not isinstance(cut, int):
        return "…" if cut else ""
    return f"…(+{cut - shown} more)" if cut > shown else "…"


def _fmt(value: Any, depth: int) -> str:
    if isinstance(value, str):
        if len(value) > STR_SHOWN:
            return repr(value[:STR_SHOWN]) + _more(len(value), STR_SHOWN)
        return repr(value)
    if isinstance(value, list):
        return _join("[", "]", [_fmt(v, depth + 1) for v in value[:ITEMS_SHOWN[min(depth, 2)]]],
                     len(value), None)
    if not isinstance(value, dict):
        return repr(value)
    kind_type = value.get("t") or "?"
    cut = value.get("cut")
    if "text" in value:
        text = str(value["text"])
        if kind_type == "str":
            shown = text[:STR_SHOWN]
            tail = cut if isinstance(cut, int) and not isinstance(cut, bool) else (
                len(text) if len(text) > STR_SHOWN else cut)
            return repr(shown) + _more(tail, len(shown))
        return text + _more(cut, len(text)) if cut is not None else text
    limit = ITEMS_SHOWN[min(depth, 2)]
    if "items" in value:
        items = value["items"] if isinstance(value["items"], list) else []
        opening, closing = {"list": ("[", "]"), "tuple": ("(", ")"), "set": ("{", "}"),
                            "frozenset": ("frozenset({", "})")}.get(kind_type,
                                                                     (f"{kind_type}([", "])"))
        parts = [_fmt(v, depth + 1) for v in items[:limit]]
        if kind_type == "tuple" and len(items) == 1 and len(parts) == 1 and not cut:
            closing = ",)"  # (7.0,): a 1-tuple, not a parenthesised value
        return _join(opening, closing, parts, len(items), cut)
    if "entries" in value:
        entries = value["entries"] if isinstance(value["entries"], list) else []
        parts = [f"{_fmt(k, depth + 1)}: {_fmt(v, depth + 1)}"
                 for k, v in (e for e in entries[:limit] if isinstance(e, list) and len(e) == 2)]
        opening, closing = ("{", "}") if kind_type == "dict" else (f"{kind_type}({{", "})")
        return _join(opening, closing, parts, len(entries), cut)
    if "fields" in value:
        fields = value["fields"] if isinstance(value["fields"], dict) else {}
        parts = [f"{k}={_fmt(v, depth + 1)}" for k, v in list(fields.items())[:limit]]
        return _join(f"{kind_type}(", ")", parts, len(fields), cut)
    if value.get("redacted"):
        return "<redacted>"
    if value.get("elided"):
        length = value.get("len")
        return f"<{kind_type} of {length}>" if length is not None else f"<{kind_type} …>"
    if "error" in value:
        return f"<{kind_type}: repr failed: {value['error']}>"
    return "{" + ", ".join(f"{k}: {_fmt(v, depth + 1)}" for k, v in list(value.items())[:4]) + (
        ", …" if len(value) > 4 else "") + "}"


def _join(opening: str, closing: str, parts: list[str], total: int, cut: Any) -> str:
    """`[a, b, …(+N more)]`: N counts what was not shown, whether cut by us or the agent."""
    original = cut if isinstance(cut, int) and not isinstance(cut, bool) and cut > total else total
    if original > len(parts):
        parts = parts + [f"…(+{original - len(parts)} more)"]
    elif cut:
        parts = parts + ["…"]
    return opening + ", ".join(parts) + closing


def format_pairs(pairs: dict | None, sep: str = ", ") -> str:
    """`name=value` pairs (arguments, event attributes), each value abbreviated."""
    if not pairs:
        return ""
    return sep.join(f"{name}={format_value(value, ARG_WIDTH)}" for name, value in pairs.items())


# -- text tree -----------------------------------------------------------------------

def _when(item: Any) -> int:
    return item.start if isinstance(item, Call) else item.t


def _items(calls: Iterable[Call], exceptions: Iterable[Raised], events: Iterable[Any],
           owner: Call | None, collapse: bool) -> Iterator[tuple[Any, bool]]:
    """What sits under a call, in time order, as (item, is_last); runs already folded."""
    if owner is not None and owner.outcome == UNWOUND and owner.error is not None:
        # The exception the frame unwound with is on the frame's own line already.
        exceptions = [e for e in exceptions if e.kind != "raised" or not e.same_as(owner.error)]
    if events:
        events = [e for e in events if not (isinstance(e, Event) and e.bookkeeping)]
    stream: Iterable[Any] = calls
    if exceptions or events:
        stream = heapq.merge(calls, exceptions, events, key=_when)
    if collapse:
        stream = _fold(stream)
    previous = sentinel = object()
    for item in stream:
        if previous is not sentinel:
            yield previous, False
        previous = item
    if previous is not sentinel:
        yield previous, True


def _fold(stream: Iterable[Any]) -> Iterator[Any]:
    """Runs of COLLAPSE_MIN+ quiet calls to one function: the first, then one Folded (a
    call that raised, caught or unwound an exception, in or below it, is never folded)."""
    run: list[Call] = []

    def flush() -> Iterator[Any]:
        if len(run) >= COLLAPSE_MIN:
            yield run[0]
            folded = Folded(run[1])
            for call in run[2:]:
                folded.add(call)
            yield folded
        else:
            yield from run
        run.clear()

    for item in stream:
        if isinstance(item, Call) and item.fn is not None and item.quiet:
            if run and run[0].fn is not item.fn:
                yield from flush()
            run.append(item)
            continue
        yield from flush()
        yield item
    yield from flush()


def call_line(call: Call, style: Style, hidden: int = 0) -> str:
    """One line for a call: name(args) → value, duration, how it ended. An imported span
    reads `name [kind · ok]`, its status message standing in for a missing exception."""
    span = call.span
    parts = [style(call.label, bold=True) + (
        "(" + clip(format_pairs(call.args), ARGS_WIDTH) + ")"
        if call.fn is not None and span is None else "")]
    if span is not None:
        tags = [KIND_TAGS.get(span.get("kind"), "")]
        if span.get("status_code") == STATUS_CODES["OK"]:
            tags.append("ok")
        if any(tags):
            parts.append(style("[" + " · ".join(t for t in tags if t) + "]", fg="cyan"))
    if call.outcome == RETURNED and call.value is not NO_VALUE:
        parts.append(style("→ " + format_value(call.value), fg="green"))
    if call.end is not None:
        parts.append(style(format_duration_ns(call.end - call.start), dim=True))
    if call.outcome == UNWOUND:
        # The message is on the frame that raised; frames it passed through name the type.
        brief = propagating_child(call) is not None
        text = exception_text(call.error, call.line, brief)
        if span is not None and span.get("status_code") == STATUS_ERROR:
            text = span_error_text(call, span, text)
        parts.append(style(text, fg="red"))
    elif call.outcome == OPEN:
        parts.append(style("… still running when the trace ended", fg="yellow"))
    if hidden:
        parts.append(style(f"[+{hidden} nested call{'s' if hidden != 1 else ''}]", dim=True))
    return "  ".join(parts)


def one_line(message: Any) -> str:
    """An exception or status message on one line, clipped ("" for none)."""
    return clip(str(message or "").replace("\n", " "), MESSAGE_WIDTH)


def span_error_text(call: Call, span: dict, text: str) -> str:
    """An ERROR span's ending: its exception, and the status message when it says more."""
    message = one_line(span.get("status_message"))
    if call.error is None:
        return f"✗ error: {message}" if message else "✗ error"
    return f"{text} · status: {message}" if message and message != call.error.message \
        else text


def span_attributes(call: Call) -> str:
    """An imported span's attributes as `key=value` pairs, for the line under its call."""
    attrs = (call.span or {}).get("attributes")
    return clip(format_pairs(attrs, "  "), MESSAGE_WIDTH) if isinstance(attrs, dict) else ""


def exception_text(error: Raised | None, line: int | None, brief: bool = False) -> str:
    where = f" (line {line})" if line is not None else ""
    if error is None:
        return f"✗ unwound{where}"
    if brief:
        return f"✗ {error.type}{where}"
    message = one_line(error.message)
    return f"✗ {error.type}: {message}{where}" if message else f"✗ {error.type}{where}"


def _other_line(item: Any, style: Style) -> str:
    if isinstance(item, Raised):
        where = f" (line {item.line})" if item.line is not None else ""
        message = one_line(item.message)
        return style(f"! {item.kind} {item.type}: {message}{where}", fg="yellow")
    if isinstance(item, Crash):
        message = one_line(item.message)
        return style(f"✗ crash ({item.kind}): {item.reason}: {message}", fg="red", bold=True)
    if isinstance(item, Stack):
        frames = " › ".join(f"{fn.label}:{line}" if line is not None else fn.label
                            for fn, line, _ in item.frames)
        return style(f"≡ stack ({item.reason}): {frames}", fg="cyan")
    if isinstance(item, Event):
        attrs = format_pairs(item.attrs, " ") if isinstance(item.attrs, dict) else ""
        return style(f"• {item.kind} {clip(attrs, ARGS_WIDTH)}".rstrip(), fg="cyan")
    if isinstance(item, Folded):
        return style(f"{item.label} ×{item.count} more  {format_duration_ns(item.total)} "
                     "total", dim=True)
    return repr(item)


def lane_heading(lane: Lane) -> str:
    details = ", ".join(x for x in (lane.kind, f"native id {lane.native_id}"
                                    if lane.native_id is not None else None) if x)
    return f"── {lane.name}" + (f" ({details})" if details else "") + " ──"


def render_tree(lanes: Iterable[Lane], options: TreeOptions) -> Iterator[str]:
    """Lines of the call tree, one section per lane, within the options' caps."""
    lanes = list(lanes)
    style = Style(options.colour)
    total = sum(lane.calls for lane in lanes)
    accounted = 0
    lines = 0
    cap = options.max_lines
    truncated = False
    for lane in lanes:
        if truncated or cap is not None and lines >= cap:
            truncated = True
            break
        yield style(lane_heading(lane), fg="cyan", bold=True)
        lines += 1
        stack = [(_items(lane.roots, lane.exceptions, lane.events, None, options.collapse),
                  1, "")]
        while stack:
            items, depth, prefix = stack[-1]
            entry = next(items, None)
            if entry is None:
                stack.pop()
                continue
            item, last = entry
            if cap is not None and lines >= cap or isinstance(item, Cut):
                truncated = True  # a Cut: the rest was not kept (a pruned load's estimate
                break  # of the lines before it was short, after a ring window's frames)
            connector = "└─ " if last else "├─ "
            inner = prefix + ("   " if last else "│  ")
            marker = ""
            if depth > INDENT_LIMIT:
                inner = inner[-INDENT_LIMIT * 3:]
                marker = style(f"[depth {depth}] ", dim=True)
            if isinstance(item, Call):
                accounted += item.fn is not None
                expand = options.max_depth is None or depth < options.max_depth
                hidden = 0
                if not expand:
                    hidden = subtree_size(item)
                    accounted += hidden
                yield prefix + connector + marker + call_line(item, style, hidden)
                lines += 1
                if item.locals:
                    for name, value in item.locals.items():
                        yield inner + style(f"┆ {name} = {format_value(value)}", dim=True)
                        lines += 1
                attributes = span_attributes(item)
                if attributes:
                    yield inner + style(f"┆ {attributes}", dim=True)
                    lines += 1
                if expand and (item.children or item.exceptions or item.events):
                    stack.append((_items(item.children, item.exceptions, item.events, item,
                                         options.collapse), depth + 1, inner))
            else:
                if isinstance(item, Folded):
                    accounted += item.count + item.below
                yield prefix + connector + marker + _other_line(item, style)
                lines += 1
    if truncated:
        yield (f"… {total - accounted} more calls not shown (use --all)" if accounted < total
               else "… more lines not shown (use --all)")


# -- reading only what is drawn -------------------------------------------------------

class _Siblings:
    """The calls under one drawn caller as they close: the run of quiet calls to one
    function that `_fold` would fold, and what was kept past the line cap."""

    __slots__ = ("fn", "count", "second", "second_cost", "folded", "hidden_tail",
                 "hidden_exceptions", "cut")

    def __init__(self) -> None:
        self.reset()
        self.hidden_tail: Call | None = None  # an unwound call kept past the budget
        # The last exception raised and the last caught, kept past the budget
        self.hidden_exceptions: dict[str, Raised] = {}
        self.cut: Cut | None = None  # where calls or lines stopped being kept

    def reset(self) -> None:
        self.fn = None
        self.count = 0
        self.second: Call | None = None  # the run's second call, while it may be shown
        self.second_cost = 0
        self.folded: Folded | None = None


class _Open:
    """A call open on a lane: whether it is drawn, and the lane's line count before it."""

    __slots__ = ("shown", "mark", "_siblings")

    def __init__(self, shown: bool, mark: int) -> None:
        self.shown = shown
        self.mark = mark
        self._siblings: _Siblings | None = None

    @property
    def siblings(self) -> _Siblings:
        if self._siblings is None:
            self._siblings = _Siblings()  # most calls are leaves: made on first use
        return self._siblings


_UNDRAWN = _Open(False, 0)  # every call not drawn: nothing below it is drawn either


class _LaneBudget:
    __slots__ = ("lines", "open", "roots")

    def __init__(self) -> None:
        self.lines = 0  # lines the lane's tree draws before this point (an estimate from below)
        self.open: list[_Open] = []
        self.roots = _Siblings()


class DrawnTree:
    """A `Pruner` for `load_trace` that keeps what `render_tree` can draw within
    `max_lines` lines a lane (None: no cap) and `max_depth`, folding runs of quiet calls
    as they close, so that memory follows what is shown, not the trace's size.

    What is not kept is counted (`Call.dropped`, `Folded`, `Cut`); past the cap a caller
    still keeps its last unwound call and its last exception raised and caught (the
    failing path needs them), and crashes and stack records are always kept. Lines are
    counted where they start in the drawing: a call is kept while fewer than `max_lines`
    lines come before it, so what is drawn is the same as from the whole tree (after a
    ring window's frames, which adopt what came before them, it may stop earlier).
    """

    def __init__(self, max_lines: int | None, max_depth: int | None = None) -> None:
        self.max_lines = max_lines
        self.max_depth = max_depth
        self.lanes: dict[int, _LaneBudget] = {}

    def _budget(self, lane: Lane) -> _LaneBudget:
        budget = self.lanes.get(lane.id)
        if budget is None:
            budget = self.lanes[lane.id] = _LaneBudget()
        return budget

    def _drawn_here(self, budget: _LaneBudget) -> bool:
        """Is what happens now in the innermost open call (or outside every call) drawn:
        inside a drawn call above the depth limit, with fewer than max_lines lines before?"""
        inside = not budget.open or (budget.open[-1].shown and (
            self.max_depth is None or len(budget.open) < self.max_depth))
        return inside and (self.max_lines is None or budget.lines < self.max_lines)

    def opened(self, lane: Lane) -> bool:
        budget = self.lanes.get(lane.id) or self._budget(lane)
        if budget.open and budget.open[-1] is _UNDRAWN or not self._drawn_here(budget):
            budget.open.append(_UNDRAWN)
            return False
        budget.open.append(_Open(True, budget.lines))
        budget.lines += 1
        return True

    def closed(self, lane: Lane, call: Call, caller: Call | None) -> None:
        budget = self.lanes.get(lane.id) or self._budget(lane)
        opened = budget.open
        if len(opened) <= len(lane.stack):
            budget.roots = _Siblings()  # a frame from before a ring window took the roots
            return
        entry = opened.pop()
        above = opened[-1] if opened else None
        if above is _UNDRAWN:
            _keep_unwound(call, caller)
            return
        siblings = above.siblings if above is not None else budget.roots
        kept = caller.children if caller is not None else lane.roots
        if call.fn is not None and call.quiet:
            if self._fold(budget, entry, siblings, call, kept):
                return
        else:
            siblings.reset()
        if entry.shown:
            if call.outcome is UNWOUND:  # its locals are drawn, its own raise is not
                budget.lines += len(call.locals or ()) - sum(
                    1 for e in call.exceptions if e.kind == "raised" and e.same_as(call.error))
            return
        if call.outcome is not UNWOUND:
            _cut(siblings, lane, caller, call.start).calls += 1 + _size(call)
        elif caller is None:
            lane.roots.append(call)  # kept for the failing path, as every unwound root
        else:  # kept for the failing path: the last unwound call of each caller
            if kept and kept[-1] is siblings.hidden_tail:
                caller.dropped += 1 + _size(kept.pop())
            if kept:
                kept.append(call)
            else:
                caller.children = [call]
            siblings.hidden_tail = call

    def _fold(self, budget: _LaneBudget, entry: _Open, siblings: _Siblings, call: Call,
              kept: list) -> bool:
        """Count a quiet call into its siblings' run; True when it was folded away."""
        if siblings.fn is not call.fn:
            siblings.reset()
            siblings.fn, siblings.count = call.fn, 1
            return False
        siblings.count += 1
        cost = budget.lines - entry.mark if entry.shown else 0  # its lines and its subtree's
        if siblings.count == 2:
            siblings.second = call if entry.shown else None
            siblings.second_cost = cost
            return False
        if siblings.folded is None:
            second = siblings.second
            if second is None:
                return False  # past the cap already: counted as dropped
            if entry.shown:
                kept.pop()
            kept.pop()  # the second call
            siblings.folded = Folded(second)
            kept.append(siblings.folded)
            budget.lines -= siblings.second_cost - 1
        elif entry.shown:
            kept.pop()
        budget.lines -= cost
        siblings.folded.add(call)
        return True

    def ended(self, lane: Lane) -> None:
        """Count the open calls that were dropped at open into their callers."""
        budget = self._budget(lane)
        for depth in range(len(lane.stack) - 1, -1, -1):
            if not budget.open[depth].shown:
                call = lane.stack[depth]
                caller = lane.stack[depth - 1] if depth else None
                if depth == 0 or budget.open[depth - 1].shown:
                    siblings = budget.open[depth - 1].siblings if depth else budget.roots
                    _cut(siblings, lane, caller, call.start).calls += 1 + _size(call)
                else:
                    caller.dropped += 1 + _size(call)

    def keep(self, lane: Lane, item: Raised | Event | Crash | Stack,
             owner: Call | None) -> bool:
        if isinstance(item, Event) and item.bookkeeping:
            return True  # drawn through its call, not as a line
        budget = self._budget(lane)
        always = isinstance(item, Crash) or (isinstance(item, Stack)
                                             and item.reason != "sample")
        exception = isinstance(item, Raised)
        above = budget.open[-1] if budget.open else None
        if above is not None and not above.shown:
            if exception:  # the last raised and caught are all the failing path needs
                owner.exceptions = [e for e in owner.exceptions if e.kind != item.kind]
            return always or exception
        siblings = above.siblings if above is not None else budget.roots
        siblings.reset()  # a line between calls ends a run of them
        if self._drawn_here(budget):
            budget.lines += 1
            return True
        if exception:  # kept past the cap, the last of each kind: the failing path's error
            exceptions = owner.exceptions if owner is not None else lane.exceptions
            previous = siblings.hidden_exceptions.get(item.kind)
            for index in (-1, -2):
                if len(exceptions) >= -index and exceptions[index] is previous:
                    del exceptions[index]
                    break
            siblings.hidden_exceptions[item.kind] = item
            return True
        _cut(siblings, lane, owner, item.t)
        return always


def _size(call: Call) -> int:
    return subtree_size(call) if call.children else call.dropped


def _keep_unwound(call: Call, caller: Call) -> None:
    """Under a call that is not drawn: keep only its last unwound call, count the rest."""
    if call.outcome is not UNWOUND:
        caller.dropped += 1 + (subtree_size(call) if call.children else call.dropped)
        return
    kept = caller.children
    if kept and kept[-1].outcome is UNWOUND:
        caller.dropped += 1 + _size(kept.pop())
    if kept:
        kept.append(call)
    else:
        caller.children = [call]


def _cut(siblings: _Siblings, lane: Lane, caller: Call | None, start: int) -> Cut:
    """The Cut where a drawn caller (None: the lane) first lost a call or a line."""
    if siblings.cut is None:
        siblings.cut = Cut(start)
        if caller is None:
            lane.roots.append(siblings.cut)
        elif caller.children:
            caller.children.append(siblings.cut)
        else:
            caller.children = [siblings.cut]
    return siblings.cut


# -- JSON tree -----------------------------------------------------------------------

def iter_calls_json(calls: Iterable[Call], max_depth: int | None = None) -> Iterator[str]:
    """A JSON array of nested call objects, as text chunks (no recursion, any depth).

    Each object is Call.to_json() plus "calls" (its children) and, where --depth cut the
    tree, "hidden_calls" (how many calls below were left out).
    """
    yield "["
    stack: list[list] = [[iter(calls), 1, True]]
    while stack:
        top = stack[-1]
        call = next(top[0], None)
        if call is None:
            stack.pop()
            yield "]}" if stack else "]"
            continue
        if not top[2]:
            yield ", "
        top[2] = False
        obj = call.to_json()
        expand = max_depth is None or top[1] < max_depth
        if call.children and not expand:
            obj["hidden_calls"] = subtree_size(call)
        head = dumps(obj)[:-1]
        if call.children and expand:
            yield head + ', "calls": ['
            stack.append([iter(call.children), top[1] + 1, True])
        else:
            yield head + ', "calls": []}'



def iter_indexed_calls_json(steps: Any, lane_index: int, max_depth: int | None = None
                            ) -> Iterator[str]:
    """`iter_calls_json` of one lane of an indexed trace (`orion.analysis.trace_index`):
    the same text, walking the lane's steps, so that only the calls open at a point are
    held whatever the trace's size."""
    yield "["
    kinds, depths = steps.kinds, steps.depths
    first = True
    opened = 0  # calls drawn with their calls, not yet closed
    shallow: tuple[dict, int] | None = None  # a call at max_depth, counting its calls
    for j in steps.lane_steps(lane_index):
        depth, code = depths[j], kinds[j]
        if shallow is not None:
            if depth > shallow[1]:
                if code == CALL_CODE:
                    shallow[0]["hidden_calls"] = shallow[0].get("hidden_calls", 0) + 1
                continue
            yield dumps(shallow[0])[:-1] + ', "calls": []}'
            shallow, first = None, False
            if code != CALL_CODE:
                continue  # its return
        if code == CALL_CODE:
            if max_depth is not None and depth >= max_depth:
                continue
            if not first:
                yield ", "
            obj = steps.call(j).to_json()
            if max_depth is not None and depth == max_depth - 1:
                shallow = (obj, depth)
                continue
            yield dumps(obj)[:-1] + ', "calls": ['
            first = True
            opened += 1
        elif (code == RETURN_CODE or code == UNWIND_CODE) and (
                max_depth is None or depth < max_depth - 1):
            yield "]}"
            first = False
            opened -= 1
    if shallow is not None:
        yield dumps(shallow[0])[:-1] + ', "calls": []}'
    yield "]}" * opened + "]"  # calls still open when the trace ended
