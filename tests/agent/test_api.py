"""Scoped tracing: `orion.agent.tracing()` and the `trace` decorator write only the calls
made inside their scope (run in a subprocess: the agent hooks the whole interpreter)."""

from __future__ import annotations

import pytest

from orion.format.summary import read_summary

from .agent_helpers import HOOKS, clean_env, python, records, run, traces


PROGRAM = """\
import sys
import orion.agent

SPOOL = sys.argv[1]
def helper(x):
    return x * 2
def before():
    return helper(1)
def inside(x):
    return helper(x) + 1
def after():
    return helper(3)

before()
with orion.agent.tracing(mode="dev", spool=SPOOL) as session:
    inside(5)
after()

@orion.agent.trace(mode="dev", spool=SPOOL)
def decorated(n):
    return helper(n)

print(decorated(2), decorated(7))
try:
    with orion.agent.tracing(mode="dev", spool=SPOOL):
        inside("x") + 1
except TypeError:
    print("raised through")
print(orion.agent.current() is None)
"""


def calls(path) -> list[tuple[str, dict]]:
    recs = records(path)
    names = {r["id"]: r["name"] for r in recs if r["type"] == "function"}
    return [(names[r["fn"]], r.get("args")) for r in recs if r["type"] == "call"]


@pytest.mark.parametrize("hook", HOOKS)
def test_scoped_tracing_writes_only_the_scoped_calls(tmp_path, hook):
    program = tmp_path / "app.py"
    program.write_text(PROGRAM)
    spool = tmp_path / "spool"
    result = run([python(), str(program), str(spool)], env=clean_env(ORION_HOOK=hook))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["4 14", "raised through", "True"]
    paths = sorted(traces(spool), key=lambda p: read_summary(p)["start_ns"])
    assert len(paths) == 4  # the with block, two decorated calls, the failing block
    assert calls(paths[0]) == [("inside", {"x": 5}), ("helper", {"x": 5})]
    assert calls(paths[1]) == [("decorated", {"n": 2}), ("helper", {"x": 2})]
    assert calls(paths[2]) == [("decorated", {"n": 7}), ("helper", {"x": 7})]
    assert [name for name, _ in calls(paths[3])] == ["inside", "helper"]
    failed = read_summary(paths[3])
    assert failed["status"] == "failed" and failed["exception"]["type"] == "TypeError"
    assert all(read_summary(p)["status"] == "ok" for p in paths[:3])
