"""Reading traces that other tools wrote (OpenTelemetry, Chrome/Perfetto) as .otrace files.

`detect` tells an .otrace file from OTLP/JSON or Chrome Trace Event JSON by its first bytes
and shape; `convert` writes each trace the file holds as an .otrace file (with the real
TraceWriter) into a directory, for `orion import` to validate and add to the spool like any
other trace. Input is untrusted: a malformed document raises ImportFormatError with a
one-line reason, never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..format import constants as C

OTRACE, OTLP, CHROME = "otrace", "otlp", "chrome"
MAX_JSON_BYTES = 1 << 30  # a JSON document larger than this is refused, not loaded


class ImportFormatError(ValueError):
    """The file is not in a format `orion import` reads, or is malformed."""


def load_json_documents(path: Path) -> list[Any]:
    """A JSON document, or the documents of a JSON Lines file, as a list."""
    if path.stat().st_size > MAX_JSON_BYTES:
        raise ImportFormatError(f"larger than {MAX_JSON_BYTES >> 20} MiB of JSON")
    text = path.read_text(encoding="utf-8-sig", errors="strict")
    try:
        return [json.loads(text)]
    except json.JSONDecodeError as first:
        documents = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    documents.append(json.loads(line))
                except json.JSONDecodeError:
                    if number == 1:
                        raise ImportFormatError(f"not valid JSON ({first})") from None
                    raise ImportFormatError(f"line {number} is not valid JSON") from None
        return documents


def detect(path: Path) -> str:
    """OTRACE, OTLP or CHROME; ImportFormatError for JSON that is neither. Whatever does
    not look like JSON is left to the .otrace reader, which says precisely what is wrong."""
    from ..format.reader import open_regular

    try:
        with open_regular(path) as f:  # a FIFO would block: the reader refuses it
            head = f.read(64)
    except OSError:
        return OTRACE
    if head.startswith(C.SKIPPABLE_MAGIC_BYTES) or head.lstrip(
            b"\xef\xbb\xbf \t\r\n")[:1] not in (b"{", b"["):
        return OTRACE
    return _json_kind(load_json_documents(path))


def _json_kind(documents: list[Any]) -> str:
    for doc in documents:
        items = doc if isinstance(doc, list) else [doc]
        for item in items:
            if isinstance(item, dict) and ("resourceSpans" in item or "resource_spans" in item):
                return OTLP
            if isinstance(item, dict) and ("traceEvents" in item or "ph" in item) or (
                    isinstance(doc, list) and not doc):
                return CHROME
    raise ImportFormatError("JSON, but neither OTLP (resourceSpans) nor Chrome trace events "
                            "(traceEvents)")


def convert(path: Path, kind: str, directory: Path) -> list[Path]:
    """Write the traces in `path` (of kind OTLP or CHROME) as .otrace files in `directory`."""
    documents = load_json_documents(path)
    try:
        if kind == OTLP:
            from .otlp import convert_documents
        else:
            from .chrome import convert_documents
        return convert_documents(documents, directory, path)
    except ImportFormatError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise ImportFormatError(f"malformed {kind} data ({type(exc).__name__}: {exc})") from None
