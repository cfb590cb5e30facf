"""The Node.js agent end to end: `orion run` and `orion test` on the sample project record
call trees with arguments, async chains, crashes and failing tests, while the program's
exit status, standard output and sources stay what they are without orion."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from ...vector_shapes import assert_matches_vectors
from .conftest import orion, plain, records, traces, validate

AGENT = Path(__file__).resolve().parents[3] / "agents" / "node"
MOCHA = Path(__file__).resolve().parent / "mocha"  # package.json + lock; node_modules by npm ci


def _functions(recs: list[dict]) -> dict[int, str]:
    return {r["id"]: r["name"] for r in recs if r["type"] == "function"}


def _calls(recs: list[dict]) -> list[tuple[str, dict]]:
    names = _functions(recs)
    return [(names[r["fn"]], r.get("args") or {}) for r in recs if r["type"] == "call"]


def _without_timings(text: str) -> list[str]:
    """A test runner's report without the lines that give durations."""
    return [line for line in text.splitlines()
            if "ms)" not in line and "passing (" not in line and "duration_ms" not in line]


def _node_report(stderr: str) -> str:
    """The program's stderr under `orion run`: without the lines orion adds after it."""
    return "".join(line for line in stderr.splitlines(keepends=True)
                   if not line.startswith("orion: "))


