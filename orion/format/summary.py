"""A trace's summary: from its trailer when it has one, rebuilt by a scan when it does not.

Every summary carries `complete`, so callers never have to ask how it was obtained.
"""

from __future__ import annotations

import os

from . import constants as C
from .columns import summary_problem
from .reader import TraceReader, read_trailer

_COUNTED = {C.CALL: "calls", C.RETURN: "returns", C.UNWIND: "unwinds",
            C.EXCEPTION: "exceptions", C.CRASH: "crashes", C.STACK: "stacks",
            C.EVENT: "events"}


def read_summary(path: str | os.PathLike) -> dict:
    """Cheap when the trace is complete (reads its last kilobytes); a full scan otherwise.

    A trailer with a malformed summary is treated as missing: the end record decides.
    """
    summary = read_trailer(path)
    if summary is not None and summary_problem(summary) is None:
        summary["complete"] = True
        return summary
    return scan_summary(path)


def scan_summary(path: str | os.PathLike) -> dict:
    """Rebuild the summary of a trace by reading every complete frame."""
    with TraceReader(path) as reader:
        counts = dict.fromkeys(("records", *_COUNTED.values()), 0)
        strings: dict[int, str] = {}
        functions: dict[int, str] = {}
        lanes = 0
        root = None
        max_t = 0
        exception = crash = None
        for rec in reader.records():
            code = rec[0]
            if code == C.END:
                break
            counts["records"] += 1
            if code in C.TIMED_TYPES and rec[1] > max_t:
                max_t = rec[1]
            name = _COUNTED.get(code)
            if name:
                counts[name] += 1
            if code == C.STRING:
                strings[rec[1]] = rec[2]
            elif code == C.FUNCTION:
                functions[rec[1]] = strings.get(rec[2]) or f"0x{(rec[6:7] or [0])[0]:x}"
            elif code == C.LANE:
                lanes += 1
            elif code == C.CALL and root is None:
                root = functions.get(rec[3])
            elif code == C.EXCEPTION and rec[3] == 0:
                exception = {"type": strings.get(rec[4]), "message": rec[5]}
            elif code == C.CRASH:
                crash = {"type": rec[4], "message": rec[5], "kind": rec[3]}
        if reader.complete and reader.end_summary is not None:  # its types checked there
            return dict(reader.end_summary, complete=True)
        header = reader.header
    process = header.get("process") or {}
    summary = {
        "trace_id": header.get("trace_id"),
        "status": "crashed" if crash else "incomplete",
        "language": (header.get("agent") or {}).get("language"),
        "mode": header.get("mode"),
        "start_ns": header.get("start_ns"),
        "duration_ns": max_t,
        "command": process.get("argv"),
        "host": process.get("host"),
        "pid": process.get("pid"),
        "root": root,
        "exception": crash or exception,
        "exit_code": None,
        "counts": dict(counts, functions=len(functions), lanes=lanes),
        "complete": False,
    }
    for key in ("service", "name", "parent"):
        if key in header:
            summary[key] = header[key]
    return summary
