"""JSON output that never fails on what traces may hold (bytes, non-finite floats)."""

from __future__ import annotations

import json
import math
from typing import Any, Iterable, TextIO


def _default(obj: Any) -> Any:
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj).hex()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    return repr(obj)


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return repr(obj)
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def _compact_encoder():
    """One-line encoding, built once: json.dumps builds a new encoder on every call,
    which was half of `orion cat`'s time. Same output as json.dumps(ensure_ascii=False)."""
    from json.encoder import c_make_encoder, encode_basestring

    if c_make_encoder is None:  # no C accelerator (e.g. PyPy)
        return json.JSONEncoder(default=_default, ensure_ascii=False, allow_nan=False).encode
    encode = c_make_encoder(None, _default, encode_basestring, None, ": ", ", ",
                            False, False, False)
    return lambda obj: "".join(encode(obj, 0))


_COMPACT = _compact_encoder()


def dumps(obj: Any, indent: int | None = None) -> str:
    try:
        if indent is None:
            return _COMPACT(obj)
        return json.dumps(obj, default=_default, ensure_ascii=False, indent=indent,
                          allow_nan=False)
    except ValueError:  # a NaN or infinity somewhere deep: rare, so pay only then
        return json.dumps(_finite(obj), default=_default, ensure_ascii=False, indent=indent)


def write_json(obj: Any, out: TextIO) -> None:
    out.write(dumps(obj, indent=2) + "\n")


def write_jsonl(objs: Iterable[Any], out: TextIO) -> None:
    for obj in objs:
        out.write(dumps(obj) + "\n")
