"""Real programs run under the agent in subprocesses; what they write is read back."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from orion.format.summary import read_summary

from .agent_helpers import PROGRAMS, clean_env, python, raw_bytes, records, run, traces

DEEP = str(PROGRAMS / "deep.py")


def by_type(recs: list[dict], kind: str) -> list[dict]:
    return [r for r in recs if r["type"] == kind]


def functions(recs: list[dict]) -> dict[int, str]:
    return {r["id"]: r["name"] for r in by_type(recs, "function")}


def test_error_mode_bug_five_calls_deep_gives_one_trace(spool):
    result = run([python(), "-m", "orion.agent", "--mode", "error", "--spool", str(spool), DEEP])
    assert result.returncode == 1
    assert "ValueError: could not convert string to float: '15%X'" in result.stderr
    (path,) = traces(spool)
    recs = records(path)
    header = recs[0]
    assert header["mode"] == "error" and header["window"] == "ring"
    (stack,) = by_type(recs, "stack")
    names = functions(recs)
    chain = [names[f["fn"]] for f in stack["frames"]]
    assert chain == ["<module>", "main", "process_order", "compute_total", "apply_discount",
                     "parse_percentage"]
    frames = {names[f["fn"]]: f["locals"] for f in stack["frames"]}
    assert frames["parse_percentage"] == {"text": "15%X", "digits": "15%X"}
    assert frames["compute_total"]["subtotal"] == 4.0
    assert frames["apply_discount"]["password"] == {"t": "str", "redacted": True}
    (exc,) = by_type(recs, "exception")
    assert exc["exc_type"] == "ValueError" and "15%X" in exc["message"]
    summary = read_summary(path)
    assert summary["status"] == "failed"
    assert summary["exception"]["type"] == "ValueError"
    assert summary["exception"]["function"] == "parse_percentage"
    assert b"hunter2" not in raw_bytes(path)


def test_error_mode_clean_run_writes_nothing(spool):
    result = run([python(), "-m", "orion.agent", "--mode", "error", "--spool", str(spool),
                  DEEP, "15%"])
    assert result.returncode == 0
    assert traces(spool) == []


def test_dev_mode_full_call_tree_with_arguments_and_returns(spool):
    result = run([python(), "-m", "orion.agent", "--mode", "dev", "--spool", str(spool),
                  DEEP, "10%"])
    assert result.returncode == 0, result.stderr
    (path,) = traces(spool)
    recs = records(path)
    names = functions(recs)
    calls = [(names[r["fn"]], r["args"]) for r in by_type(recs, "call")]
    assert calls == [
        ("<module>", {}), ("main", {}),
        ("process_order", {"cart": {"t": "list", "items": [1.5, 2.5]}, "coupon": "10%"}),
        ("compute_total", {"items": {"t": "list", "items": [1.5, 2.5]}, "coupon": "10%"}),
        ("apply_discount", {"total": 4.0, "coupon": "10%"}),
        ("parse_percentage", {"text": "10%"}),
    ]
    returns = [r["value"] for r in by_type(recs, "return")]
    assert returns == [10.0, 3.6, 3.6, 3.6, 3.6, None]
    assert read_summary(path)["status"] == "ok"


def test_threads_and_tasks_are_lanes_and_nested(spool):
    result = run([python(), "-m", "orion.agent", "--mode", "dev", "--spool", str(spool),
                  str(PROGRAMS / "lanes.py")])
    assert result.returncode == 0, result.stderr
    (path,) = traces(spool)
    recs = records(path)
    lanes = {r["id"]: r for r in by_type(recs, "lane")}
    kinds = sorted(r["kind"] for r in lanes.values())
    assert kinds.count("thread") == 2 and kinds.count("task") == 3
    names = functions(recs)
    lane_of = {}
    depth: dict[int, int] = {}
    for r in recs:
        if r["type"] == "call":
            lane_of.setdefault(names[r["fn"]], set()).add(lanes[r["lane"]]["kind"])
            depth[r["lane"]] = depth.get(r["lane"], 0) + 1
        elif r["type"] in ("return", "unwind"):
            depth[r["lane"]] -= 1
            assert depth[r["lane"]] >= 0
    assert set(depth.values()) == {0}  # every lane balanced
    assert lane_of["worker"] == {"thread"} and lane_of["co"] == {"task"}
    task_names = {lanes[r["lane"]]["name"] for r in by_type(recs, "call")
                  if names[r["fn"]] == "co"}
    assert len(task_names) == 2


def test_secrets_never_reach_the_file(spool):
    env = clean_env(MY_API_TOKEN="tok-5f3a9c1e77", DATABASE_PASSWORD="pw-a81c4e",
                    ORION_ENV_ALLOW="MY_API_TOKEN,DATABASE_*")  # in the snapshot's selection
    run([python(), "-m", "orion.agent", "--mode", "dev", "--spool", str(spool), DEEP], env=env)
    (path,) = traces(spool)
    body = raw_bytes(path)
    for secret in (b"tok-5f3a9c1e77", b"pw-a81c4e", b"hunter2"):
        assert secret not in body
    assert b"MY_API_TOKEN" in body  # the name is kept, the value is not


def test_output_and_status_identical_to_untraced_run(spool, tmp_path):
    for args in ([DEEP], [DEEP, "5%"]):
        plain = run([python(), *args], cwd=tmp_path)
        traced = run([python(), "-m", "orion.agent", "--mode", "dev", "--spool", str(spool),
                      *args], cwd=tmp_path)
        assert (traced.returncode, traced.stdout, traced.stderr) == (
            plain.returncode, plain.stdout, plain.stderr)


def test_sigkill_leaves_a_readable_incomplete_trace(spool):
    env = clean_env()
    proc = subprocess.Popen([python(), "-m", "orion.agent", "--mode", "dev", "--spool",
                             str(spool), str(PROGRAMS / "sleeper.py")],
                            env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.8)  # the flusher writes within FLUSH_INTERVAL
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
    (path,) = traces(spool)
    summary = read_summary(path)
    assert summary["complete"] is False and summary["status"] == "incomplete"
    from orion.format.decode import decode_records
    from orion.format.reader import TraceReader

    with TraceReader(path) as reader:
        recs = list(decode_records(reader.records()))
    assert sum(r["type"] == "call" for r in recs) >= 200


def test_sigterm_closes_the_trace_as_crashed(spool):
    proc = subprocess.Popen([python(), "-m", "orion.agent", "--mode", "error", "--spool",
                             str(spool), str(PROGRAMS / "sleeper.py")],
                            env=clean_env(), stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == -signal.SIGTERM
    (path,) = traces(spool)
    recs = records(path)
    (crash,) = by_type(recs, "crash")
    assert crash["kind"] == "signal" and crash["reason"] == "SIGTERM"
    assert read_summary(path)["status"] == "crashed"


def test_uncaught_exception_in_a_thread(spool, tmp_path):
    program = tmp_path / "threaded.py"
    program.write_text(
        "import threading\n"
        "def work(n):\n"
        "    limit = 3\n"
        "    raise KeyError(n)\n"
        "t = threading.Thread(target=work, args=(7,), name='worker-7')\n"
        "t.start(); t.join()\n"
        "print('main done')\n")
    result = run([python(), "-m", "orion.agent", "--mode", "error", "--spool", str(spool),
                  str(program)])
    assert result.returncode == 0 and "main done" in result.stdout
    assert "KeyError: 7" in result.stderr
    (path,) = traces(spool)
    recs = records(path)
    (crash,) = by_type(recs, "crash")
    assert crash["reason"] == "KeyError" and crash["detail"]["thread"] == "worker-7"
    (stack,) = by_type(recs, "stack")
    assert stack["frames"][-1]["locals"] == {"n": 7, "limit": 3}


def test_system_exit_status_is_noted(spool, tmp_path):
    program = tmp_path / "quits.py"
    program.write_text("import sys\ndef main():\n    sys.exit(3)\nmain()\n")
    result = run([python(), "-m", "orion.agent", "--mode", "dev", "--spool", str(spool),
                  str(program)])
    assert result.returncode == 3
    (path,) = traces(spool)
    summary = read_summary(path)
    assert summary["exit_code"] == 3 and summary["status"] == "failed"


def test_python_m_module_and_include_filter(spool, tmp_path):
    pkg = tmp_path / "shop"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text(
        "import json\ndef total(x):\n    return json.dumps(x)\nprint(total([1]))\n")
    result = run([python(), "-m", "orion.agent", "--mode", "dev", "--spool", str(spool),
                  "--include", "json", "-m", "shop"], cwd=tmp_path)
    assert result.returncode == 0 and result.stdout == "[1]\n"
    (path,) = traces(spool)
    recs = records(path)
    modules = {r["module"] for r in by_type(recs, "function")}
    assert "__main__" in modules and "json" in modules


STARTS_A_THREAD = '''
import threading

def work(n):
    return n * 2

def main():
    worker = threading.Thread(target=work, args=(3,), name="worker")
    worker.start()
    worker.join()

main()
'''


@pytest.mark.parametrize("hook", ["c", "python"])
def test_a_thread_lane_names_the_lane_that_started_it(spool, tmp_path, hook):
    """The thread's lane has the starter's lane as parent, so exports link it to `main`."""
    (tmp_path / "app.py").write_text(STARTS_A_THREAD)
    env = clean_env(ORION_SPOOL=str(spool), ORION_HOOK=hook)

    def orion(*args: str) -> str:
        result = run([python(), "-m", "orion", *args], env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return result.stdout

    orion("run", "--mode", "dev", "--", python(), "app.py")
    (path,) = traces(spool)
    recs = [json.loads(line) for line in orion("cat", str(path)).splitlines()]
    lanes = {r["name"]: r for r in by_type(recs, "lane")}
    assert lanes["worker"]["parent"] == lanes["MainThread"]["id"]
    assert lanes["MainThread"]["parent"] is None

    events = json.loads(orion("export", "--format", "chrome", str(path)))
    events = events["traceEvents"] if isinstance(events, dict) else events
    flows = {e["ph"]: e for e in events if e.get("cat") == "spawn"}
    assert flows["s"]["id"] == flows["f"]["id"]
    assert (flows["s"]["tid"], flows["f"]["tid"]) == (lanes["MainThread"]["id"],
                                                       lanes["worker"]["id"])

    otlp = json.loads(orion("export", "--format", "otlp", str(path)))
    spans = {s["name"]: s for rs in otlp["resourceSpans"] for ss in rs["scopeSpans"]
             for s in ss["spans"]}
    assert spans["work"]["parentSpanId"] == spans["main"]["spanId"]
