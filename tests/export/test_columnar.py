"""`orion export --format parquet|arrow`: rows per event, a dataset partitioned by date,
read back with pyarrow against the schema documented in docs/interchange.md."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from orion.cli import cli

from .sample import write_rich_trace

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
ds = pytest.importorskip("pyarrow.dataset")
ipc = pytest.importorskip("pyarrow.ipc")

DOC = Path(__file__).resolve().parents[2] / "docs" / "interchange.md"
TYPES = {"string": pa.string(), "int64": pa.int64(), "int32": pa.int32(),
         "timestamp[ns, UTC]": pa.timestamp("ns", tz="UTC")}
DAY = 86_400 * 10**9


def documented_schema():
    text = DOC.read_text()
    table = text.split("<!-- schema:begin -->")[1].split("<!-- schema:end -->")[0]
    fields = []
    for line in table.strip().splitlines()[2:]:
        name, kind, nullable = [c.strip() for c in line.strip("|").split("|")][:3]
        fields.append(pa.field(name.strip("`"), TYPES[kind], nullable=nullable == "yes"))
    return pa.schema(fields)


def test_dataset_of_many_traces_partitioned_by_date(spool, tmp_path):
    starts = [1_700_000_000 * 10**9, 1_700_000_000 * 10**9 + 60 * 10**9,
              1_700_000_000 * 10**9 + 2 * DAY]
    for i, start in enumerate(starts):
        write_rich_trace(spool, start_ns=start, fail=i != 1)
    ids = "".join(e.trace_id + "\n" for e in spool.entries())
    out = tmp_path / "dataset"
    result = CliRunner().invoke(cli, ["export", "-", "--format", "parquet", "-o", str(out)],
                                input=ids)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["date=2023-11-14", "date=2023-11-16"]
    assert len(list((out / "date=2023-11-14").glob("*.parquet"))) == 2
    for file in out.rglob("*.parquet"):
        assert pq.read_schema(file) == documented_schema()
    table = ds.dataset(out, format="parquet", partitioning="hive").to_table()
    assert table.num_rows == 16 + 15 + 16  # the trace that did not fail has no IOError
    assert set(table.column("date").to_pylist()) == {"2023-11-14", "2023-11-16"}
    rows = table.drop_columns(["time", "trace_start"]).to_pylist()
    assert {r["trace_id"] for r in rows} == {e.trace_id for e in spool.entries()}
    one = [r for r in rows if r["trace_id"] == spool.entries()[0].trace_id]
    assert [r["seq"] for r in sorted(one, key=lambda r: r["seq"])] == list(range(16))
    calls = {r["function"]: r for r in one if r["type"] == "call"}
    ends = {r["span_id"]: r for r in one if r["type"] in ("return", "unwind")}
    assert set(calls) == {"main", "handle", "parse", "save", "work", "helper"}
    assert calls["handle"]["parent_span_id"] == calls["main"]["span_id"]
    assert calls["helper"]["depth"] == 1 and calls["helper"]["lane_name"] == "worker-1"
    assert ends[calls["main"]["span_id"]]["duration_ns"] == 800
    assert ends[calls["save"]["span_id"]]["type"] == "unwind"
    exceptions = [r for r in one if r["type"] == "exception"]
    assert [(r["exc_type"], r["message"], r["kind"], r["function"]) for r in exceptions] == [
        ("ValueError", "bad number 'x'", "raised", "parse"),
        ("ValueError", "bad number 'x'", "caught", "handle"),
        ("IOError", "disk full", "raised", "save")]
    assert all(r["service"] == "shop" and r["host"] == "box" for r in rows)


def test_span_ids_agree_with_the_otlp_export(spool, tmp_path):
    import json
    write_rich_trace(spool)
    target = tmp_path / "t.arrow"
    assert CliRunner().invoke(cli, ["export", "@", "--format", "arrow", "-o",
                                    str(target)]).exit_code == 0
    with pa.ipc.open_file(target) as reader:
        table = reader.read_all()
    assert table.schema == documented_schema()
    arrow_ids = {r["function"]: r["span_id"] for r in
                 table.select(["type", "function", "span_id"]).to_pylist() if r["type"] == "call"}
    otlp = json.loads(CliRunner().invoke(cli, ["export", "@", "--format", "otlp"]).stdout)
    otlp_ids = {s["name"]: s["spanId"] for rs in otlp["resourceSpans"]
                for ss in rs["scopeSpans"] for s in ss["spans"]}
    assert arrow_ids == otlp_ids


def test_parquet_never_goes_to_a_terminal_but_can_go_to_a_pipe(spool):
    write_rich_trace(spool)
    result = CliRunner().invoke(cli, ["export", "@", "--format", "parquet"])
    assert result.exit_code == 0
    assert result.stdout_bytes.startswith(b"PAR1") and result.stdout_bytes.endswith(b"PAR1")
    assert re.search(rb"trace_id", result.stdout_bytes)


def test_one_trace_into_a_dataset_directory(spool, tmp_path):
    write_rich_trace(spool)
    out = tmp_path / "lake"
    result = CliRunner().invoke(cli, ["export", "-", "--format", "parquet", "-o", str(out)],
                                input=spool.entries()[0].trace_id + "\n")
    assert result.exit_code == 0, result.output
    [file] = out.rglob("*.parquet")
    assert file.parent.name == "date=2023-11-14"
    single = tmp_path / "one.parquet"
    assert CliRunner().invoke(cli, ["export", "@", "--format", "parquet", "-o",
                                    str(single)]).exit_code == 0
    assert pq.read_table(single).num_rows == 16


@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
def test_native_functions_are_named_with_file_and_line(c_crash, tmp_path, fmt):
    """A C program's calls and its crash stack by name, file and line, as `show` names them:
    no raw addresses, no function ids the dataset does not hold."""
    spool, trace = c_crash
    out = tmp_path / f"crash.{fmt}"
    result = CliRunner().invoke(cli, ["export", "--spool", str(spool), trace,
                                      "--format", fmt, "-o", str(out)])
    assert result.exit_code == 0, result.output
    table = pq.read_table(out) if fmt == "parquet" else ipc.open_file(out).read_all()
    rows = table.drop_columns(["time", "trace_start"]).to_pylist()
    calls = [(r["function"], Path(r["file"]).name, r["line"]) for r in rows
             if r["type"] == "call"]
    assert calls == [("main", "crash.c", 5), ("middle", "crash.c", 4), ("fault", "crash.c", 3)]
    stack = json.loads(next(r["data"] for r in rows if r["type"] == "stack"))
    assert [(f["function"], Path(f["file"]).name, f["line"]) for f in stack] == [
        ("main", "crash.c", 5), ("middle", "crash.c", 4), ("fault", "crash.c", 3)]
    assert all("fn" not in frame for frame in stack)
