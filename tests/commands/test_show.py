"""`orion show` through the CLI: header, environment, tree, --json and errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from orion.analysis.trace_index import open_indexed
from orion.cli import cli
from orion.commands.show import iter_json
from orion.model import load_trace
from ..analysis.trees import PROGRAM, write_program
from ..sample_traces import write_demo_trace
from tests.conftest import run_orion, write_trace


def show(*args, input=None):
    return CliRunner().invoke(cli, ["show", *args], input=input)


def test_show_demo_trace(spool):
    path = write_demo_trace(spool)
    trace_id = Path(path).name.split("-")[1].split(".")[0]
    result = show(trace_id[:8])
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"trace      {trace_id}" in out
    assert "status     failed  (exit code 1)" in out
    assert "command    python examples/checkout.py --coupon SAVE15%X" in out
    assert "exception  ValueError: could not convert string to float: '15%X'" in out
    assert ("failed at  main › process_order › compute_total › apply_discount › "
            "parse_percentage (line 5)") in out
    assert "complete   yes" in out
    assert "SHOP_API_TOKEN=<redacted>" in out and "LANG=C.UTF-8" in out
    assert "── MainThread (thread, native id 4242) ──" in out
    assert ("parse_percentage(text='15%X')  3.0µs  ✗ ValueError: could not convert string "
            "to float: '15%X' (line 5)") in out
    assert "┆ password = <redacted>" in out
    assert "✗ crash (uncaught): ValueError" in out
    assert "\x1b[" not in out
    assert show("@").output == out and show(path).output == out


def test_demo_command_prints_the_trace(spool):
    result = CliRunner().invoke(cli, ["demo"])
    assert result.exit_code == 0, result.output
    assert "parse_percentage(text='15%X')" in result.output


def test_show_reads_the_id_from_stdin_and_defaults_to_newest(spool):
    older = write_trace(spool, root="older", start_ns=1_000_000_000)
    write_trace(spool, root="newest", start_ns=2_000_000_000)
    assert "newest(n=100)" in show().output
    trace_id = Path(older).stem.split("-")[1]
    piped = show("-", input=f"{trace_id}  some table columns\n")
    assert piped.exit_code == 0 and "older(n=100)" in piped.output
    nothing = show("-", input="")
    assert nothing.exit_code == 2 and "no trace given" in nothing.output


def test_show_json_shape(spool):
    write_demo_trace(spool)
    result = show("@", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert set(doc) == {"summary", "header", "failing_path", "lanes"}
    assert doc["summary"]["status"] == "failed" and doc["summary"]["complete"] is True
    assert doc["header"]["process"]["pid"] == 4242
    assert [f["name"] for f in doc["failing_path"]][-1] == "parse_percentage"
    [lane] = doc["lanes"]
    assert {"id", "name", "kind", "calls", "exceptions", "events"} <= set(lane)
    [main] = lane["calls"]
    assert main["name"] == "main" and main["outcome"] == "unwound"
    load, process = main["calls"]
    assert load["value"]["t"] == "list" and load["args"] == {"path": "cart.json"}
    assert [e["type"] for e in lane["events"]] == ["crash"]
    shallow = json.loads(show("@", "--json", "--depth", "1").output)
    assert shallow["lanes"][0]["calls"][0]["hidden_calls"] == 5


def test_show_options(spool):
    w = spool.open_writer(language="python",
                          env={"os": "Linux", "vars": {f"V{i:02d}": str(i) for i in range(30)}})
    main_lane, worker = w.lane("MainThread"), w.lane("worker", "thread")
    f, g = w.function("f"), w.function("g")
    w.call(1, main_lane, f)
    w.ret(2, main_lane)
    w.call(3, worker, g)
    w.ret(4, worker)
    w.close()
    out = show("@").output
    assert "V19=19" in out and "V20=20" not in out and "… 10 more (use --env)" in out
    assert "V29=29" in show("@", "--env").output
    assert "environment" not in show("@", "--no-env").output
    only_worker = show("@", "--lane", "worker").output
    assert "── worker (thread) ──" in only_worker and "MainThread" not in only_worker
    assert show("@", "--lane", "0").output.count("──") == 2
    bad = show("@", "--lane", "9")
    assert bad.exit_code == 2 and "no lane '9'" in bad.output and "1 (worker)" in bad.output


def test_show_caps_lines_unless_all(spool):
    w = spool.open_writer(language="python")
    lane = w.lane("MainThread")
    fns = [w.function(f"f{i}") for i in range(3)]
    w.call(0, lane, fns[0])
    for i in range(1_000):
        w.call(i + 1, lane, fns[1 + i % 2])
        w.ret(i + 1, lane)
    w.ret(2_000, lane)
    w.close()
    out = show("@").output
    assert "more calls not shown (use --all)" in out
    full = show("@", "--all").output
    assert "not shown" not in full and full.count("f1()") == 500


def test_show_incomplete_cut_file(spool):
    w = spool.open_writer(language="python", batch_bytes=64)
    lane = w.lane("MainThread")
    main, work = w.function("main"), w.function("work")
    w.call(1, lane, main)
    for i in range(40):
        w.call(10 + i, lane, work, w.encode_pairs({"i": i}))
        w.ret(11 + i, lane, i)
    w.flush()
    w.sink.close()
    data = w.path.read_bytes()
    w.path.write_bytes(data[:-3])
    result = show("@")
    assert result.exit_code == 0, result.output
    assert "status     incomplete" in result.output
    assert ("incomplete: the program stopped before the trace was closed (its last frame "
            "was cut)") in result.output
    assert "main()  … still running when the trace ended" in result.output
    doc = json.loads(show("@", "--json").output)
    assert doc["summary"]["complete"] is False
    assert doc["lanes"][0]["calls"][0]["outcome"] == "open"


def test_show_errors_are_one_line_exit_2(spool, tmp_path):
    write_trace(spool)
    for args in (["deadbeef"], ["no-such-file.otrace"], ["@~5"], ["@", "@"]):
        result = show(*args)
        assert result.exit_code == 2, (args, result.output)
        assert len(result.output.strip().splitlines()) == 1
        assert result.output.startswith("orion: error: ")
    junk = tmp_path / "junk.otrace"
    junk.write_bytes(b"junk")
    result = show(str(junk))
    assert result.exit_code == 2 and "not an .otrace file" in result.output


def test_show_in_a_real_pipe_has_no_colour(spool):
    write_demo_trace(spool)
    proc = run_orion("show", "@")
    assert proc.returncode == 0 and "\x1b[" not in proc.stdout
    assert "parse_percentage" in proc.stdout


def test_failing_path_text_folds_recursion_and_long_chains():
    from orion.commands.show import path_text

    assert path_text(["main", "rec", "rec", "rec", "leaf"]) == "main › rec ×3 › leaf"
    long = path_text([f"f{i}" for i in range(20)])
    assert long == "f0 › f1 › f2 › f3 › … 12 more … › f16 › f17 › f18 › f19"


def otlp_cart() -> dict:
    """An OTLP/JSON document as a collector writes it: a failing server span, two children."""
    def attrs(values: dict) -> list[dict]:
        return [{"key": k, "value": {"intValue": str(v)} if isinstance(v, int)
                 else {"stringValue": v}} for k, v in values.items()]

    trace = "5b8efff798038103d269b633813fc60c"
    spans = [
        {"traceId": trace, "spanId": "00000000000000a1", "name": "GET /cart", "kind": 2,
         "startTimeUnixNano": "1000", "endTimeUnixNano": "900000",
         "status": {"code": 2, "message": "cart lookup failed"},
         "attributes": attrs({"http.route": "/cart", "http.response.status_code": 500}),
         "events": [{"timeUnixNano": "800000", "name": "exception", "attributes": attrs(
             {"exception.type": "KeyError", "exception.message": "'sku'"})},
             {"timeUnixNano": "850000", "name": "cache.miss",
              "attributes": attrs({"key": "cart:1"})}]},
        {"traceId": trace, "spanId": "00000000000000b2", "parentSpanId": "00000000000000a1",
         "name": "SELECT carts", "kind": "SPAN_KIND_CLIENT", "startTimeUnixNano": "2000",
         "endTimeUnixNano": "300000", "status": {"code": "STATUS_CODE_OK"},
         "attributes": attrs({"db.system": "postgresql"})},
        {"traceId": trace, "spanId": "00000000000000b3", "parentSpanId": "00000000000000a1",
         "name": "render", "startTimeUnixNano": "310000", "endTimeUnixNano": "400000"}]
    return {"resourceSpans": [{
        "resource": {"attributes": attrs({"service.name": "checkout", "host.name": "web-1"})},
        "scopeSpans": [{"scope": {"name": "manual", "version": "1.0"}, "spans": spans}]}]}


def test_show_imported_otlp_spans(spool, tmp_path):
    source = tmp_path / "cart.json"
    source.write_text(json.dumps(otlp_cart()))
    imported = CliRunner().invoke(cli, ["import", str(source)])
    assert imported.exit_code == 0, imported.output
    out = show("@").output
    assert "otel." not in out and "span_id" not in out
    assert "resource   service.name='checkout'  host.name='web-1'  · scope manual 1.0" in out
    tree = out[out.index("── checkout (span) ──"):].splitlines()
    assert tree == [
        "── checkout (span) ──",
        "└─ GET /cart  [server]  899.0µs  ✗ KeyError: 'sku' · status: cart lookup failed",
        "   ┆ http.route='/cart'  http.response.status_code=500",
        "   ├─ SELECT carts  [client · ok]  298.0µs",
        "   │  ┆ db.system='postgresql'",
        "   ├─ render  90.0µs",
        "   └─ • cache.miss key='cart:1'",
    ]
    # --json keeps the bookkeeping events where they were: nothing removed, same shape.
    [lane] = json.loads(show("@", "--json").output)["lanes"]
    assert [e["kind"] for e in lane["events"]] == ["otel.resource"]
    [root] = lane["calls"]
    assert [e["kind"] for e in root["events"]] == ["otel.span", "cache.miss"]
    assert root["events"][0]["attrs"]["kind"] == 2


ERROR_PROGRAM = '''\
def inner(x):
    pair = (x * 2.0,)
    raise ValueError(f"bad {x}")


def helper(n):
    try:
        inner(n)
    except ValueError:
        pass
    return n


def outer(a):
    total = 0
    for i in range(6):
        total += helper(i)
    return inner(a)


outer(7)
'''


def run_error_mode(tmp_path) -> None:
    """A real program failing under `orion run --mode error` (locals only in its stack
    record; its caught exceptions raised by calls the old tree folded away)."""
    program = tmp_path / "fails.py"
    program.write_text(ERROR_PROGRAM)
    result = run_orion("run", "--mode", "error", "--", sys.executable, str(program))
    assert result.returncode == 1, result.stderr


def test_error_mode_locals_failing_files_and_caught_calls_in_show(spool, tmp_path):
    run_error_mode(tmp_path)
    out = show("@", "--no-env").output
    program = str(tmp_path / "fails.py")
    assert "mode error" in out
    assert (f"failed at  <module> › outer › inner (line 3)\n           {program}:21  <module>\n"
            f"           {program}:18  outer\n           {program}:3  inner\n") in out
    assert "┆ a = 7\n" in out and "┆ total = 15\n" in out
    assert "┆ x = 7\n" in out and "┆ pair = (14.0,)\n" in out
    assert "×" not in out  # helper raised and caught: every call drawn, none folded
    assert out.count("├─ helper()") == 6 and "ValueError: bad 5 (line 3)" in out
    doc = json.loads(show("@", "--json").output)
    assert [(f["name"], f["file"], f["line"]) for f in doc["failing_path"]] == [
        ("<module>", program, 21), ("outer", program, 18), ("inner", program, 3)]
    module = doc["lanes"][0]["calls"][0]
    outer = module["calls"][0]
    assert (outer["file"], outer["def_line"], outer["line"]) == (program, 14, 18)
    assert outer["locals"]["total"] == 15 and outer["calls"][0]["file"] == program
    inner = outer["calls"][-1]
    assert inner["locals"] == {"x": 7, "pair": {"t": "tuple", "items": [14.0]}}


def test_error_mode_locals_of_a_failing_test_under_orion_test(spool, tmp_path):
    (tmp_path / "test_calc.py").write_text(
        "def total(prices, rate):\n"
        "    factor = (rate,)\n"
        "    return sum(prices) * factor[0] / undefined_name\n"
        "\n"
        "def test_total():\n"
        "    items = [1.5, 2.5]\n"
        "    assert total(items, 2.0) == 8.0\n")
    result = subprocess.run([sys.executable, "-m", "orion", "test", "--mode", "error", "--",
                             sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "test_calc.py"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    assert "test_calc.py::test_total  failed" in result.stderr, result.stdout + result.stderr
    out = show("@", "--no-env").output
    assert "mode error" in out and f"{tmp_path / 'test_calc.py'}:3  total\n" in out
    assert "┆ items = [1.5, 2.5]\n" in out
    assert "┆ prices = [1.5, 2.5]\n" in out and "┆ factor = (2.0,)\n" in out


@settings(max_examples=200, deadline=None)
@given(PROGRAM, st.booleans(), st.sampled_from([None, 1, 2, 3]), st.booleans())
def test_show_json_from_the_index_is_the_whole_trees(tmp_path_factory, steps, native, depth,
                                                     one_lane):
    path = tmp_path_factory.mktemp("t") / "t.otrace"
    write_program(path, steps, native)
    whole = load_trace(path)
    indexed = open_indexed(path)
    if indexed is None:  # times a tree walk orders differently: the whole tree is read
        assert any(step == "same time" for _, step in steps)
        return
    lanes = list(whole.lanes.values())[:1] if one_lane else list(whole.lanes.values())
    expected = "".join(iter_json(whole, lanes, depth))
    lanes = list(indexed.trace.lanes.values())[:len(lanes)]
    assert "".join(iter_json(indexed.trace, lanes, depth, indexed)) == expected
    json.loads(expected)
