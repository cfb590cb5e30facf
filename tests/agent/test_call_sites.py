"""Python calls carry their site (spec 4.6: the caller's line when the call started), so
that `orion replay`'s `where` shows the line each Python frame was at, not the line its
function is defined at. Every hook, every mode that writes calls."""

from __future__ import annotations

import json
import subprocess

import pytest

from orion.format.reader import TraceReader

from .agent_helpers import HOOKS, clean_env, python, records, run, traces

PROGRAM = """\
def leaf(x):
    return x * 2


def mid(x):
    y = x + 1
    return leaf(y)


def top():
    first = mid(1)
    second = mid(2)
    return first + second


top()
top()
raise RuntimeError("done")
"""


def _record(tmp_path, hook: str, mode: str):
    program = tmp_path / "app.py"
    program.write_text(PROGRAM)
    spool = tmp_path / f"spool-{hook}-{mode}"
    result = run([python(), "-m", "orion.agent", "--mode", mode, "--sample", "off",
                  "--spool", str(spool), str(program)], env=clean_env(ORION_HOOK=hook))
    assert result.returncode == 1 and "RuntimeError: done" in result.stderr, result.stderr
    (path,) = traces(spool)
    return path


@pytest.mark.parametrize("mode", ["dev", "safe", "error"])
@pytest.mark.parametrize("hook", HOOKS)
def test_replay_where_shows_the_line_each_python_frame_was_at(tmp_path, hook, mode):
    path = _record(tmp_path, hook, mode)
    # the second top()'s second mid(): its leaf
    script = "break leaf\n" + "continue\n" * 4 + "json\n"
    out = subprocess.run([python(), "-m", "orion", "replay", str(path)], input=script,
                         capture_output=True, text=True, timeout=60, env=clean_env())
    assert out.returncode == 0, out.stderr
    state = json.loads(out.stdout[out.stdout.index("{"):])
    frames = [(f["function"], f["def_line"], f["line"]) for f in state["stack"]]
    assert frames == [("<module>", 1, 17), ("top", 10, 12), ("mid", 5, 7), ("leaf", 1, None)]


@pytest.mark.parametrize("hook", HOOKS)
def test_a_site_is_written_only_when_it_changes(tmp_path, hook):
    path = _record(tmp_path, hook, "safe")
    recs = records(path)
    names = {r["id"]: r["name"] for r in recs if r["type"] == "function"}
    calls = [(names[r["fn"]], r.get("site")) for r in recs if r["type"] == "call"]
    # mid from lines 11 and 12 of each top(); leaf always from line 7: once
    assert calls == [("<module>", 0), ("top", 16), ("mid", 11), ("leaf", 7), ("mid", 12),
                     ("leaf", None), ("top", 17), ("mid", 11), ("leaf", None),
                     ("mid", 12), ("leaf", None)]
    with TraceReader(path) as reader:  # nil arguments before a site in safe mode
        raw = [rec for rec in reader.records() if rec[0] == 4]
    assert [len(rec) for rec in raw] == [6, 6, 6, 6, 6, 4, 6, 6, 4, 6, 4]
    assert all(rec[4] is None for rec in raw if len(rec) == 6)
