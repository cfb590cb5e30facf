"""The .otrace format: writer, reader, decoding and summaries. Knows nothing of the CLI.

Names are imported from their submodules on first use (PEP 562), so that importing one
light submodule (`orion.format.errors`, `.constants`) does not load zstandard, msgpack and
the reader: every `orion` command and every traced process starts faster for it.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: typing costs every traced process its import
    from typing import Any

_WHERE = {
    "VERSION_MAJOR": "constants", "VERSION_MINOR": "constants",
    "Decoder": "decode", "decode_records": "decode",
    "CorruptTrace": "errors", "NotATrace": "errors", "TraceError": "errors",
    "UnsupportedVersion": "errors",
    "TraceReader": "reader", "read_trailer": "reader",
    "read_summary": "summary", "scan_summary": "summary",
    "NO_VALUE": "writer", "TraceWriter": "writer", "new_trace_id": "writer",
}

__all__ = list(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})
