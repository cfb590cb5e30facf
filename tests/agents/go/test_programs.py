"""`orion run` on a real Go program: the call tree with arguments and results, goroutines
as lanes, a panic several calls deep, the ways a program exits, error mode's ring, and the
program's own behaviour unchanged."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ...vector_shapes import assert_matches_vectors
from .conftest import (Built, by_type, decoded, line_of, orion, plain_env, requires_go, run_traced,
                       stack_lines)

pytestmark = requires_go


def functions(records: list[dict]) -> dict[int, dict]:
    return {r["id"]: r for r in by_type(records, "function")}


def test_dev_run_records_calls_arguments_results_and_goroutine_lanes(built: Built,
                                                                      tmp_path: Path) -> None:
    done, traces = run_traced(built, spool=tmp_path / "spool")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "workers: 8\nlogin: false ada has 3\n"
    [trace] = traces
    assert orion("validate", str(trace), cwd=tmp_path).returncode == 0
    assert_matches_vectors(trace)
    records = decoded(trace)
    fns = functions(records)
    names = {f["name"]: f for f in fns.values()}
    assert names["divide"]["line"] == line_of("func divide(")  # lines stay as written
    assert names["divide"]["file"] == str(built.module / "main.go")
    calls = [(fns[c["fn"]]["name"], c.get("args"), c["lane"]) for c in by_type(records, "call")]
    assert ("divide", {"a": 3, "b": 2}, calls[-1][2]) in calls or any(
        n == "divide" and a == {"a": 3, "b": 2} for n, a, _ in calls)
    returns = [r.get("value") for r in by_type(records, "return")]
    assert 1 in returns and "ada has 3" in returns
    lanes = by_type(records, "lane")
    main_lane = next(lane for lane in lanes if lane["name"] == "goroutine 1")
    workers = {c[2] for c in calls if c[0] == "worker"}
    assert len(workers) == 3 and main_lane["id"] not in workers
    for lane in lanes:
        if lane["id"] in workers:
            assert lane["kind"] == "goroutine" and lane["parent"] == main_lane["id"]
    [end] = by_type(records, "end")
    assert end["status"] == "ok" and end["exit_code"] == 0 and end["root"] == "main"
    listed = orion("list", "--spool", str(tmp_path / "spool"), "--json", cwd=tmp_path)
    assert [t["trace_id"] for t in json.loads(listed.stdout)] == [records[0]["trace_id"]]
    shown = orion("show", str(trace), cwd=tmp_path).stdout
    assert "divide(a=3, b=2)" in shown and "goroutine 1" in shown


def test_a_panic_is_recorded_and_the_program_behaves_as_without_orion(built: Built,
                                                                       tmp_path: Path) -> None:
    plain = subprocess.run([str(built.plain), "panic"], capture_output=True, text=True,
                           env=plain_env(), cwd=built.module)
    done, [trace] = run_traced(built, "panic", spool=tmp_path / "spool")
    assert plain.returncode == done.returncode == 2
    assert done.stdout == plain.stdout
    first = "panic: runtime error: integer divide by zero"
    assert plain.stderr.splitlines()[0].startswith(first)
    assert done.stderr.splitlines()[0] == plain.stderr.splitlines()[0]
    assert stack_lines(done.stderr) == stack_lines(plain.stderr)
    assert len(stack_lines(plain.stderr)) == 8  # four frames, each a function and its line
    records = decoded(trace)
    assert orion("validate", str(trace), cwd=tmp_path).returncode == 0
    assert_matches_vectors(trace)
    fns = functions(records)
    [crash] = by_type(records, "crash")
    assert (crash["kind"], crash["reason"]) == ("panic", "runtime.errorString")
    assert crash["message"] == "runtime error: integer divide by zero"
    assert crash["detail"]["recovered"] is False
    [stack] = by_type(records, "stack")
    frames = [(fns[f["fn"]]["name"], f["line"]) for f in stack["frames"]]
    assert frames == [("main", line_of("run(os.Args[1])")),
                      ("run", line_of('fmt.Println("average:"')),
                      ("average", line_of("return divide(total")),
                      ("divide", line_of("return a / b"))]
    # Each frame's arguments, named results and the locals declared at its body's top
    # level, as the panic left them (a loop's own variables are not kept).
    assert stack["frames"][-1]["locals"] == {"a": 0, "b": 0, "quotient": 0}
    assert stack["frames"][-2]["locals"] == {"values": None, "total": 0}
    assert stack["frames"][0]["locals"]["sum"] == 8 and stack["frames"][0]["locals"]["ok"] is False
    assert [u["locals"] for u in by_type(records, "unwind")] == [
        f["locals"] for f in reversed(stack["frames"])]
    [raised] = by_type(records, "exception")
    assert raised["kind"] == "raised" and raised["line"] == line_of("return a / b")
    assert len(by_type(records, "unwind")) == 4
    [end] = by_type(records, "end")
    assert end["status"] == "crashed" and end["exit_code"] == 2
    assert end["exception"] == {"type": "runtime.errorString", "kind": "panic",
                                "message": "runtime error: integer divide by zero"}


@pytest.mark.parametrize("how, locals_of_tally", [
    ("block", {"words": {"t": "[]string", "items": ["go"]}, "how": "inside", "count": 3, "label": "n=3"}),
    ("after-block", {"words": {"t": "[]string", "items": ["go"]}, "how": "after", "count": 3}),
])
def test_a_panic_keeps_the_locals_of_the_block_it_left_the_frame_in(
        built: Built, tmp_path: Path, how: str, locals_of_tally: dict) -> None:
    """A case's `label` is kept when the panic leaves tally inside that case; the if
    block's `first` is not, its block having ended before the panic (scope, not just
    declaration order). The program's report stays its own."""
    plain = subprocess.run([str(built.plain), how], capture_output=True, text=True,
                           env=plain_env(), cwd=built.module)
    done, [trace] = run_traced(built, how, spool=tmp_path / "spool")
    assert plain.returncode == done.returncode == 2
    assert done.stdout == plain.stdout
    assert stack_lines(done.stderr) == stack_lines(plain.stderr)
    records = decoded(trace)
    fns = functions(records)
    [stack] = by_type(records, "stack")
    frames = {fns[f["fn"]]["name"]: f for f in stack["frames"]}
    assert frames["tally"]["locals"] == locals_of_tally
    assert orion("validate", str(trace), cwd=tmp_path).returncode == 0


