"""Plain aligned tables for terminals and the texts in their cells; colour only when the
stream is a terminal. Cells are escaped (render/safe.py) before they are measured, so that
a name holding control characters neither acts on the terminal nor skews the columns."""

from __future__ import annotations

import os
from typing import IO, Sequence

from .safe import Style, escape

STATUS_COLOURS = {"ok": "green", "failed": "red", "crashed": "magenta", "incomplete": "yellow"}
_BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]],
                 max_widths: dict[int, int] | None = None) -> list[str]:
    """Lines of a left-aligned table; the last column is never padded."""
    max_widths = max_widths or {}
    clipped = [[clip(escape(cell), max_widths.get(i)) for i, cell in enumerate(row)]
               for row in rows]
    widths = [len(h) for h in headers]
    for row in clipped:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in [list(headers), *clipped]:
        padded = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])] + [row[-1]]
        lines.append("  ".join(padded).rstrip())
    return lines


def clip(text: str, width: int | None) -> str:
    if width is None or len(text) <= width:
        return text
    return text[: max(width - 1, 0)] + "…"


def wants_colour(stream: IO, explicit: bool | None = None) -> bool:
    """Colour on a terminal, unless asked otherwise or NO_COLOR is set (no-color.org)."""
    if explicit is not None:
        return explicit
    return stream.isatty() and not os.environ.get("NO_COLOR")


def colour_status(line: str, status: str, enabled: bool) -> str:
    colour = STATUS_COLOURS.get(status)
    return Style(enabled)(line, fg=colour) if colour else line


def format_bytes(size: int) -> str:
    """`512 B`, `1.5 KiB`, `3.2 GiB`: a size for people, in powers of 1024."""
    power = 0
    while power < len(_BYTE_UNITS) - 1 and size >= 1024 ** (power + 1):
        power += 1
    return f"{size} B" if power == 0 else f"{size / 1024 ** power:.1f} {_BYTE_UNITS[power]}"