def _sources(project: Path) -> dict[str, str]:
    return {str(p.relative_to(project)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(project.rglob("*")) if p.is_file() and ".orion" not in p.parts}


def test_run_records_commonjs_and_es_modules(project: Path, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    before = _sources(project)
    done = orion("run", "--mode", "dev", "--spool", str(spool), "--", "node", "app.mjs", cwd=project)
    bare = plain("node", "app.mjs", cwd=project)
    assert (done.returncode, done.stdout) == (bare.returncode, bare.stdout) == (0, bare.stdout)
    assert _sources(project) == before
    [path] = traces(spool)
    validate([path], project)
    assert_matches_vectors(path)
    recs = records(path)
    calls = _calls(recs)
    names = [name for name, _ in calls]
    for expected in ("Cart.constructor", "Cart.put", "Cart.total", "add", "checkout", "handler",
                     "loadUser", "fetchRow", "query"):
        assert expected in names, (expected, names)
    puts = [args for name, args in calls if name == "Cart.put"]
    assert puts == [{"name": "tea", "price": 3}, {"name": "cake", "price": 4}]
    assert dict(calls)["checkout"]["password"] == {"t": "string", "redacted": True}
    returns = [r for r in recs if r["type"] == "return" and r.get("value") == 7]
    assert returns, "checkout and total return 7"
    lanes = {r["id"]: r for r in recs if r["type"] == "lane"}
    assert any(lane["kind"] == "task" and lane["name"] == "query" and lane["parent"] is not None
               for lane in lanes.values())
    assert recs[-1]["type"] == "end" and recs[-1]["status"] == "ok"
    listed = json.loads(orion("list", "--json", "--spool", str(spool), cwd=project).stdout)
    assert [(t["language"], t["status"], t["root"]) for t in listed] == [("node", "ok", "Cart.constructor")]
    shown = orion("show", "--spool", str(spool), "@", cwd=project)
    assert shown.returncode == 0 and "Cart.put(name='tea', price=3)" in shown.stdout


@pytest.mark.parametrize("mode", ["dev", "error"])
def test_rejection_several_awaits_deep(project: Path, tmp_path: Path, mode: str) -> None:
    spool = tmp_path / "spool"
    done = orion("run", "--mode", mode, "--spool", str(spool), "--", "node", "app.mjs", "reject",
                 cwd=project)
    bare = plain("node", "app.mjs", "reject", cwd=project)
    assert done.returncode == bare.returncode == 1
    assert done.stdout == bare.stdout
    # Node's report, byte for byte: the throwing line, file:// URLs, columns as written
    assert _node_report(done.stderr) == bare.stderr
    assert "RangeError: no users row -2" in done.stderr
    [path] = traces(spool)
    validate([path], project)
    assert_matches_vectors(path)
    recs = records(path)
    names = _functions(recs)
    [crash] = [r for r in recs if r["type"] == "crash"]
    assert (crash["kind"], crash["reason"], crash["message"]) == (
        "unhandled_rejection", "RangeError", "no users row -2")
    [stack] = [r for r in recs if r["type"] == "stack"]
    frames = [(names[f["fn"]], f["locals"]) for f in stack["frames"]]
    assert frames == [("handler", {"id": -2}), ("loadUser", {"id": -2}),
                      ("fetchRow", {"key": -2}), ("query", {"table": "users", "key": -2})]
    assert recs[-1]["status"] == "failed" and recs[-1]["exit_code"] == 1
    assert (recs[0].get("window") == "ring") == (mode == "error")


@pytest.mark.parametrize("mode", ["dev", "error"])
def test_a_commonjs_rejection_in_the_first_tick_keeps_nodes_report(project: Path, tmp_path: Path,
                                                                    mode: str) -> None:
    """The agent's own setup (the threads it starts) queued ticks that Node ran after the
    main module, in its JS tick loop, with the program's first awaits: the report's stack
    ended with `process.processTicksAndRejections`."""
    done = orion("run", "--mode", mode, "--spool", str(tmp_path / "spool"), "--", "node", "reject.js",
                 cwd=project)
    bare = plain("node", "reject.js", cwd=project)
    assert done.returncode == bare.returncode == 1
    assert _node_report(done.stderr) == bare.stderr
    assert "processTicksAndRejections" not in done.stderr


def test_uncaught_exception_from_a_timer(project: Path, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    done = orion("run", "--mode", "dev", "--spool", str(spool), "--", "node", "app.mjs", "timer",
                 cwd=project, env={"ORION_NODE_LOCALS": "1"})
    bare = plain("node", "app.mjs", "timer", cwd=project)
    assert (done.returncode, done.stdout) == (bare.returncode, bare.stdout)
    assert done.returncode == 1
    # Node's own report, byte for byte (the timer's `[as _onTimeout]` alias too)
    assert _node_report(done.stderr) == bare.stderr
    [path] = traces(spool)
    validate([path], project)
    assert_matches_vectors(path)
    recs = records(path)
    [crash] = [r for r in recs if r["type"] == "crash"]
    assert (crash["kind"], crash["reason"]) == ("uncaught", "TypeError")
    names = _functions(recs)
    [stack] = [r for r in recs if r["type"] == "stack"]
    assert [names[f["fn"]] for f in stack["frames"]] == ["tick", "explode"]
    # the locals beyond the arguments, read through the inspector, secrets redacted
    explode = stack["frames"][1]
    assert explode["line"] == 10
    assert explode["locals"] == {"why": "late", "password": {"t": "string", "redacted": True},
                                 "loud": "LATE"}
    raw = subprocess.run(["zstd", "-dc", str(path)], capture_output=True).stdout
    assert b"hunter2-long" not in raw


def test_one_trace_per_failing_node_test(project: Path, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    done = orion("test", "--json", "--spool", str(spool), "--", "npm", "test", cwd=project)
    bare = plain("npm", "test", cwd=project)
    assert done.returncode == bare.returncode == 1
    # the TAP report as without orion, the failing tests' stacks too
    assert _without_timings(done.stdout) == _without_timings(bare.stdout)
    report = json.loads(done.stderr[done.stderr.index("{"):])
    tests = sorted(t["test"] for t in report["traces"])
    assert tests == ["async > rejects", "totals wrongly"]
    validate(traces(spool), project)
    for path in traces(spool):
        assert_matches_vectors(path)
        recs = records(path)
        assert recs[0]["window"] == "ring" and recs[-1]["test"]["outcome"] == "failed"
        assert any(r["type"] == "stack" for r in recs)


def test_secrets_never_reach_the_file(project: Path, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    secret = "s3cr3t-token-value-42"
    done = orion("run", "--mode", "dev", "--spool", str(spool), "--", "node", "app.mjs", "secret",
                 cwd=project, env={"APP_API_TOKEN": secret})
    assert done.returncode == 0
    [path] = traces(spool)
    raw = subprocess.run(["zstd", "-dc", str(path)], capture_output=True).stdout
    assert secret.encode() not in raw and b"hunter2-long" not in raw
    header = records(path)[0]
    assert header["env"]["vars"].get("APP_API_TOKEN", {"redacted": True}) == {
        "t": "str", "redacted": True} or "APP_API_TOKEN" not in header["env"]["vars"]


def test_agent_npm_suite() -> None:
    """The agent's own `node --test` suite (writer, values, instrumentation)."""
    done = subprocess.run(["npm", "test"], cwd=AGENT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def test_worker_threads_and_child_processes_record_with_their_parent(project: Path,
                                                                     tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    done = orion("run", "--mode", "dev", "--spool", str(spool), "--", "node", "workers.js",
                 cwd=project)
    assert (done.returncode, done.stdout) == (0, "worker 125 child hi child\n")
    paths = traces(spool)
    validate(paths, project)
    by_function = {}
    for path in paths:
        assert_matches_vectors(path)
        recs = records(path)
        for name in _functions(recs).values():
            by_function[name] = recs
    main = by_function["spawnChild"]
    assert main[0].get("parent") is None
    for name, lane_name in (("cube", "worker"), ("greet", "main")):
        recs = by_function[name]
        assert recs[0]["parent"]["trace_id"] == main[0]["trace_id"]
        assert [r["name"] for r in recs if r["type"] == "lane"][0].startswith(lane_name)


def test_safe_mode_records_calls_without_values(project: Path, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    done = orion("run", "--mode", "safe", "--spool", str(spool), "--", "node", "app.mjs",
                 cwd=project)
    assert done.returncode == 0
    [path] = traces(spool)
    validate([path], project)
    assert_matches_vectors(path)
    recs = records(path)
    calls = [r for r in recs if r["type"] == "call"]
    assert calls and not any("args" in r for r in calls)
    assert not any("value" in r for r in recs if r["type"] == "return")
    unsampled = orion("run", "--mode", "safe", "--sample", "0", "--spool", str(tmp_path / "none"),
                      "--", "node", "app.mjs", cwd=project)
    assert unsampled.returncode == 0 and not traces(tmp_path / "none")


def test_error_mode_writes_nothing_when_nothing_fails(project: Path, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    done = orion("run", "--mode", "error", "--spool", str(spool), "--", "node", "app.mjs",
                 cwd=project)
    assert done.returncode == 0 and not traces(spool)


def test_dev_mode_captures_values_adaptively(project: Path, tmp_path: Path) -> None:
    """A function's first FULL calls have values, then one in EVERY; at most MAX calls
    (spec 7.1). cart.total's callback runs once per item: 12 items, ORION_ADAPTIVE=2/5/0."""
    (project / "many.js").write_text(
        "const { Cart } = require('./cart');\n"
        "const cart = new Cart('x');\n"
        "for (let i = 0; i < 12; i++) cart.put(`item${i}`, i);\n"
        "console.log(cart.total());\n")
    spool = tmp_path / "spool"
    done = orion("run", "--mode", "dev", "--spool", str(spool), "--", "node", "many.js",
                 cwd=project, env={"ORION_ADAPTIVE": "2/5/0"})
    assert (done.returncode, done.stdout) == (0, "66\n")
    [path] = traces(spool)
    validate([path], project)
    recs = records(path)
    names = _functions(recs)
    puts = [r for r in recs if r["type"] == "call" and names[r["fn"]] == "Cart.put"]
    assert [("args" in r) for r in puts] == [True, True, False, False, True] + [False] * 4 + [
        True, False, False]
    assert recs[-1]["capture"] == {"full_calls": 2, "value_every": 5, "max_calls": 0,
                                   "calls_without_values": 24, "calls_dropped": 0}
    capped = orion("run", "--mode", "dev", "--spool", str(tmp_path / "capped"), "--", "node",
                   "many.js", cwd=project, env={"ORION_ADAPTIVE": "2/5/10"})
    assert capped.returncode == 0
    [path] = traces(tmp_path / "capped")
    validate([path], project)
    end = records(path)[-1]
    assert end["counts"]["calls"] == 10 and end["capture"]["calls_dropped"] > 0


def test_http_requests_are_events_and_carry_traceparent(project: Path, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    done = orion("run", "--mode", "dev", "--spool", str(spool), "--", "node", "http.js",
                 cwd=project)
    assert (done.returncode, done.stdout) == (0, "/via-http traceparent /via-fetch traceparent\n")
    assert plain("node", "http.js", cwd=project).stdout == "/via-http none /via-fetch none\n"
    [path] = traces(spool)
    validate([path], project)
    assert_matches_vectors(path)
    recs = records(path)
    trace_id = recs[0]["trace_id"]
    events = [(r["kind"], r["attrs"]) for r in recs if r["type"] == "event"]
    served = [attrs for kind, attrs in events if kind == "http.server"]
    sent = [attrs for kind, attrs in events if kind == "http.client"]
    assert [a["url"] for a in served] == ["/via-http", "/via-fetch"]
    assert len(sent) == 2
    for attrs in served + sent:
        assert attrs["traceparent"].startswith(f"00-{trace_id}-")


def test_dev_mode_failing_tests_get_traces_naming_the_process_trace(project: Path,
                                                                   tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    done = orion("test", "--mode", "dev", "--json", "--spool", str(spool), "--", "node", "--test",
                 cwd=project)
    assert done.returncode == 1
    paths = traces(spool)
    validate(paths, project)
    summaries = {}
    for path in paths:
        assert_matches_vectors(path)
        recs = records(path)
        summaries[recs[0]["trace_id"]] = recs[-1]
    failed = {s["name"]: s for s in summaries.values() if s.get("test")}
    assert sorted(failed) == ["async > rejects", "totals wrongly"]
    for summary in failed.values():
        process = summaries[summary["process_trace"]]
        assert process["counts"]["calls"] > 0
        assert summary["exception"]["type"] == "AssertionError"


@pytest.mark.skipif(not (MOCHA / "node_modules" / "mocha").is_dir(),
                    reason=f"needs Mocha: npm ci in {MOCHA} (scripts/test does)")
def test_one_trace_per_failing_mocha_test(project: Path, tmp_path: Path) -> None:
    """Mocha 12 (its runner is an ES module it requires from CommonJS), installed from
    tests/agents/node/mocha's package-lock.json by scripts/test."""
    (project / "node_modules").symlink_to(MOCHA / "node_modules", target_is_directory=True)
    (project / "spec").mkdir()
    (project / "spec" / "cart.spec.js").write_text(
        "const assert = require('node:assert');\n"
        "const { Cart, checkout } = require('../cart');\n"
        "describe('checkout', () => {\n"
        "  it('totals', () => { const c = new Cart('a'); c.put('x', 2); assert.strictEqual(checkout(c, 'hunter2-long'), 2); });\n"
        "  it('refuses a bad password', () => { checkout(new Cart('b'), 'nope'); });\n"
        "});\n")
    command = ["npx", "mocha", "spec/"]
    spool = tmp_path / "spool"
    done = orion("test", "--json", "--spool", str(spool), "--", *command, cwd=project)
    bare = plain(*command, cwd=project)
    assert done.returncode == bare.returncode == 1
    assert _without_timings(done.stdout) == _without_timings(bare.stdout)

    report = json.loads(done.stderr[done.stderr.index("{"):])
    assert [t["test"] for t in report["traces"]] == ["checkout refuses a bad password"]
    [path] = traces(spool)
    validate([path], project)
    assert_matches_vectors(path)
    recs = records(path)
    names = _functions(recs)
    [stack] = [r for r in recs if r["type"] == "stack"]
    assert [names[f["fn"]] for f in stack["frames"]] == ["<anonymous>", "checkout"]
    assert stack["frames"][1]["locals"]["password"] == {"t": "string", "redacted": True}


def test_exit_from_inside_calls_leaves_an_ok_trace_that_nests(project: Path, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    done = orion("run", "--mode", "dev", "--spool", str(spool), "--", "node", "app.mjs", "exit",
                 cwd=project)
    assert done.returncode == 0
    [path] = traces(spool)
    validate([path], project)
    recs = records(path)
    names = _functions(recs)
    assert recs[-1]["status"] == "ok"
    assert [names[r["fn"]] for r in recs if r["type"] == "call"][-2:] == ["leave", "quit"]
    assert [r["type"] for r in recs][-3:] == ["unwind", "unwind", "end"]


def test_a_getter_run_while_capturing_is_not_recorded_inside_the_call(project: Path,
                                                                     tmp_path: Path) -> None:
    """Capturing an argument runs its getter, an instrumented function: its records would
    come before the call being captured, and time would go back on the lane."""
    (project / "getter.js").write_text(
        "function helper() { return 1; }\n"
        "function show(obj) { return 2; }\n"
        "const o = {};\n"
        "Object.defineProperty(o, 'x', { get() { return helper(); }, enumerable: true });\n"
        "console.log(show(o), helper());\n")
    spool = tmp_path / "spool"
    done = orion("run", "--mode", "dev", "--spool", str(spool), "--", "node", "getter.js",
                 cwd=project)
    assert (done.returncode, done.stdout) == (0, "2 1\n")
    [path] = traces(spool)
    validate([path], project)
    names = _functions(records(path))
    calls = [(names[r["fn"]], r.get("args")) for r in records(path) if r["type"] == "call"]
    assert calls[0] == ("show", {"obj": {"t": "Object", "fields": {"x": 1}}})
    assert [name for name, _ in calls] == ["show", "helper"]


def test_manual_api_resolves_under_orion_run(project: Path, tmp_path: Path) -> None:
    (project / "manual.js").write_text(
        "const orion = require('orionis-trace');\n"
        "const parse = orion.trace(JSON.parse, 'parse');\n"
        "console.log(orion.span('load config', () => parse('{\"port\": 8080}')).port);\n")
    spool = tmp_path / "spool"
    done = orion("run", "--mode", "dev", "--spool", str(spool), "--", "node", "manual.js",
                 cwd=project)
    assert (done.returncode, done.stdout) == (0, "8080\n"), done.stderr
    [path] = traces(spool)
    validate([path], project)
    names = _functions(records(path))
    calls = [(names[r["fn"]], r.get("args")) for r in records(path) if r["type"] == "call"]
    assert calls == [("load config", {}), ("<anonymous>", {}),  # the arrow itself is instrumented
                     ("parse", {"arg0": '{"port": 8080}', "arg1": None})]


def test_a_crash_does_not_take_the_stack_of_an_exception_swallowed_earlier(project: Path,
                                                                          tmp_path: Path) -> None:
    """Frames left by an exception that a dependency (not instrumented) caught are not the
    failing stack of a later crash that left none of ours."""
    swallow = project / "node_modules" / "swallow"
    swallow.mkdir(parents=True)
    (swallow / "index.js").write_text("module.exports = (fn) => { try { fn(); } catch {} };\n")
    (project / "swallowed.js").write_text(
        "const swallow = require('swallow');\n"
        "function fragile(n) { throw new Error(`fragile ${n}`); }\n"
        "swallow(() => fragile(1));\n"
        "throw new Error('at top level');\n")
    spool = tmp_path / "spool"
    done = orion("run", "--mode", "dev", "--spool", str(spool), "--", "node", "swallowed.js",
                 cwd=project)
    assert done.returncode == 1
    [path] = traces(spool)
    validate([path], project)
    recs = records(path)
    [crash] = [r for r in recs if r["type"] == "crash"]
    assert crash["message"] == "at top level"
    assert not [r for r in recs if r["type"] == "stack"]


@pytest.mark.parametrize("mode", ["dev", "error"])
def test_a_spool_that_cannot_be_written_leaves_the_program_alone(project: Path, tmp_path: Path,
                                                                 mode: str) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    scenario = [] if mode == "dev" else ["timer"]
    agent = {"NODE_OPTIONS": f"--require {AGENT / 'lib' / 'register.js'}", "ORION_MODE": mode,
             "ORION_SPOOL": str(blocker / "spool")}  # what orion run gives, but a spool it cannot make
    done = plain("node", "app.mjs", *scenario, cwd=project, env=agent)
    bare = plain("node", "app.mjs", *scenario, cwd=project)
    assert (done.returncode, done.stdout) == (bare.returncode, bare.stdout)
    assert done.stderr.count("orion: the Node.js agent stopped recording") == 1


def test_npm_itself_leaves_no_trace(project: Path, tmp_path: Path) -> None:
    """`orion run -- npm run X`: the script's node process records, npm does not."""
    package = json.loads((project / "package.json").read_text())
    package["scripts"]["greet"] = "node lib/child.js"
    (project / "package.json").write_text(json.dumps(package))
    spool = tmp_path / "spool"
    done = orion("run", "--mode", "dev", "--spool", str(spool), "--", "npm", "run", "--silent",
                 "greet", cwd=project)
    assert (done.returncode, done.stdout) == (0, "hi child\n")
    [path] = traces(spool)
    validate([path], project)
    assert [r["name"] for r in records(path) if r["type"] == "function"] == ["greet"]


def test_stack_traces_are_as_without_orion(project: Path, tmp_path: Path) -> None:
    """Columns after inserted text are the ones written, the agent's loading hooks leave no
    frame (and take none of Error.stackTraceLimit's), Node's own errors keep their code."""
    (project / "stacks.js").write_text(
        "const fs = require('fs');\n"
        "function parse(text) { return JSON.parse(text); }\n"
        "const fail = (x) => { throw new Error('bad ' + x); };\n"
        "try { fail(1); } catch (e) { console.log(e.stack); }\n"
        "try { fs.readFileSync('/nowhere', 42); } catch (e) { console.log(e.stack); }\n"
        "parse('{oops');\n")
    done = orion("run", "--mode", "dev", "--spool", str(tmp_path / "spool"), "--", "node",
                 "stacks.js", cwd=project)
    bare = plain("node", "stacks.js", cwd=project)
    assert done.returncode == bare.returncode == 1
    assert done.stdout == bare.stdout
    assert "stacks.js:3:29" in done.stdout and "[ERR_INVALID_ARG_TYPE]" in done.stdout
    assert _node_report(done.stderr) == bare.stderr