def test_a_closure_keeps_its_name_in_a_panic_report(built: Built, tmp_path: Path) -> None:
    """The rewrite adds no function literal before the program's own: the compiler names
    closures by counting them (run's second is main.run.func2, in both builds)."""
    plain = subprocess.run([str(built.plain), "closure"], capture_output=True, text=True,
                           env=plain_env(), cwd=built.module)
    done, [trace] = run_traced(built, "closure", spool=tmp_path / "spool")
    assert plain.returncode == done.returncode == 2
    assert "main.run.func2" in stack_lines(plain.stderr)
    assert stack_lines(done.stderr) == stack_lines(plain.stderr)
    fns = functions(decoded(trace))
    [stack] = by_type(decoded(trace), "stack")
    assert [fns[f["fn"]]["name"] for f in stack["frames"]][-2:] == ["run.func2", "divide"]


def test_a_recovered_panic_is_raised_then_caught(built: Built, tmp_path: Path) -> None:
    done, [trace] = run_traced(built, "recover", spool=tmp_path / "spool")
    assert done.returncode == 0 and "recovered: runtime error" in done.stdout
    records = decoded(trace)
    kinds = [e["kind"] for e in by_type(records, "exception")]
    assert kinds == ["raised", "caught"]
    assert not by_type(records, "crash")
    assert by_type(records, "end")[0]["status"] == "ok"


def test_log_fatal_and_os_exit_end_the_trace_with_their_status(built: Built,
                                                               tmp_path: Path) -> None:
    for how, code, message in [("fatal", 1, "cannot go on: no config"),
                               ("exit", 3, "exit status 3")]:
        plain = subprocess.run([str(built.plain), how], capture_output=True, text=True,
                               env=plain_env())
        done, [trace] = run_traced(built, how, spool=tmp_path / how)
        assert done.returncode == plain.returncode == code
        assert done.stdout == plain.stdout
        [end] = by_type(decoded(trace), "end")
        assert (end["status"], end["exit_code"]) == ("failed", code)
        assert end["exception"]["message"] == message
        assert orion("validate", str(trace), cwd=tmp_path).returncode == 0


