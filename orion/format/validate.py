"""Checking a trace file against the format: the schema of every record and the rules the
schema cannot express (references, nesting, clocks, the end record's bookkeeping).

A reader tolerates what it can; a validator says what a writer got wrong, so agents in
other languages can be held to spec/OTRACE.md. Problems carry the index of the record they
are about (0 is the header) so a message can be traced back to `orion cat` output.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any, Callable

from . import constants as C
from .columns import column_problem
from .decode import Decoder
from .errors import CorruptTrace
from .reader import NO_HEADER, TraceReader, read_trailer

ERROR = "error"
WARNING = "warning"
SCHEMA_FILE = "otrace.schema.json"
_COUNTED = {"call": "calls", "return": "returns", "unwind": "unwinds",
            "exception": "exceptions", "crash": "crashes", "stack": "stacks",
            "event": "events"}
_CONTAINERS = (C.V_SEQ, C.V_MAP, C.V_OBJECT)


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding: `index` is the record's position (None: the file as a whole)."""

    index: int | None
    type: str | None
    message: str
    severity: str = ERROR

    def __str__(self) -> str:
        if self.index is None:
            return self.message
        if self.type is None:
            return f"record {self.index}: {self.message}"
        return f"record {self.index} ({self.type}): {self.message}"

    def as_json(self) -> dict:
        return {"record": self.index, "type": self.type, "severity": self.severity,
                "message": self.message}


def is_valid(problems: list[Problem]) -> bool:
    """Warnings (an incomplete trace, a missing trailer) do not make a trace invalid."""
    return all(p.severity != ERROR for p in problems)


@functools.cache
def load_schema() -> dict:
    """The JSON Schema of decoded records, shipped inside the package."""
    return json.loads(resources.files(__package__).joinpath(SCHEMA_FILE).read_text("utf-8"))


# -- the schema, compiled ---------------------------------------------------------------
#
# jsonschema takes ~100 µs per record, a minute for a million-event trace. So the schema is
# compiled into plain predicates for the subset of JSON Schema it uses (compiling refuses
# any other keyword), and jsonschema only explains the records the predicates reject; when
# it finds nothing wrong, it has the last word.

Check = Callable[[Any], bool]
_ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "title", "description"})
_JSON_TYPES: dict[str, Check] = {
    "null": lambda v: v is None,
    "boolean": lambda v: type(v) is bool,
    "integer": lambda v: (type(v) is int or (type(v) is float and v.is_integer())),
    "number": lambda v: type(v) in (int, float),
    "string": lambda v: type(v) is str,
    "array": lambda v: type(v) is list,
    "object": lambda v: type(v) is dict,
}


def _same(a: Any, b: Any) -> bool:
    """JSON equality: true is not 1."""
    return (type(a) is bool) == (type(b) is bool) and a == b


