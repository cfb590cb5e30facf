"""`orion cat`: decoded records as JSON lines, filters, several traces, cut files."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from orion.cli import cli
from ..sample_traces import write_demo_trace
from orion.format import TraceReader, decode_records
from tests.conftest import run_orion, write_trace


def cat(*args, input=None):
    return CliRunner().invoke(cli, ["cat", *args], input=input)


def records(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines()]


def test_cat_prints_every_record_decoded(spool):
    path = write_demo_trace(spool)
    result = cat("@")
    assert result.exit_code == 0, result.stderr
    got = records(result.stdout)
    with TraceReader(path) as reader:
        assert got == json.loads(json.dumps(list(decode_records(reader.records()))))
    assert got[0]["type"] == "header" and got[-1]["type"] == "end"
    calls = [r for r in got if r["type"] == "call"]
    assert calls[1]["args"] == {"path": "cart.json"} and calls[1]["t"] == 3_000
    assert result.stderr == ""


def test_cat_type_filter_keeps_strings_resolved(spool):
    write_demo_trace(spool)
    got = records(cat("@", "--type", "exception", "-t", "crash,unwind").stdout)
    assert {r["type"] for r in got} == {"exception", "crash", "unwind"}
    [exception] = [r for r in got if r["type"] == "exception"]
    assert exception["exc_type"] == "ValueError"
    assert [r["type"] for r in records(cat("@", "-t", "end").stdout)] == ["end"]
    bad = cat("@", "--type", "bogus")
    assert bad.exit_code == 2 and "unknown record type 'bogus'" in bad.stderr


def test_cat_several_traces_and_stdin(spool):
    first = write_trace(spool, root="one", start_ns=1_000_000_000)
    second = write_trace(spool, root="two", start_ns=2_000_000_000)
    both = records(cat(first, second, "-t", "header").stdout)
    assert [r["trace_id"] for r in both] == [Path(p).stem.split("-")[1] for p in (first, second)]
    piped = cat("-", input=f"{second}\n{first}\n", )
    assert [r["trace_id"] for r in records(piped.stdout) if r["type"] == "header"] == [
        Path(p).stem.split("-")[1] for p in (second, first)]


def test_cat_incomplete_trace_notes_it_on_stderr(spool):
    w = spool.open_writer(language="python", batch_bytes=64)
    lane = w.lane("MainThread")
    fn = w.function("main")
    for i in range(30):
        w.call(i, lane, fn, w.encode_pairs({"i": i}))
    w.flush()
    w.sink.close()
    w.path.write_bytes(w.path.read_bytes()[:-4])
    result = cat("@")
    assert result.exit_code == 0
    got = records(result.stdout)
    assert got[0]["type"] == "header" and "end" not in {r["type"] for r in got}
    assert 0 < sum(r["type"] == "call" for r in got) < 30
    assert "incomplete" in result.stderr and "last frame was cut" in result.stderr


def test_cat_errors(spool):
    write_trace(spool)
    result = cat("0123456789abcdef")
    assert result.exit_code == 2
    assert result.stderr.startswith("orion: error: ") and len(result.stderr.splitlines()) == 1
    assert CliRunner().invoke(cli, ["cat"]).exit_code == 2


def test_cat_in_a_real_pipe(spool):
    write_demo_trace(spool)
    proc = run_orion("cat", "@", "-t", "call")
    assert proc.returncode == 0
    assert [json.loads(line)["fn"] for line in proc.stdout.splitlines()] == [0, 1, 2, 3, 4, 5]
