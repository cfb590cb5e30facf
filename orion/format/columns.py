"""The types of every record's columns on the wire, checked as the reader yields records.

A file from a stranger can hold a float where a lane id belongs, a list where a string's
text belongs, a map where the header's `process` is. Every tool indexes and sorts these
columns, so such a record is refused at the reader (a CorruptTrace naming the file and the
record) instead of surfacing later as `internal error: TypeError` in whichever command
touched it. Only types are checked here; ids that no record defines are the model's and the
decoder's to handle, and `orion validate` checks everything else the spec says.
"""

from __future__ import annotations


from . import constants as C

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing would cost every `orion run`
    from typing import Any

_NONE = type(None)
INT = (int,)
ID = (int, _NONE)  # a sid, a line, an optional number: int or nil
TEXT = (str, _NONE)
PAIRS = (list, _NONE)  # flat pairs, or nil
MAP = (dict, _NONE)
ANY = None
TIME = (int, float)  # a delta; the reader makes it an absolute int

# Per record type: the types of its columns after the type code, and how many are required
# (the rest are optional: `args?`, `site?` ...). Extension and unknown types are not checked.
COLUMNS: dict[int, tuple[int, tuple]] = {
    C.STRING: (2, (INT, (str,))),
    C.FUNCTION: (5, (INT, ID, ID, ID, ID, ID)),
    C.LANE: (5, (INT, ID, ID, ID, ID)),
    C.CALL: (3, (TIME, INT, INT, PAIRS, ID)),
    C.RETURN: (2, (TIME, INT, ANY)),
    C.EXCEPTION: (6, (TIME, INT, INT, ID, TEXT, ID)),
    C.UNWIND: (3, (TIME, INT, ID, PAIRS)),
    C.CRASH: (6, (TIME, INT, TEXT, TEXT, TEXT, MAP)),
    C.STACK: (4, (TIME, INT, TEXT, (list,))),
    C.EVENT: (4, (TIME, INT, ID, MAP)),
    C.MODULE: (4, (INT, ID, INT, (bytes, str, _NONE), ID, ID)),
    C.END: (1, ((dict,),)),
}

# The header keys tools read, with their types (nil, or a missing key, is always allowed).
HEADER_FIELDS: dict[str, tuple] = {
    "trace_id": (str,), "mode": (str,), "start_ns": (int,), "service": (str,), "name": (str,),
    "agent": (dict,), "process": (dict,), "env": (dict,), "parent": (dict,),
    "window": (str,), "records": (list,),
}
HEADER_MAPS: dict[str, dict[str, tuple]] = {
    "agent": {"language": (str,), "name": (str,), "version": (str,)},
    "process": {"pid": (int,), "argv": (list,), "cwd": (str,), "executable": (str,),
                "host": (str,)},
    "env": {"os": (str,), "runtime": (str,), "vars": (dict,), "git": (str, dict)},
    "parent": {"trace_id": (str,), "span_id": (str,)},
}


def _type_name(value: Any) -> str:
    return "nil" if value is None else type(value).__name__


def column_problem(record: list) -> str | None:
    """What is wrong with the types of `record`'s columns (its type code is an int), or
    None. The message names the record type and the column, as the spec does."""
    spec = COLUMNS.get(record[0])
    if spec is None:
        return None
    required, types = spec
    name, columns, _ = C.RECORD_TYPES[record[0]]
    if len(record) == 1:
        return f"{name} record with no fields"
    if len(record) - 1 < required:
        return f"{name} record with {len(record) - 1} columns, not {required}"
    for column, value, allowed in zip(columns, record[1:], types):
        if allowed is not ANY and type(value) not in allowed:
            return f"{name} record's {column.rstrip('?')} is {_type_name(value)}"
    if record[0] == C.STACK:
        for frame in record[4]:
            if (type(frame) is not list or len(frame) < 3 or type(frame[0]) is not int
                    or type(frame[1]) not in ID or type(frame[2]) not in PAIRS):
                return f"stack record with a malformed frame {frame!r:.40}"
    return None


def hot_record_ok(record: list) -> bool:
    """A fast form of column_problem(record) is None for calls, returns and unwinds (most
    of a trace): the reader runs it on every one of them."""
    code, size = record[0], len(record)
    if code == C.CALL:
        return (size > 3 and type(record[2]) is int and type(record[3]) is int
                and (size < 5 or record[4] is None or type(record[4]) is list)
                and (size < 6 or record[5] is None or type(record[5]) is int))
    if code == C.RETURN:
        return size > 2 and type(record[2]) is int
    return (size > 3 and type(record[2]) is int  # unwind
            and (record[3] is None or type(record[3]) is int)
            and (size < 5 or record[4] is None or type(record[4]) is list))


HOT = frozenset({C.CALL, C.RETURN, C.UNWIND})


def header_problem(header: dict) -> str | None:
    """What is wrong with the types of the header's known fields, or None."""
    for key, allowed in HEADER_FIELDS.items():
        value = header.get(key)
        if value is not None and type(value) not in allowed:
            return f"header's {key} is {_type_name(value)}"
    for key, fields in HEADER_MAPS.items():
        for field, allowed in fields.items():
            value = (header.get(key) or {}).get(field)
            if value is not None and type(value) not in allowed:
                return f"header's {key}.{field} is {_type_name(value)}"
    argv = (header.get("process") or {}).get("argv") or ()
    if any(type(word) is not str for word in argv):
        return "header's process.argv holds a word that is not a string"
    if any(type(name) is not str for name in ((header.get("env") or {}).get("vars") or {})):
        return "header's env.vars has a name that is not a string"
    return None


# The types of the spec's summary keys (section 4.7) that tools read; nil is always allowed.
SUMMARY_FIELDS: dict[str, type] = {
    "trace_id": str, "status": str, "language": str, "mode": str, "root": str, "name": str,
    "service": str, "host": str, "start_ns": int, "duration_ns": int, "pid": int,
    "exit_code": int, "exception": dict, "counts": dict, "command": list, "stack": list,
}


def summary_problem(summary: dict) -> str | None:
    """What is wrong with a summary's known fields, or None: listing and filtering index
    into them, so one trace's bad summary must not reach them as a crash."""
    for key, expected in SUMMARY_FIELDS.items():
        value = summary.get(key)
        if value is not None and type(value) is not expected:  # bool is not an int here
            return f"{key} is {type(value).__name__} {_short(value)}, not {expected.__name__}"
    start = summary.get("start_ns")
    if start is not None and start < 0:
        return f"start_ns is negative ({start})"
    exception = summary.get("exception")
    for key in ("type", "message"):
        value = (exception or {}).get(key)
        if value is not None and type(value) is not str:
            return f"exception.{key} is {type(value).__name__} {_short(value)}, not str"
    for key, value in (summary.get("counts") or {}).items():
        if value is not None and type(value) is not int:
            return f"counts.{key} is {type(value).__name__} {_short(value)}, not int"
    return None


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
