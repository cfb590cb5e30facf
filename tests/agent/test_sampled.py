"""Error mode's sampled ring (ORION_RING=sampled): no call hook; on failure the recent
stack samples, then the exact failing stack with its locals."""

from __future__ import annotations

from orion.format.summary import read_summary

from .agent_helpers import clean_env, python, records, run, traces

PROGRAM = """\
import sys, time
import orion.agent
print(orion.agent.hook_kind(), sys.gettrace(), sys.getprofile())
def busy(n):
    end = time.perf_counter() + 0.05
    while time.perf_counter() < end:
        pass
    return n
def step(n):
    return busy(n)
for i in range(3):
    step(i)
def fail(x):
    password = "hunter2"
    return 1 / x
if sys.argv[1] == "fail":
    fail(0)
"""


def test_sampled_ring_writes_samples_and_the_exact_failing_stack(tmp_path):
    program = tmp_path / "app.py"
    program.write_text(PROGRAM)
    spool = tmp_path / "spool"
    command = [python(), "-m", "orion.agent", "--mode", "error", "--ring", "sampled",
               "--spool", str(spool), str(program)]
    clean = run([*command, "ok"], env=clean_env())
    assert clean.returncode == 0 and clean.stdout == "sampled None None\n", clean.stderr
    assert traces(spool) == []  # a clean run writes nothing
    failed = run([*command, "fail"], env=clean_env())
    assert failed.returncode == 1 and "ZeroDivisionError" in failed.stderr
    (path,) = traces(spool)
    recs = records(path)
    assert recs[0]["window"] == "ring"
    assert not [r for r in recs if r["type"] in ("call", "return", "unwind")]
    names = {r["id"]: r["name"] for r in recs if r["type"] == "function"}
    samples = [[names[f["fn"]] for f in r["frames"]] for r in recs
               if r["type"] == "stack" and r["reason"] == "sample"]
    assert ["<module>", "step", "busy"] in samples  # 150 ms in busy: sampled
    assert all(f["locals"] is None for r in recs if r["type"] == "stack"
               and r["reason"] == "sample" for f in r["frames"])
    (last,) = [r for r in recs if r["type"] == "stack" and r["reason"] == "uncaught"]
    assert [names[f["fn"]] for f in last["frames"]] == ["<module>", "fail"]
    assert last["frames"][-1]["locals"] == {"x": 0, "password": {"t": "str", "redacted": True}}
    summary = read_summary(path)
    assert summary["status"] == "failed" and summary["exception"]["type"] == "ZeroDivisionError"
