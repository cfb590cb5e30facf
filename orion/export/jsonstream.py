"""Writing one large JSON document piece by piece, so exports never hold it in memory."""

from __future__ import annotations

from typing import Any, BinaryIO

from ..render.jsonout import dumps


class JsonItems:
    """Items of a JSON array written one at a time between `open` and `close` text."""

    def __init__(self, out: BinaryIO, opening: str) -> None:
        self.out = out
        self.count = 0
        self._pending: list[str] = [opening]
        self._size = len(opening)

    def raw(self, text: str) -> None:
        self._pending.append(text)
        self._size += len(text)
        if self._size >= 1 << 16:
            self.flush()

    def add(self, item: Any) -> None:
        self.raw(("," if self.count else "") + dumps(item))
        self.count += 1

    def restart(self, text: str) -> None:
        """Close the current array with `text` that opens the next one (items restart)."""
        self.raw(text)
        self.count = 0

    def flush(self) -> None:
        self.out.write("".join(self._pending).encode("utf-8"))
        self._pending.clear()
        self._size = 0

    def close(self, closing: str) -> None:
        self.raw(closing)
        self.flush()