def test_error_mode_writes_only_failures_from_its_ring(built: Built, tmp_path: Path) -> None:
    done, traces = run_traced(built, spool=tmp_path / "ok", mode="error")
    assert done.returncode == 0 and traces == []
    done, [trace] = run_traced(built, "panic", spool=tmp_path / "panic", mode="error")
    assert done.returncode == 2
    records = decoded(trace)
    assert records[0]["window"] == "ring" and records[0]["mode"] == "error"
    assert by_type(records, "call") and "args" not in by_type(records, "call")[0]
    [stack] = by_type(records, "stack")
    assert stack["frames"][-1]["locals"] == {"a": 0, "b": 0, "quotient": 0}
    assert stack["frames"][-2]["locals"] == {"values": None, "total": 0}
    assert orion("validate", str(trace), cwd=tmp_path).returncode == 0
    assert_matches_vectors(trace)


def test_secrets_never_reach_the_file(built: Built, tmp_path: Path) -> None:
    token = "tok-4f9a8b7c6d5e"
    env = plain_env(SAMPLE_API_TOKEN=token, ORION_ENV_ALLOW="SAMPLE_*")
    done, [trace] = run_traced(built, spool=tmp_path / "spool", env=env)
    assert done.returncode == 0
    text = orion("cat", str(trace), cwd=tmp_path).stdout
    assert "login" in text and "SAMPLE_API_TOKEN" in text
    for secret in ("hunter2-is-secret", "p4ssw0rd-field", token):
        assert secret not in text
        assert secret.encode() not in subprocess.run(["zstd", "-dc", str(trace)],
                                                     capture_output=True).stdout
    records = decoded(trace)
    login = next(c for c in by_type(records, "call") if c.get("args", {}).get("user") == "ada")
    assert login["args"]["password"] == {"t": "string", "redacted": True}
    assert records[0]["env"]["vars"]["SAMPLE_API_TOKEN"] == {"t": "str", "redacted": True}


def test_the_users_files_and_a_plain_build_stay_untouched(built: Built, tmp_path: Path) -> None:
    sources = {p.name: p.read_bytes() for p in built.module.iterdir()
               if p.suffix in (".go", ".mod")}
    assert not (built.module / "go.sum").exists()
    assert sources["main.go"] == (Path(__file__).parent / "sample" / "main.go").read_bytes()
    spool = tmp_path / "spool"
    done = subprocess.run([str(built.plain)], capture_output=True, text=True, cwd=built.module,
                          env=plain_env(ORION_SPOOL=str(spool), ORION_MODE="dev"))
    assert done.returncode == 0 and not spool.exists()


def test_a_fatal_runtime_error_leaves_a_crashed_trace(built: Built, tmp_path: Path) -> None:
    plain = subprocess.run([str(built.plain), "deadlock"], capture_output=True, text=True,
                           env=plain_env())
    done, traces = run_traced(built, "deadlock", spool=tmp_path / "spool")
    assert done.returncode == plain.returncode == 2
    assert done.stderr.splitlines()[0] == plain.stderr.splitlines()[0] == (
        "fatal error: all goroutines are asleep - deadlock!")
    assert not list((tmp_path / "spool").glob(".*"))  # the crash output file is consumed
    summaries = {}
    for trace in traces:
        records = decoded(trace)
        summaries[records[0]["trace_id"]] = (records, trace)
    [(crashed, path)] = [(r, p) for r, p in summaries.values() if by_type(r, "crash")]
    [(process, _)] = [(r, p) for r, p in summaries.values() if not by_type(r, "crash")]
    assert crashed[0]["parent"]["trace_id"] == process[0]["trace_id"]
    assert not by_type(process, "end")  # the dev trace ends where the runtime stopped it
    [crash] = by_type(crashed, "crash")
    assert (crash["kind"], crash["reason"]) == ("abort", "fatal error")
    fns = functions(crashed)
    [stack] = by_type(crashed, "stack")
    assert [(fns[f["fn"]]["name"], f["line"]) for f in stack["frames"]] == [
        ("main", line_of("run(os.Args[1])")), ("run", line_of("wait(make(chan int))")),
        ("wait", line_of("return <-never"))]
    assert by_type(crashed, "end")[0]["status"] == "crashed"
    assert orion("validate", str(path), cwd=tmp_path).returncode == 0
    assert_matches_vectors(path)
