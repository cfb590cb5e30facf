"""Regular expressions compiled on first use.

Every traced Python process imports the agent's modules as it starts, and every `orion run`
imports the few it needs: compiling their patterns up front (and, in a traced process,
importing `re`, which imports enum) would be paid by every run, while most runs never
look for a secret's shape, a crash sidecar or a control character in what they print.
"""

from __future__ import annotations


class LazyPattern:
    """A compiled pattern's methods (match, search, sub, ...), compiled by the first call;
    flags go inline in the pattern: `(?s)`, `(?m)`, `(?i:...)`."""

    __slots__ = ("source", "_compiled")

    def __init__(self, source: str) -> None:
        self.source = source
        self._compiled = None

    def __getattr__(self, name: str):
        compiled = self._compiled
        if compiled is None:
            import re

            compiled = self._compiled = re.compile(self.source)
        return getattr(compiled, name)
