"""Function ids in a trace are the writer's: functions that look alike (same name, module,
file and first line) are still told apart, and every later id stays right."""

from __future__ import annotations

import pytest

from .agent_helpers import HOOKS, clean_env, python, records, run, traces


# Two comprehensions, two lambdas and two exec'd modules on one line each, and a thread
# that fails first (its untraced threading frames get ids of their own in dev and safe).
LOOKALIKES = """\
import sys, threading
def f(i):
    return i
def g():
    raise ValueError("in g")
def h(n):
    return g()
def boom():
    raise KeyError("in the thread")
t = threading.Thread(target=boom); t.start(); t.join()
a = [f(i) for i in range(1)]; b = [f(i) for i in range(1)]
p = lambda: 1; q = lambda: 2
exec("x = 1"); exec("y = 2")
p(); q()
h(1)
"""


@pytest.mark.parametrize("mode", ["dev", "safe", "error"])
@pytest.mark.parametrize("hook", HOOKS)
def test_functions_that_look_alike_keep_every_id_right(tmp_path, spool, hook, mode):
    program = tmp_path / "lookalikes.py"
    program.write_text(LOOKALIKES)
    result = run([python(), "-m", "orion.agent", "--mode", mode, "--sample", "off",
                  "--spool", str(spool), str(program)], env=clean_env(ORION_HOOK=hook))
    assert result.returncode == 1, result.stderr
    for path in traces(spool):
        check = run([python(), "-m", "orion", "validate", str(path)])
        assert check.returncode == 0, check.stdout + check.stderr
    (path,) = [p for p in traces(spool)
               if any(r["type"] == "crash" and r["reason"] == "ValueError" for r in records(p))]
    recs = records(path)
    names = {r["id"]: r["name"] for r in recs if r["type"] == "function"}
    main = next(r["id"] for r in recs if r["type"] == "lane" and r["name"] == "MainThread")
    called = [names[r["fn"]] for r in recs
              if r["type"] == "call" and r["lane"] == main and names[r["fn"]] != "<listcomp>"]
    assert called[-8:] == ["f", "f", "<module>", "<module>", "<lambda>", "<lambda>", "h", "g"]
    (stack,) = [r for r in recs if r["type"] == "stack" and r["lane"] == main]
    assert [names[frame["fn"]] for frame in stack["frames"]][-2:] == ["h", "g"]