class _SchemaCompiler:
    def __init__(self, root: dict) -> None:
        self.defs = root.get("$defs", {})
        self.compiled: dict[str, Check] = {}

    def ref(self, name: str) -> Check:
        if name not in self.compiled:
            self.compiled[name] = lambda v: self.compiled[name](v)  # recursion placeholder
            self.compiled[name] = self.compile(self.defs[name])
        return self.compiled[name]

    def compile(self, schema: dict | bool) -> Check:
        if schema is True:
            return lambda v: True
        checks = [self.keyword(key, schema[key], schema) for key in schema
                  if key not in _ANNOTATIONS and key != "then"]
        if len(checks) == 1:
            return checks[0]
        return lambda v: all(check(v) for check in checks)

    def keyword(self, key: str, arg: Any, schema: dict) -> Check:
        if key == "$ref":
            if not arg.startswith("#/$defs/"):
                raise ValueError(f"unsupported $ref {arg}")
            return self.ref(arg[len("#/$defs/"):])
        if key == "type":
            tests = [_JSON_TYPES[name] for name in ([arg] if isinstance(arg, str) else arg)]
            return lambda v: any(test(v) for test in tests)
        if key == "const":
            return lambda v: _same(v, arg)
        if key == "enum":
            return lambda v: any(_same(v, option) for option in arg)
        if key in ("minimum", "maximum"):
            sign = 1 if key == "minimum" else -1
            return lambda v: type(v) not in (int, float) or sign * (v - arg) >= 0
        if key == "pattern":
            match = re.compile(arg).search
            return lambda v: type(v) is not str or match(v) is not None
        if key == "not":
            inner = self.compile(arg)
            return lambda v: not inner(v)
        if key in ("anyOf", "allOf"):
            subs = [self.compile(sub) for sub in arg]
            combine = any if key == "anyOf" else all
            return lambda v: combine(sub(v) for sub in subs)
        if key == "if":
            test, then = self.compile(arg), self.compile(schema.get("then", True))
            return lambda v: not test(v) or then(v)
        if key == "required":
            return lambda v: type(v) is not dict or all(name in v for name in arg)
        if key == "properties":
            props = {name: self.compile(sub) for name, sub in arg.items()}
            return lambda v: type(v) is not dict or all(
                props[k](item) for k, item in v.items() if k in props)
        if key == "additionalProperties":
            known = frozenset(schema.get("properties", ()))
            extra = self.compile(arg) if arg is not False else (lambda v: False)
            return lambda v: type(v) is not dict or all(
                extra(item) for k, item in v.items() if k not in known)
        if key in ("minItems", "maxItems"):
            sign = 1 if key == "minItems" else -1
            return lambda v: type(v) is not list or sign * (len(v) - arg) >= 0
        if key == "items":
            item = self.compile(arg)
            skip = len(schema.get("prefixItems", ()))
            return lambda v: type(v) is not list or all(item(x) for x in v[skip:])
        if key == "prefixItems":
            firsts = [self.compile(sub) for sub in arg]
            return lambda v: type(v) is not list or all(f(x) for f, x in zip(firsts, v))
        raise ValueError(f"schema keyword {key!r} is not supported by the compiler")


@functools.cache
def record_validators() -> dict[str, tuple[Check, Any]]:
    """Per record type (`$defs/<type>`), built once: (fast predicate, jsonschema validator)."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    schema = load_schema()
    registry = Registry().with_resource(schema["$id"], Resource.from_contents(schema))
    compiler = _SchemaCompiler(schema)
    return {name: (compiler.ref(name),
                   Draft202012Validator({"$ref": f"{schema['$id']}#/$defs/{name}"},
                                        registry=registry))
            for name in schema["properties"]["type"]["enum"]}


def schema_problem(validators: tuple[Check, Any], record: dict) -> str | None:
    """What is wrong with `record` by the schema (the most relevant error), or None."""
    from jsonschema.exceptions import best_match

    fast, validator = validators
    if fast(record):
        return None
    error = best_match(validator.iter_errors(record))
    if error is None:
        return None
    where = ".".join(str(part) for part in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message


class _StrictDecoder(Decoder):
    """The reader's decoder, also noting wire forms it tolerates but a writer must not use."""

    def __init__(self, note: Callable[[str], None]) -> None:
        super().__init__()
        self.note = note

    def value(self, wire: Any, depth: int = 0) -> Any:
        if type(wire) is float and not math.isfinite(wire):
            self.note(f"non-finite float {wire!r} on the wire (write a text node)")
        elif type(wire) is list and len(wire) > 2 and wire[0] in _CONTAINERS:
            if type(wire[2]) is not list:
                self.note(f"captured value node {wire[0]} holds a {type(wire[2]).__name__}, "
                          f"not an array")
            elif wire[0] == C.V_MAP and len(wire[2]) % 2:
                self.note("map value with an odd number of keys and values")
        return super().value(wire, depth)

    def pairs(self, flat: list | None, depth: int = 0) -> dict | None:
        if flat is not None:
            if type(flat) is not list:
                self.note(f"name/value pairs are a {type(flat).__name__}, not an array")
            elif len(flat) % 2:
                self.note("name/value pairs with an odd number of items")
            elif None in flat[::2]:
                self.note("a name in name/value pairs is nil, not a string id")
        return super().pairs(flat, depth)


