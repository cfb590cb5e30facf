"""Adaptive capture in dev mode (spec 7.1): values for a function's first calls and then a
sample, at most a set number of calls per trace, and never a failing stack lost."""

from __future__ import annotations

import pytest

from orion.agent.config import AgentConfig, parse_adaptive
from orion.errors import OrionError
from orion.format.summary import read_summary

from .agent_helpers import HOOKS, clean_env, python, records, run, traces

PROGRAM = """
def square(n):
    return n * n

def check(total):
    limit = 10
    if total > limit:
        raise ValueError(f"total {total} over {limit}")

total = 0
for i in range(50):
    total += square(i)
check(total)
"""


def traced(tmp_path, hook: str, adaptive: str) -> tuple[dict, list[dict]]:
    program = tmp_path / "app.py"
    program.write_text(PROGRAM)
    spool = tmp_path / "spool"
    result = run([python(), "-m", "orion.agent", "--mode", "dev", "--spool", str(spool),
                  str(program)], env=clean_env(ORION_HOOK=hook, ORION_ADAPTIVE=adaptive))
    assert result.returncode == 1, result.stderr
    assert "ValueError: total 40425 over 10" in result.stderr  # the program's own report
    (path,) = traces(spool)
    return read_summary(path), records(path)


@pytest.mark.parametrize("hook", HOOKS)
def test_a_function_keeps_values_for_its_first_calls_then_for_a_sample(tmp_path, hook):
    summary, recs = traced(tmp_path, hook, "5/10/0")
    square = next(r["id"] for r in recs if r["type"] == "function" and r["name"] == "square")
    calls = [r for r in recs if r["type"] == "call" and r["fn"] == square]
    assert len(calls) == 50  # every call is still recorded
    with_args = [i for i, call in enumerate(calls) if call.get("args") is not None]
    assert with_args == [0, 1, 2, 3, 4, 14, 24, 34, 44]  # 5 first, then 1 in 10
    assert with_args == [i for i, call in enumerate(calls) if call.get("args") == {"n": i}]
    returns = [r for r in recs if r["type"] == "return"]
    assert sum("value" in r for r in returns) == 9  # square's sampled ones (<module> fails)
    assert summary["capture"] == {"full_calls": 5, "value_every": 10, "max_calls": 0,
                                  "calls_without_values": 41, "calls_dropped": 0}


@pytest.mark.parametrize("hook", HOOKS)
def test_past_the_cap_calls_are_dropped_but_the_failure_and_its_stack_are_kept(tmp_path, hook):
    summary, recs = traced(tmp_path, hook, "5/10/20")
    kinds = [r["type"] for r in recs]
    assert kinds.count("call") == 20 and summary["counts"]["calls"] == 20
    assert kinds.count("return") == 19  # the module's call is still open when it fails
    assert summary["capture"]["calls_dropped"] == 50 + 1 - 20 + 1  # squares + check - kept
    assert summary["status"] == "failed"
    assert summary["exception"]["type"] == "ValueError"
    (exception,) = [r for r in recs if r["type"] == "exception"]
    assert exception["message"] == "total 40425 over 10"
    (stack,) = [r for r in recs if r["type"] == "stack"]
    innermost = stack["frames"][-1]
    assert innermost["locals"] == {"total": 40425, "limit": 10}  # check()'s, never recorded
    # the trace still reads as a whole: every recorded call has its end
    assert kinds.count("unwind") == 1 and kinds.count("return") + 1 == kinds.count("call")


def test_the_policy_reaches_child_processes_and_bad_values_are_refused():
    config = AgentConfig.from_env({"ORION_ADAPTIVE": "3/7/99"})
    assert config.adaptive == (3, 7, 99)
    assert AgentConfig.from_env(config.to_env()).adaptive == (3, 7, 99)
    assert AgentConfig.from_env({"ORION_ADAPTIVE": "off"}).to_env()["ORION_ADAPTIVE"] == "off"
    assert parse_adaptive("off") is None
    for bad in ("1/0/5", "a/b/c", "1/2"):
        with pytest.raises(OrionError, match="adaptive"):
            parse_adaptive(bad)
