"""The Python agent's real traces have the structure of spec/vectors/ (spec section 13),
with either hook and in every mode: threads, an asyncio task, values, an exception."""

from __future__ import annotations

import pytest

from orion.agent import _BOOT_DIR

from ..vector_shapes import assert_matches_vectors
from .agent_helpers import HOOKS, clean_env, python, run, traces

PROGRAM = """\
import asyncio, sys, threading

def work(n, label="item"):
    return {"n": n, "label": label * 3}

async def fetch(url):
    await asyncio.sleep(0)
    return len(url)

def fail(values):
    password = "hunter2"
    raise ValueError(f"bad {values[:2]}")

worker = threading.Thread(target=work, args=(2,), name="worker-1")
worker.start()
worker.join()
asyncio.run(fetch("/a"))
work(1)
fail(list(range(80)))
"""


@pytest.mark.parametrize("mode", ["dev", "safe", "error"])
@pytest.mark.parametrize("hook", HOOKS)
def test_traces_match_the_vectors(tmp_path, hook, mode):
    program = tmp_path / "app.py"
    program.write_text(PROGRAM)
    spool = tmp_path / "spool"
    env = clean_env(ORION_MODE=mode, ORION_SPOOL=str(spool), ORION_HOOK=hook,
                    ORION_SAMPLE="1.0", PYTHONPATH=_BOOT_DIR)
    result = run([python(), str(program)], env=env)
    assert result.returncode == 1 and "ValueError: bad [0, 1]" in result.stderr
    (path,) = traces(spool)
    assert_matches_vectors(path)
