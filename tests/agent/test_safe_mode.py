"""Safe mode records calls only, no values (DESIGN.md): not even on the failing stack."""

from __future__ import annotations

import pytest

from .agent_helpers import HOOKS, clean_env, python, raw_bytes, records, run, traces


FAILS = """\
import os, signal, sys
def work(n):
    marker = "visible-local-42"
    if sys.argv[1] == "signal":
        os.kill(os.getpid(), signal.SIGTERM)
    raise RuntimeError("boom")
work(1)
"""


@pytest.mark.parametrize("how,exit_code", [("raise", 1), ("signal", -15)])  # -15: SIGTERM
@pytest.mark.parametrize("hook", HOOKS)
def test_safe_mode_writes_no_locals_of_the_failing_stack(tmp_path, spool, hook, how, exit_code):
    program = tmp_path / "app.py"
    program.write_text(FAILS)
    result = run([python(), "-m", "orion.agent", "--mode", "safe", "--sample", "off",
                  "--spool", str(spool), str(program), how], env=clean_env(ORION_HOOK=hook))
    assert result.returncode == exit_code, result.stderr
    (path,) = traces(spool)
    assert b"visible-local-42" not in raw_bytes(path)
    recs = records(path)
    (stack,) = [r for r in recs if r["type"] == "stack"]
    assert len(stack["frames"]) >= 2
    assert all(frame["locals"] is None for frame in stack["frames"])
    # a call's arguments are nil when its site follows (spec 4.6), absent otherwise
    assert not any(r.get("args") is not None or "value" in r or "locals" in r for r in recs
                   if r["type"] in ("call", "return", "unwind"))
