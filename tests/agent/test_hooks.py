"""The C hook and the pure-Python hook write the same records for the same program."""

from __future__ import annotations

import json
import re

import pytest

from orion.format.summary import read_summary

from .agent_helpers import C_HOOK_BUILT, PROGRAMS, clean_env, python, records, run, traces


def normalized(spool, hook: str, mode: str, program: str, *args: str, **env: str) -> list[str]:
    env = clean_env(ORION_HOOK=hook, APP_TOKEN="s3cr3t-token-value", **env)
    result = run([python(), "-m", "orion.agent", "--mode", mode, "--sample", "off",
                  "--spool", str(spool), program, *args], env=env)
    assert result.returncode in (0, 1), result.stderr
    (path,) = traces(spool)
    out = []
    for rec in records(path):
        if rec["type"] in ("header", "end"):
            continue
        rec.pop("t", None)
        rec.pop("native_id", None)
        out.append(re.sub(r"0x[0-9a-f]+", "0x?", json.dumps(rec, sort_keys=True)))
    return out


@pytest.mark.skipif(not C_HOOK_BUILT, reason="the C hook is not built")
@pytest.mark.parametrize("mode,program,args", [
    ("dev", "deep.py", ()), ("dev", "deep.py", ("5%",)), ("dev", "lanes.py", ()),
    ("dev", "values.py", ()), ("safe", "lanes.py", ()), ("safe", "values.py", ()),
    ("error", "deep.py", ())])
def test_c_and_python_hooks_write_the_same_records(tmp_path, mode, program, args):
    path = str(PROGRAMS / program)
    from_python = normalized(tmp_path / "py", "python", mode, path, *args)
    from_c = normalized(tmp_path / "c", "c", mode, path, *args)
    assert len(from_python) > 10
    assert from_c == from_python


@pytest.mark.skipif(not C_HOOK_BUILT, reason="the C hook is not built")
def test_c_and_python_rings_keep_the_same_window(tmp_path):
    program = tmp_path / "wraps.py"
    program.write_text("def f(i):\n    return i\n"
                       "def g(i):\n    try:\n        raise KeyError(i)\n"
                       "    except KeyError:\n        return f(i)\n"
                       "for i in range(100):\n    g(i)\n"
                       "raise ValueError(f(3))\n")
    from_python = normalized(tmp_path / "py", "python", "error", str(program), ORION_RING="16")
    from_c = normalized(tmp_path / "c", "c", "error", str(program), ORION_RING="16")
    assert 0 < sum('"type": "call"' in r for r in from_c) < 16  # of 201: it wrapped
    assert from_c == from_python


def test_hook_kind_reports_the_active_hook():
    script = ("import orion.agent as a; a.start(mode='error', propagate=False, hook='{}');"
              "print(a.hook_kind()); a.stop()")
    assert run([python(), "-c", script.format("python")]).stdout.strip() == "python"
    expected = "c" if C_HOOK_BUILT else "python"
    assert run([python(), "-c", script.format("auto")]).stdout.strip() == expected


@pytest.mark.skipif(not C_HOOK_BUILT, reason="the C hook is not built")
@pytest.mark.parametrize("mode", ["safe", "dev"])
def test_threads_calling_at_once_keep_every_lane_in_order(spool, mode):
    result = run([python(), "-m", "orion.agent", "--mode", mode, "--sample", "off",
                  "--spool", str(spool), str(PROGRAMS / "threads.py")],
                 env=clean_env(ORION_HOOK="c"))
    assert result.returncode == 0, result.stderr
    (path,) = traces(spool)
    recs = records(path)  # validates: nesting and time order on every lane
    names = {r["id"]: r["name"] for r in recs if r["type"] == "function"}
    calls = [names[r["fn"]] for r in recs if r["type"] == "call"]
    assert calls.count("leaf") == 5 * 10 * 2000
    assert len({r["lane"] for r in recs if r["type"] == "call"}) == 5
    summary = read_summary(path)
    assert summary["counts"]["calls"] == len(calls)
    assert summary["counts"]["returns"] == len(calls)


@pytest.mark.skipif(not C_HOOK_BUILT, reason="the C hook is not built")
@pytest.mark.parametrize("mode", ["safe", "error"])
def test_the_c_hooks_clock_keeps_time(tmp_path, mode):
    program = tmp_path / "sleeps.py"
    program.write_text("import time\ndef tick(i):\n    return i\n"
                       "def spin():\n    for i in range(200000):\n        tick(i)\n"
                       "start = time.perf_counter(); tick(0); spin(); time.sleep(0.5); tick(1)\n"
                       "elapsed = time.perf_counter() - start\n"
                       "raise RuntimeError(round(elapsed * 1e9))\n")
    spool = tmp_path / "spool"
    result = run([python(), "-m", "orion.agent", "--mode", mode, "--sample", "off", "--spool",
                  str(spool), str(program)], env=clean_env(ORION_HOOK="c"))
    elapsed = int(result.stderr.strip().splitlines()[-1].split(": ")[1])
    (path,) = traces(spool)
    recs = records(path)
    ticks = [r["t"] for r in recs if r["type"] == "call" and r["fn"] == 1]  # tick
    first, last = ticks[0] if mode == "safe" else None, ticks[-1]
    calls = [r["t"] for r in recs if r["type"] == "call"]
    assert calls == sorted(calls)
    if first is not None:  # the whole run is in the trace: compare with perf_counter
        assert abs((last - first) - elapsed) < 0.01 * elapsed + 200_000
    else:  # error: the ring holds the end of spin() and the last tick
        assert 0.49e9 < last - ticks[-2] < 0.53e9
