"""The `parquet` and `arrow` exports: one row per event, for DuckDB, ClickHouse, Spark.

Every row repeats the trace's identifying columns (trace id, service, host, language,
start), so files of many traces concatenate into one table; `orion export - --format
parquet -o DIR` lays them out as a dataset partitioned by the trace's start day
(`DIR/date=YYYY-MM-DD/<file>.parquet`, Hive style). Rows are written in batches as the
trace is read, so memory stays bounded whatever the trace's size. The schema (SCHEMA
below) is documented in docs/interchange.md; pyarrow is imported only here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

from ..errors import OrionError
from ..format import constants as C
from ..format.decode import MALFORMED, Decoder, malformed_record
from ..format.reader import TraceReader
from ..model import OUTSIDE_LABEL, Function, Module
from ..render.jsonout import dumps
from .spans import (SPAN_META, FunctionNames, derived_span_id, snapshot_frames,
                    span_id_seed)

BATCH_ROWS = 16_384

# (name, arrow type name, nullable): the documented schema, in column order.
COLUMNS = (
    ("trace_id", "string", False),
    ("service", "string", True),
    ("host", "string", True),
    ("language", "string", True),
    ("trace_start", "timestamp", False),
    ("seq", "int64", False),
    ("type", "string", False),
    ("time", "timestamp", False),
    ("t_ns", "int64", False),
    ("lane", "int32", False),
    ("lane_name", "string", True),
    ("depth", "int32", True),
    ("function", "string", True),
    ("module", "string", True),
    ("file", "string", True),
    ("line", "int32", True),
    ("span_id", "string", True),
    ("parent_span_id", "string", True),
    ("duration_ns", "int64", True),
    ("exc_type", "string", True),
    ("message", "string", True),
    ("kind", "string", True),
    ("data", "string", True),
)


def _pyarrow():
    try:
        import pyarrow
        import pyarrow.ipc  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise OrionError("parquet and arrow exports need pyarrow: "
                         "pip install 'orionis-trace[interchange]'") from None
    return pyarrow


def schema():
    """The Arrow schema of every exported row."""
    pa = _pyarrow()
    types = {"string": pa.string(), "int64": pa.int64(), "int32": pa.int32(),
             "timestamp": pa.timestamp("ns", tz="UTC")}
    return pa.schema([pa.field(name, types[kind], nullable=nullable)
                      for name, kind, nullable in COLUMNS])


def write_parquet(path: Path, out: BinaryIO) -> None:
    pa = _pyarrow()
    with pa.parquet.ParquetWriter(out, schema(), compression="zstd") as writer:
        for batch in _batches(path):
            writer.write_batch(batch)


def write_arrow(path: Path, out: BinaryIO) -> None:
    pa = _pyarrow()
    with pa.ipc.new_file(out, schema()) as writer:
        for batch in _batches(path):
            writer.write_batch(batch)


class _Open:
    __slots__ = ("fn", "start", "span_id", "parent_span_id", "row")

    def __init__(self, fn: Function | None, start: int, span_id: str,
                 parent_span_id: str | None, row: int | None) -> None:
        self.fn, self.start, self.span_id = fn, start, span_id
        self.parent_span_id, self.row = parent_span_id, row


def _batches(path: Path):
    pa = _pyarrow()
    arrow_schema = schema()
    names = [name for name, _, _ in COLUMNS]
    with TraceReader(path) as reader:
        header = reader.header
        process = header.get("process") or {}
        start_ns = header.get("start_ns") if isinstance(header.get("start_ns"), int) else 0
        constant = {"trace_id": str(header.get("trace_id")), "service": header.get("service"),
                    "host": process.get("host"),
                    "language": (header.get("agent") or {}).get("language"),
                    "trace_start": start_ns}
        seed = span_id_seed(header)
        columns: dict[str, list] = {name: [] for name in names}
        decoder = Decoder()
        functions: dict[int, Function] = {}
        names = FunctionNames(path)
        modules: list[Module] = []
        crashes: dict[int, dict] = {}  # lane -> its latest crash, for its stack's lines
        lane_names: dict[int, str] = {}
        stacks: dict[int, list[_Open]] = {}
        first_t: dict[int, int] = {}
        calls = 0
        seq = 0

        def row(row_type: str, t: int, lane: int, depth: int | None, fn: Function | None,
                span: _Open | None, **values: Any) -> None:
            nonlocal seq
            for key, value in constant.items():
                columns[key].append(value)
            columns["seq"].append(seq)
            seq += 1
            columns["type"].append(row_type)
            columns["time"].append(start_ns + t)
            columns["t_ns"].append(t)
            columns["lane"].append(lane)
            columns["lane_name"].append(lane_names.get(lane))
            columns["depth"].append(depth)
            columns["function"].append(fn.label if fn is not None else (
                OUTSIDE_LABEL if span is not None else None))
            columns["module"].append(fn.module if fn is not None else None)
            columns["file"].append(fn.file if fn is not None else None)
            columns["span_id"].append(span.span_id if span is not None else None)
            columns["parent_span_id"].append(span.parent_span_id if span is not None else None)
            for key in ("line", "duration_ns", "exc_type", "message", "kind", "data"):
                value = values.get(key)
                columns[key].append(dumps(value) if key == "data" and value is not None
                                    else value)

        def flush():
            batch = pa.RecordBatch.from_pydict(columns, schema=arrow_schema)
            for values in columns.values():
                values.clear()
            for stack in stacks.values():
                for span in stack:
                    span.row = None  # its call row is written
            return batch

        for rec in reader.records():
            code = rec[0]
            try:
                if code in C.TIMED_TYPES:
                    t, lane = rec[1], rec[2]
                    first_t.setdefault(lane, t)
                    stack = stacks.setdefault(lane, [])
                    if code == C.CALL:
                        if len(columns["seq"]) >= BATCH_ROWS:
                            yield flush()  # never between a call and its otel.span event
                        fn = functions.get(rec[3]) or Function(rec[3], f"<function {rec[3]}>")
                        span = _Open(fn, t, derived_span_id(seed, calls),
                                     stack[-1].span_id if stack else None,
                                     len(columns["seq"]))
                        calls += 1
                        row("call", t, lane, len(stack), fn, span, line=fn.line,
                            data=decoder.pairs(rec[4]) if len(rec) > 4 else None)
                        stack.append(span)
                        continue
                    if code == C.RETURN or code == C.UNWIND:
                        if stack:
                            span = stack.pop()
                        else:
                            span = _Open(None, first_t[lane], derived_span_id(seed, calls),
                                         None, None)
                            calls += 1
                        if code == C.RETURN:
                            row("return", t, lane, len(stack), span.fn, span,
                                duration_ns=t - span.start,
                                data={"value": decoder.value(rec[3])} if len(rec) > 3 else None)
                        else:
                            row("unwind", t, lane, len(stack), span.fn, span, line=rec[3],
                                duration_ns=t - span.start,
                                data={"locals": decoder.pairs(rec[4])} if len(rec) > 4 else None)
                        continue
                    d = decoder.record(rec)
                    span = stack[-1] if stack else None
                    fn = span.fn if span is not None else None
                    depth = len(stack) - 1 if stack else None
                    if d["type"] == "event" and d["kind"] == SPAN_META and span is not None \
                            and isinstance(d["attrs"], dict) and d["attrs"].get("span_id"):
                        _adopt_meta(columns, span, d["attrs"])
                    if d["type"] == "exception":
                        row("exception", t, lane, depth, fn, span, line=d["line"],
                            exc_type=d["exc_type"], message=d["message"], kind=d["kind"])
                    elif d["type"] == "crash":
                        row("crash", t, lane, depth, fn, span, exc_type=d["reason"],
                            message=d["message"], kind=d["kind"], data=d["detail"])
                    elif d["type"] == "event":
                        row("event", t, lane, depth, fn, span, kind=d["kind"], data=d["attrs"])
                    elif d["type"] == "stack":
                        row("stack", t, lane, depth, fn, span, kind=d["reason"],
                            data=_named_frames(d, functions, modules, crashes.get(lane)))
                    if d["type"] == "crash":
                        crashes[lane] = d
                elif code == C.FUNCTION:
                    functions[rec[1]] = names.function(decoder.record(rec))
                elif code == C.MODULE:
                    d = decoder.record(rec)
                    modules.append(Module.from_record(d))
                elif code == C.LANE:
                    d = decoder.record(rec)
                    lane_names[d["id"]] = d["name"]
                elif code == C.STRING:
                    decoder.record(rec)
            except MALFORMED as exc:
                raise malformed_record(code, exc, str(path)) from None
        if columns["seq"] or not seq:
            yield flush()


def _named_frames(stack: dict, functions: dict[int, Function], modules: list[Module],
                  crash: dict | None) -> list[dict]:
    """A stack record's frames by function name, module, file and line (outermost
    first), so that a dataset never refers to function ids it does not hold."""
    def function(fn_id: int) -> Function:
        return functions.get(fn_id) or Function(fn_id, f"<function {fn_id}>")

    return [{"function": fn.label, "module": fn.module, "file": fn.file,
             "line": line if line is not None else fn.line,
             **({"locals": frame["locals"]} if frame["locals"] is not None else {})}
            for (fn, line), frame in zip(snapshot_frames(stack, function, modules, crash),
                                         stack["frames"])]


def _adopt_meta(columns: dict[str, list], span: _Open, meta: dict) -> None:
    """An imported span's own ids replace the derived ones, on its call row too."""
    if span.row is None:
        return
    span.span_id = meta["span_id"]
    span.parent_span_id = meta.get("parent_span_id") or None
    columns["span_id"][span.row] = span.span_id
    columns["parent_span_id"][span.row] = span.parent_span_id
    span.row = None