class _Checker:
    """State of one validation pass: definitions, open calls and clocks per lane, counts."""

    def __init__(self, version: tuple[int, int]) -> None:
        self.version = version
        self.problems: list[Problem] = []
        self.index = 0
        self.type: str | None = None
        self.strings = 0
        self.functions: list[dict] = []
        self.lanes = 0
        self.modules = 0
        self.depth: list[int] = []  # open calls per lane
        self.clock: list[int] = []  # last time per lane
        self.max_t = 0
        self.counts = dict.fromkeys(_COUNTED.values(), 0)
        self.ring = False
        self.header: dict = {}
        self.end_index: int | None = None
        self.validators = record_validators()
        self.handlers = {name: getattr(self, "on_" + name) for name in self.validators}

    def error(self, message: str, severity: str = ERROR) -> None:
        self.problems.append(Problem(self.index, self.type, message, severity))

    def check(self, rec: dict, wire_problem: str | None = None) -> None:
        """Check one decoded record; `wire_problem` is what the reader's type checks found
        in its wire form (columns.py), reported when the schema finds nothing worse."""
        kind = self.type = rec["type"]
        if self.end_index is not None:
            self.error("record after the end record")
        elif kind == "end":
            self.end_index = self.index
        counted = _COUNTED.get(kind)
        if counted:
            self.counts[counted] += 1
        problem = schema_problem(self.validators[kind], rec) or wire_problem
        if problem:
            self.error(problem)
            return
        if counted:
            self.timed(rec)
        self.handlers[kind](rec)

    # -- definitions ---------------------------------------------------------------

    def on_header(self, rec: dict) -> None:
        if self.index:
            self.error("a second header (the header is only the first record)")
            return
        self.header = rec
        self.ring = rec.get("window") == "ring"
        if tuple(rec["version"]) != self.version:
            self.error(f"header version {rec['version'][0]}.{rec['version'][1]} differs from "
                       f"the prelude's {self.version[0]}.{self.version[1]}")

    def _sequence(self, what: str, got: int, expected: int) -> bool:
        if got != expected:
            self.error(f"defines {what} {got} but the next {what} id is {expected} "
                       f"(ids count from 0 in definition order)")
        return got == expected

    def on_string(self, rec: dict) -> None:
        if self._sequence("string", rec["id"], self.strings):
            self.strings += 1

    def on_function(self, rec: dict) -> None:
        if rec["name"] is None and "addr" not in rec:
            self.error("function has neither a name nor an address")
        if self._sequence("function", rec["id"], len(self.functions)):
            self.functions.append(rec)

    def on_lane(self, rec: dict) -> None:
        parent = rec["parent"]
        if parent is not None and parent >= self.lanes:
            self.error(f"parent lane {parent} is not defined before lane {rec['id']}")
        if self._sequence("lane", rec["id"], self.lanes):
            self.lanes += 1
            self.depth.append(0)
            self.clock.append(0)

    def on_module(self, rec: dict) -> None:
        if self._sequence("module", rec["id"], self.modules):
            self.modules += 1

    def on_unknown(self, rec: dict) -> None:
        code = rec["code"]
        if C.FIRST_EXTENSION <= code <= C.LAST_EXTENSION:
            return  # agent-private extension: skipped by design
        if 0 <= code < C.FIRST_EXTENSION:
            if self.version > (C.VERSION_MAJOR, C.VERSION_MINOR):
                return  # defined by the newer minor this file was written with
            self.error(f"record type {code} is not defined in format "
                       f"{self.version[0]}.{self.version[1]} (reserved for future versions)")
        else:
            self.error(f"record type {code} is outside 0..127")

    # -- events --------------------------------------------------------------------

    def timed(self, rec: dict) -> None:
        lane, t = rec["lane"], rec["t"]
        if t > self.max_t:
            self.max_t = t
        if lane >= self.lanes:
            self.error(f"lane {lane} is not defined")
            return
        if t < self.clock[lane]:
            self.error(f"time goes backwards on lane {lane}: {t} after {self.clock[lane]}")
        else:
            self.clock[lane] = t

    def _function(self, fn: int) -> bool:
        if fn >= len(self.functions):
            self.error(f"function {fn} is not defined")
            return False
        return True

    def on_call(self, rec: dict) -> None:
        self._function(rec["fn"])
        if rec["lane"] < self.lanes:
            self.depth[rec["lane"]] += 1

    def on_return(self, rec: dict) -> None:
        lane = rec["lane"]
        if lane >= self.lanes:
            return
        if self.depth[lane]:
            self.depth[lane] -= 1
        elif not self.ring:  # in a ring window, the call may lie before the window
            self.error(f"{self.type} with no open call on lane {lane}")

    on_unwind = on_return

    def on_stack(self, rec: dict) -> None:
        for frame in rec["frames"]:
            if not self._function(frame["fn"]):
                break

    def on_exception(self, rec: dict) -> None:
        pass

    on_crash = on_event = on_exception

    # -- the end ---------------------------------------------------------------------

    def on_end(self, rec: dict) -> None:
        header = self.header
        for key in ("trace_id", "start_ns"):
            if rec[key] != header.get(key):
                self.error(f"{key} {rec[key]!r} differs from the header's {header.get(key)!r}")
        body = dict(self.counts, records=self.index, functions=len(self.functions),
                    lanes=self.lanes)
        for key, counted in body.items():
            declared = rec["counts"][key]
            if declared != counted:
                self.error(f"counts.{key} is {declared} but the trace holds {counted}")
        if rec["duration_ns"] < self.max_t:
            self.error(f"duration_ns {rec['duration_ns']} is shorter than the last event "
                       f"at {self.max_t}")

    def finish(self, reader: TraceReader) -> None:
        self.index, self.type = None, None
        if not reader.complete:
            where = "the file ends inside a frame" if reader.truncated else "no end record"
            self.error(f"incomplete trace: {where} (its writer stopped before closing it)",
                       WARNING)
            return
        self.index, self.type = self.end_index, "end"
        end = reader.end_summary or {}
        if end.get("checksum") != reader.checksum:
            self.error(f"checksum {end.get('checksum')} does not match the records "
                       f"(crc32 {reader.checksum})")
        if end.get("status") == "ok":
            for lane, depth in enumerate(self.depth):
                if depth:
                    self.error(f"status is ok but lane {lane} ends with {depth} open call(s)")
        self.index, self.type = None, None
        if reader.truncated:
            self.error("bytes after the last frame are not a whole frame")
        trailer = read_trailer(reader.path)
        if trailer is None:
            self.error("no trailer: listing this trace needs a full scan", WARNING)
        elif trailer != end:
            self.error("the trailer differs from the end record")


def validate_trace(path: str | os.PathLike) -> list[Problem]:
    """Every problem found in the trace at `path`, errors and warnings, in file order.

    Raises TraceError when the file cannot be read as a trace (not a trace, a newer major
    version, a corrupt frame): those are unreadable, not merely invalid. A record that reads
    but does not decode (an undefined string id, a bad value node) is a problem.
    """
    with TraceReader(path, check_columns=False) as reader:
        checker = _Checker(reader.version)
        decoder = _StrictDecoder(checker.error)
        index = -1
        for index, raw in enumerate(reader.records()):
            checker.index, checker.type = index, C.TYPE_NAMES.get(raw[0], "unknown")
            try:
                rec = decoder.record(raw)
            except CorruptTrace as exc:
                checker.error(exc.message)
                continue
            checker.check(rec, column_problem(raw))  # 1.0 is a JSON integer, not an id
        if index < 0:  # not merely incomplete: show and import refuse it, so it is invalid
            return [Problem(None, None, NO_HEADER)]
        checker.finish(reader)
    return checker.problems
