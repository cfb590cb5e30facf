"""An SVG flame graph drawn from folded stacks, with no external tool.

The classic layout: the root ("all") at the bottom, callees stacked above their callers,
each frame as wide as the time spent in it and below it (its inclusive time), siblings
sorted by name. Each frame carries `data-stack` (its path, `;`-joined) and `data-value`
(inclusive nanoseconds), and a <title> tooltip, so the picture can be checked and searched.
Labels sit in a nested <svg> viewport the size of their frame: the width of a font is
only estimated here, and a viewport clips a label that comes out wider than its frame
instead of letting it run over its neighbours.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import quoteattr

from ..timeparse import format_duration_ns
from .safe import escape

WIDTH = 1200
FRAME_HEIGHT = 17
PAD = 10
TITLE_SPACE = 30
MIN_TEXT_WIDTH = 24  # narrower frames get no text label
CHAR_WIDTH = 6.2


class _Frame:
    __slots__ = ("name", "value", "children")

    def __init__(self, name: str) -> None:
        self.name = name
        self.value = 0
        self.children: dict[str, _Frame] = {}


def build_tree(stacks: Counter) -> _Frame:
    """Folded stacks -> a tree of frames with inclusive values."""
    root = _Frame("all")
    for stack, weight in stacks.items():
        if weight <= 0:
            continue
        root.value += weight
        frame = root
        for name in stack:
            child = frame.children.get(name)
            if child is None:
                child = frame.children[name] = _Frame(name)
            child.value += weight
            frame = child
    return root


def _text(text: str) -> str:
    """XML character data for a name from a trace: control and bidi characters shown as
    escapes (XML cannot hold most of them, and U+202E would reverse the label)."""
    return xml_escape(escape(text))


def _color(name: str) -> str:
    digest = hashlib.blake2b(name.encode(), digest_size=3).digest()
    return f"rgb({205 + digest[0] % 50},{80 + digest[1] % 150},{digest[2] % 60})"


def _depth(root: _Frame) -> int:
    deepest, pending = 0, [(root, 0)]
    while pending:
        frame, depth = pending.pop()
        deepest = max(deepest, depth)
        pending.extend((child, depth + 1) for child in frame.children.values())
    return deepest


def flame_svg(stacks: Counter, title: str = "Flame graph") -> str:
    """The SVG document for `stacks` (self time per call path)."""
    root = build_tree(stacks)
    levels = _depth(root) + 1
    height = TITLE_SPACE + levels * FRAME_HEIGHT + 2 * PAD
    scale = (WIDTH - 2 * PAD) / root.value if root.value else 0.0
    parts = [
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" data-scale="{scale!r}" '
        f'data-total="{root.value}">',
        '<style>text { font-family: Verdana, sans-serif; font-size: 11px; fill: #000; }'
        ' text.title { font-size: 15px; }'
        ' g.frame:hover rect { stroke: #000; stroke-width: 0.5; }</style>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#fdfdf6"/>',
        f'<text class="title" x="{WIDTH / 2}" y="20" text-anchor="middle">'
        f"{_text(title)}</text>",
    ]
    pending = [(root, PAD, 0, "")]
    while pending:
        frame, x, depth, path = pending.pop()
        width = frame.value * scale
        y = height - PAD - (depth + 1) * FRAME_HEIGHT
        share = frame.value / root.value * 100 if root.value else 0
        own = frame.value - sum(child.value for child in frame.children.values())
        tip = (f"{frame.name}: {format_duration_ns(frame.value)} ({share:.2f}%), "
               f"self {format_duration_ns(own)}")
        parts.append(
            f'<g class="frame"><title>{_text(tip)}</title>'
            f'<rect x="{x!r}" y="{y}" width="{width!r}" height="{FRAME_HEIGHT - 1}" '
            f'fill="{_color(frame.name)}" rx="2" data-stack={quoteattr(escape(path))} '
            f'data-value="{frame.value}"/>')
        if width >= MIN_TEXT_WIDTH:
            fits = int((width - 6) / CHAR_WIDTH)
            text = frame.name if len(frame.name) <= fits else frame.name[:max(fits - 2, 0)] + ".."
            parts.append(f'<svg x="{x!r}" y="{y}" width="{width!r}" height="{FRAME_HEIGHT - 1}">'
                         f'<text x="3" y="{FRAME_HEIGHT - 5}">{_text(text)}</text></svg>')
        parts.append("</g>")
        child_x = x
        children = []
        for name in sorted(frame.children):
            child = frame.children[name]
            children.append((child, child_x, depth + 1,
                             f"{path};{name}" if path else name))
            child_x += child.value * scale
        pending.extend(reversed(children))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
