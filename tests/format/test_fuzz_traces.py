"""A structure-aware fuzzer over real traces, and the corpus of what it found.

Mutants are made from the records of a real trace (the demo trace of the bundled example:
values, unwinds with locals, a crash, a redaction): a field replaced by a value of another
type or an id that was never defined, a record cut short, dropped, duplicated or moved, the
summary's fields given the wrong types. Every reading command, run in this process through
click's CliRunner, must then finish with its output or a one-line error naming the file —
never `internal error`, never a traceback. What the fuzzer once found is kept in
tests/corpus/fuzz/ and replayed on every run, so each fix stays fixed.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zstandard
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orion.cli import cli
from orion.format import constants as C
from orion.format.columns import HOT, column_problem, hot_record_ok
from orion.format.errors import TraceError
from orion.format.reader import TraceReader
from orion.format.summary import read_summary
from orion.format.writer import prelude_bytes, trailer_bytes
from orion.spool import Spool, trace_filename

from ..sample_traces import write_demo_trace

CORPUS = Path(__file__).parent.parent / "corpus" / "fuzz"
# The commands a fuzzed file goes through; `list` reads it from a spool, `diff` against itself.
COMMANDS = (["cat"], ["validate"], ["show", "--all"], ["replay", "--exception"],
            ["fingerprint"], ["graph", "--format", "dot"], ["export", "--format", "chrome"],
            ["export", "--format", "otlp"], ["export", "--format", "folded"],
            ["export", "--format", "speedscope"], ["export", "--format", "jaeger"])


def trace_records(path: str | Path) -> list[list]:
    """The records of a trace as written: time deltas again, not absolute times."""
    records, last = [], 0
    with TraceReader(path) as reader:
        for record in reader.records():
            if record[0] in C.TIMED_TYPES:
                record[1], last = record[1] - last, record[1]
            records.append(record)
    return records


def pack_trace(records: list[Any], trailer: Any = None) -> bytes:
    """A trace file: the first record in a frame of its own, the rest in a second frame,
    and a trailer holding `trailer` when it is not None."""
    compress = zstandard.ZstdCompressor(write_content_size=True).compress
    packed = [msgpack.packb(record) for record in records]
    data = prelude_bytes() + compress(packed[0]) + compress(b"".join(packed[1:]))
    if trailer is not None:
        data += trailer_bytes(msgpack.packb(trailer))
    return data


# A value of another type, or an id no record defines.
ODD_VALUES = st.one_of(
    st.integers(min_value=-3, max_value=40), st.integers(min_value=2**31, max_value=2**64 - 1),
    st.none(), st.booleans(), st.floats(allow_nan=True), st.text(max_size=5),
    st.binary(max_size=4), st.lists(st.integers(-1, 9), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(-1, 9), max_size=2))


def _replace_somewhere(data, value: Any, odd: Any) -> Any:
    """`value` with one of its leaves (or itself) replaced by `odd`, chosen by `data`."""
    if isinstance(value, list) and value and data.draw(st.booleans()):
        index = data.draw(st.integers(0, len(value) - 1))
        value[index] = _replace_somewhere(data, value[index], odd)
        return value
    if isinstance(value, dict) and value and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(value, key=repr)))
        value[key] = _replace_somewhere(data, value[key], odd)
        return value
    return odd


def mutate(data, records: list[list]) -> tuple[list[Any], Any]:
    """One to three structure-aware mutations of `records`; returns them and a trailer."""
    records = copy.deepcopy(records)
    for _ in range(data.draw(st.integers(1, 3))):
        index = data.draw(st.integers(0, len(records) - 1))
        record = records[index]
        how = data.draw(st.sampled_from(("field", "field", "field", "cut", "drop", "copy",
                                         "move", "type")))
        if how == "field" and isinstance(record, list) and len(record) > 1:
            field = data.draw(st.integers(1, len(record) - 1))
            record[field] = _replace_somewhere(data, record[field], data.draw(ODD_VALUES))
        elif how == "cut" and isinstance(record, list):
            del record[data.draw(st.integers(1, max(len(record) - 1, 1))):]
        elif how == "drop" and index > 0:
            del records[index]
        elif how == "copy":
            records.insert(data.draw(st.integers(1, len(records))), copy.deepcopy(record))
        elif how == "move" and index > 0:
            records.insert(data.draw(st.integers(1, len(records))), records.pop(index))
        elif how == "type" and isinstance(record, list) and index > 0:
            record[0] = data.draw(st.sampled_from(sorted(C.RECORD_TYPES)))
    end = records[-1]
    trailer = end[1] if isinstance(end, list) and len(end) > 1 and end[0] == C.END else None
    if isinstance(trailer, dict) and data.draw(st.booleans()):  # one the end record differs
        trailer = _replace_somewhere(data, copy.deepcopy(trailer), data.draw(ODD_VALUES))
    return records, trailer


def check_commands(path: Path, spool_dir: Path) -> list[str]:
    """Run every reading command on `path`; the problems: internal errors, tracebacks,
    errors of more than one line or not naming the file."""
    spool = Spool(spool_dir)
    shutil.rmtree(spool_dir, ignore_errors=True)
    spool_dir.mkdir()
    listed = spool.path_for("0" * 32, 10**18)
    shutil.copyfile(path, listed)
    runner = CliRunner()
    problems = []
    runs = [[*args, str(path)] for args in COMMANDS]
    runs += [["diff", str(path), str(path)], ["--spool", str(spool_dir), "list", "--format",
                                                "table"],
             ["--spool", str(spool_dir), "list", "--format", "jsonl"]]
    for args in runs:
        result = runner.invoke(cli, args)
        where = " ".join(args[:3])
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            problems.append(f"{where}: raised {type(result.exception).__name__}: "
                            f"{result.exception}")
            continue
        errors = result.stderr
        if "internal error" in errors or "Traceback" in errors:
            problems.append(f"{where}: {errors.strip()}")
        elif result.exit_code == 2 and args[0] != "--spool":
            lines = errors.splitlines()
            if len(lines) != 1 or str(path) not in lines[0]:
                problems.append(f"{where}: error not one line naming the file: {errors!r}")
        elif result.exit_code not in (0, 1, 2):
            problems.append(f"{where}: exit {result.exit_code}: {errors.strip()}")
    return problems


@pytest.fixture(scope="module")
def demo_records(tmp_path_factory) -> list[list]:
    return trace_records(write_demo_trace(Spool(tmp_path_factory.mktemp("demo"))))


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.otrace")), ids=lambda p: p.stem)
def test_what_the_fuzzer_found_is_a_one_line_error(path, tmp_path):
    assert check_commands(path, tmp_path / "spool") == []


@settings(max_examples=20, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_mutants_of_a_real_trace_never_reach_internal_error(data, demo_records, tmp_path):
    """A small budget on every run (~20 mutants, a few seconds); a failure prints the
    draws, and the file it made belongs in tests/corpus/fuzz/ once fixed."""
    records, trailer = mutate(data, demo_records)
    path = tmp_path / "mutant.otrace"
    path.write_bytes(pack_trace(records, trailer))
    assert check_commands(path, tmp_path / "spool") == []


@settings(max_examples=100, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_read_summary_gives_a_summary_or_a_trace_error(data, demo_records, tmp_path):
    """What listing, status and serve call on every file of a spool, trailer or not."""
    records, trailer = mutate(data, demo_records)
    path = tmp_path / "mutant.otrace"
    path.write_bytes(pack_trace(records, trailer))
    try:
        summary = read_summary(path)
    except TraceError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
    else:
        assert isinstance(summary, dict) and isinstance(summary["complete"], bool)


@given(code=st.sampled_from(sorted(HOT)),
       columns=st.lists(st.one_of(st.integers(0, 3), ODD_VALUES), max_size=6))
def test_the_readers_fast_check_agrees_with_the_column_table(code, columns):
    record = [code, 0, *columns]  # the reader has made the delta an int already
    assert hot_record_ok(record) == (column_problem(record) is None)
