"""Records as decoded JSON objects: the form `orion cat` prints, the schema describes and the
spec vectors hold.

Interned strings are resolved (interning is transport compression, not meaning), while
function, lane and module ids stay ids: they name entities defined by their own records.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Iterator

from . import constants as C
from .errors import CorruptTrace

# What code that indexes a wire record's columns raises when they are not what the
# record type says: readers turn it into `malformed_record`.
MALFORMED = (IndexError, TypeError, KeyError, ValueError, AttributeError)


def malformed_record(code: Any, exc: Exception, path: str | None = None) -> CorruptTrace:
    """The one-line error for a record of type `code` whose columns do not decode."""
    return CorruptTrace(f"malformed {C.TYPE_NAMES.get(code, 'unknown')} record "
                        f"({type(exc).__name__}: {exc})", path)


class Decoder:
    """Turns wire records into JSON-ready dicts; keeps the string table as it goes.

    `path` is the file the records come from: the errors it raises name it.
    """

    def __init__(self, path: str | None = None) -> None:
        self.strings: dict[int, str] = {}
        self.path = path

    def text(self, sid: Any) -> str | None:
        if sid is None:
            return None
        try:
            return self.strings[sid]
        except (KeyError, TypeError):
            raise CorruptTrace(f"reference to undefined string {sid!r}") from None

    def value(self, wire: Any, depth: int = 0) -> Any:
        if isinstance(wire, float) and not math.isfinite(wire):
            return {"t": "float", "text": repr(wire)}
        if isinstance(wire, bytes):
            return {"t": "bytes", "text": wire.hex()}
        if not isinstance(wire, list):
            return wire
        if depth >= C.MAX_VALUE_DEPTH:
            raise CorruptTrace(f"captured value nested deeper than {C.MAX_VALUE_DEPTH} levels")
        kind, type_name = wire[0], self.text(wire[1])
        node: dict[str, Any] = {"t": type_name}
        inner = depth + 1
        if kind == C.V_TEXT:
            node["text"] = wire[2]
        elif kind == C.V_SEQ:
            node["items"] = [self.value(v, inner) for v in wire[2]]
        elif kind == C.V_MAP:
            flat = wire[2]
            node["entries"] = [[self.value(flat[i], inner), self.value(flat[i + 1], inner)]
                               for i in range(0, len(flat) - 1, 2)]
        elif kind == C.V_OBJECT:
            node["fields"] = self.pairs(wire[2], inner)
        elif kind == C.V_REDACTED:
            node["redacted"] = True
            return node
        elif kind == C.V_ELIDED:
            node["elided"] = True
            if len(wire) > 2 and wire[2] is not None:
                node["len"] = wire[2]
            return node
        elif kind == C.V_ERROR:
            node["error"] = wire[2]
            return node
        else:
            raise CorruptTrace(f"unknown captured value kind {kind!r}")
        if len(wire) > 3 and wire[3] is not None:
            node["cut"] = wire[3]
        return node

    def pairs(self, flat: list | None, depth: int = 0) -> dict | None:
        if flat is None:
            return None
        return {self.text(flat[i]): self.value(flat[i + 1], depth)
                for i in range(0, len(flat) - 1, 2)}

    def record(self, rec: list) -> dict:
        """Decode one wire record (as yielded by TraceReader.records)."""
        try:
            return self._record(rec)
        except MALFORMED as exc:
            raise malformed_record(rec[0], exc, self.path) from None
        except CorruptTrace as exc:
            exc.path = exc.path or self.path
            raise

    def _record(self, rec: list) -> dict:
        code = rec[0]
        if code == C.STRING:
            self.strings[rec[1]] = rec[2]
            return {"type": "string", "id": rec[1], "text": rec[2]}
        if code == C.CALL:
            out = {"type": "call", "t": rec[1], "lane": rec[2], "fn": rec[3]}
            if len(rec) > 4:
                out["args"] = self.pairs(rec[4])
            if len(rec) > 5:
                out["site"] = rec[5]
            return out
        if code == C.RETURN:
            out = {"type": "return", "t": rec[1], "lane": rec[2]}
            if len(rec) > 3:
                out["value"] = self.value(rec[3])
            return out
        if code == C.UNWIND:
            out = {"type": "unwind", "t": rec[1], "lane": rec[2], "line": rec[3]}
            if len(rec) > 4:
                out["locals"] = self.pairs(rec[4])
            return out
        # A "type" key inside the header or summary map cannot change the record's type.
        if code == C.HEADER:
            return {"type": "header", **rec[1], "type": "header"}
        if code == C.FUNCTION:
            out = {"type": "function", "id": rec[1], "name": self.text(rec[2]),
                   "module": self.text(rec[3]), "file": self.text(rec[4]), "line": rec[5]}
            if len(rec) > 6:
                out["addr"] = rec[6]
            return out
        if code == C.LANE:
            return {"type": "lane", "id": rec[1], "name": self.text(rec[2]),
                    "kind": self.text(rec[3]), "native_id": rec[4], "parent": rec[5]}
        if code == C.EXCEPTION:
            if type(rec[3]) is not int or not 0 <= rec[3] < len(C.EXCEPTION_KINDS):
                raise CorruptTrace(f"unknown exception kind {rec[3]!r}")  # not kinds[-1]
            return {"type": "exception", "t": rec[1], "lane": rec[2],
                    "kind": C.EXCEPTION_KINDS[rec[3]], "exc_type": self.text(rec[4]),
                    "message": rec[5], "line": rec[6]}
        if code == C.CRASH:
            return {"type": "crash", "t": rec[1], "lane": rec[2], "kind": rec[3],
                    "reason": rec[4], "message": rec[5], "detail": rec[6]}
        if code == C.STACK:
            frames = [{"fn": f[0], "line": f[1], "locals": self.pairs(f[2])} for f in rec[4]]
            return {"type": "stack", "t": rec[1], "lane": rec[2], "reason": rec[3],
                    "frames": frames}
        if code == C.EVENT:
            return {"type": "event", "t": rec[1], "lane": rec[2], "kind": self.text(rec[3]),
                    "attrs": rec[4]}
        if code == C.MODULE:
            build_id = rec[4].hex() if isinstance(rec[4], bytes) else rec[4]
            out = {"type": "module", "id": rec[1], "path": self.text(rec[2]),
                   "base": rec[3], "build_id": build_id}
            if len(rec) > 6:
                out["size"], out["mtime"] = rec[5], rec[6]
            return out
        if code == C.END:
            return {"type": "end", **rec[1], "type": "end"}
        return {"type": "unknown", "code": code, "fields": rec[1:]}


def decode_records(records: Iterable[list]) -> Iterator[dict]:
    decoder = Decoder()
    for rec in records:
        yield decoder.record(rec)
