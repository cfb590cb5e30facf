"""The `otrace` export: the trace file itself, for a bug ticket or another machine.

Most traces are copied byte for byte. A native trace records its functions as bare
addresses, named at read time from the binaries, which the reader of an exported file
rarely has (or has rebuilt): it is rewritten record by record with the names, files and
lines resolved here written into its function records and its crash stack, so that it
reads the same anywhere. Nothing else changes: same header, ids, times and summary.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, BinaryIO, Callable

from ..format import constants as C
from ..format.decode import MALFORMED, Decoder, malformed_record
from ..format.errors import CorruptTrace
from ..format.reader import TraceReader
from ..format.writer import NO_VALUE, TraceWriter
from ..model import Function, Module, crash_lines, read_native_functions

# Summary keys the rewritten trace recomputes (what it holds changed: strings, names).
_RECOUNTED = ("type", "counts", "checksum", "status", "exit_code", "exception")


def write(path: Path, out: BinaryIO) -> None:
    """Copy the trace, native functions named; a file that does not read as a trace (wrong
    magic, newer major, a corrupt frame, no header) raises TraceError, as every other
    command would on the copy."""
    _check_readable(path)
    named = {fid: fn for fid, fn in read_native_functions(path).items() if fn.name}
    if named:
        _rewrite(path, out, named)
        return
    with open(path, "rb") as src:
        shutil.copyfileobj(src, out, 1 << 20)


def _check_readable(path: Path) -> None:
    """Read every frame (the copy is only worth attaching to a ticket if it reads)."""
    with TraceReader(path) as reader:
        for _ in reader.records():
            pass
        reader.header  # a file cut inside its first frame has none


def _rewrite(path: Path, out: BinaryIO, named: dict[int, Function]) -> None:
    decoder = Decoder(str(path))
    functions: dict[int, Function] = {}
    modules: list[Module] = []
    crash: dict | None = None
    with TraceReader(path) as reader:
        header = reader.header
        agent = header.get("agent") if isinstance(header.get("agent"), dict) else {}
        writer = TraceWriter(out, language=str(agent.get("language")), header=header)
        sid = _interner(decoder, writer)
        for rec in reader.records():
            code = rec[0]
            if code in (C.HEADER, C.END) or code >= C.FIRST_EXTENSION:
                continue  # the writer has its own; agent-private records may hold sids
            try:
                d = decoder.record(rec)
                if code == C.STRING:
                    continue  # strings are defined again as the writer first uses them
                if code == C.FUNCTION:
                    fn = functions[d["id"]] = named.get(d["id"]) or Function.from_record(d)
                    if writer.function(fn.name, fn.module, fn.file, fn.line, fn.addr,
                                       merge=False) != d["id"]:
                        raise CorruptTrace(f"function {d['id']} defined out of order")
                elif code == C.LANE:
                    writer.lane(d["name"], d["kind"], d["native_id"], d["parent"])
                elif code == C.MODULE:
                    modules.append(Module.from_record(d))
                    writer.module(d["path"], d["base"], rec[4])
                elif code == C.CALL:
                    writer.call(d["t"], d["lane"], d["fn"],
                                _pairs(rec[4], sid) if len(rec) > 4 else None)
                elif code == C.RETURN:
                    writer.ret(d["t"], d["lane"],
                               _value(rec[3], sid) if len(rec) > 3 else NO_VALUE)
                elif code == C.UNWIND:
                    writer.unwind(d["t"], d["lane"], d["line"],
                                  _pairs(rec[4], sid) if len(rec) > 4 else None)
                elif code == C.EXCEPTION:
                    writer.exception(d["t"], d["lane"], d["exc_type"], d["message"],
                                     d["kind"], d["line"])
                elif code == C.CRASH:
                    crash = d
                    writer.crash(d["t"], d["lane"], d["kind"], d["reason"], d["message"],
                                 d["detail"] if isinstance(d["detail"], dict) else None)
                elif code == C.STACK:
                    lines = [f[1] for f in rec[4]]
                    if d["reason"] == "crash" and crash is not None and (
                            crash["t"], crash["lane"]) == (d["t"], d["lane"]):
                        fns = [functions.get(f[0]) or Function(f[0], None) for f in rec[4]]
                        found = crash_lines(crash["detail"], fns, modules)
                        lines = [a if a is not None else b for a, b in zip(lines, found)]
                    writer.stack(d["t"], d["lane"], d["reason"],
                                 [[f[0], line, _pairs(f[2], sid)]
                                  for f, line in zip(rec[4], lines)])
                elif code == C.EVENT:
                    writer.event(d["t"], d["lane"], d["kind"], d["attrs"])
            except MALFORMED as exc:
                raise malformed_record(code, exc, str(path)) from None
        summary = reader.end_summary if reader.complete else None
    if summary is None:  # an incomplete trace stays incomplete
        writer.flush()
        return
    writer.close(summary.get("status"), summary.get("exit_code"), summary.get("exception"),
                 **{k: v for k, v in summary.items() if k not in _RECOUNTED})


def _interner(decoder: Decoder, writer: TraceWriter) -> Callable[[Any], Any]:
    """Maps a string id of the source trace to the rewritten trace's id for that text."""
    return lambda old: None if old is None else writer.string(decoder.text(old))


def _pairs(flat: Any, sid: Callable[[Any], Any]) -> list | None:
    """Flat name/value pairs with their name ids (and those in the values) mapped."""
    if flat is None:
        return None
    return [sid(x) if i % 2 == 0 else _value(x, sid) for i, x in enumerate(flat)]


def _value(wire: Any, sid: Callable[[Any], Any]) -> Any:
    """A captured value with its type-name ids (at every depth) mapped."""
    if not isinstance(wire, list):
        return wire
    out = [wire[0], sid(wire[1]), *wire[2:]]
    if wire[0] in (C.V_SEQ, C.V_MAP):
        out[2] = [_value(v, sid) for v in wire[2]]
    elif wire[0] == C.V_OBJECT:
        out[2] = _pairs(wire[2], sid)
    return out
