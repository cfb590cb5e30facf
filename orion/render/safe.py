"""Text from a trace made safe to print for a person: the one place it is escaped.

A function name, message, argv word, environment value or captured string is whatever a
traced program (or a stranger's file) put there. Printed raw, `ESC ] 0 ; … BEL` retitles
the terminal, `ESC [ 2 J` clears it, OSC 8 plants a link, U+202E reverses what follows
and a NUL or carriage return hides text. Every human-facing line goes through
`terminal()` on its way out, which shows such characters as escapes, as git and less do:
C0 and C1 controls and DEL as `\\x1b`, `\\n`, `\\t`; bidirectional controls, line and
paragraph separators and lone surrogates as `\\u202e`. Machine outputs (JSON) are never
passed through it: they stay exact.

Colour is the one escape sequence of our own. `Style` does not write it into the text:
it writes a marker holding a secret drawn when this process started, and `terminal()`
turns markers into SGR sequences after escaping everything else, so no text from a trace
can produce a sequence, whatever it holds.
"""

from __future__ import annotations

import os

from ..lazyre import LazyPattern

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing would cost every `orion run`
    import re
    from typing import Any

# C0 (newline, tab and CR get names below), DEL, C1; ALM, LRM, RLM; line and paragraph
# separators; LRE, RLE, PDF, LRO, RLO; LRI, RLI, FSI, PDI; surrogates (not printable);
# U+FFFE and U+FFFF (not characters: XML, where SVG output goes, forbids them).
_UNSAFE = "\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069" \
          "\ud800-\udfff\ufffe\uffff"
_UNSAFE_CHAR = LazyPattern(f"[{_UNSAFE}]")
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}

_SECRET = os.urandom(8).hex()  # not `secrets`: it imports hmac and hashlib into every run
_MARK = LazyPattern(f"\x00{_SECRET}([0-9;]*)\x00")
_SGR = LazyPattern(r"\x1b\[([0-9;]*)m")


def _escaped(match: re.Match) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape(text: str) -> str:
    """`text` with every character that could act on a terminal shown as an escape."""
    return _UNSAFE_CHAR.sub(_escaped, text)


def terminal(line: str) -> str:
    """One line of human output as it may reach a terminal: escaped, with Style's markers
    (and only those) turned into colour."""
    if (line.isascii() and line.isprintable()) or _UNSAFE_CHAR.search(line) is None:
        return line
    parts = _MARK.split(line)  # text, codes, text, codes, ..., text
    for i in range(0, len(parts), 2):
        parts[i] = escape(parts[i])
    for i in range(1, len(parts), 2):
        parts[i] = f"\x1b[{parts[i]}m"
    return "".join(parts)


def terminal_block(text: str) -> str:
    """Several lines (joined by newlines) through terminal(), each on its own."""
    return "\n".join(terminal(line) for line in text.split("\n"))


class Style:
    """click.style's arguments, giving markers that terminal() turns into colour (or the
    text unchanged when colour is off)."""

    def __init__(self, colour: bool) -> None:
        self.colour = colour
        self._marks: dict[tuple, tuple[str, str]] = {}

    def __call__(self, text: str, **style: Any) -> str:
        if not self.colour:
            return text
        key = tuple(sorted(style.items()))
        marks = self._marks.get(key)
        if marks is None:
            import click  # only when colouring: `orion run`'s messages need no click

            opening, closing = click.style("\n", **style).split("\n")
            marks = self._marks[key] = (_marked(opening), _marked(closing))
        return marks[0] + text + marks[1]


def _marked(sequences: str) -> str:
    return _SGR.sub(lambda m: f"\x00{_SECRET}{m.group(1)}\x00", sequences)
