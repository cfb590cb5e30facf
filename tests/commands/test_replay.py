"""`orion replay`: scripts on stdin, --json state, and a real terminal session."""

from __future__ import annotations

import json
import os
import sys

import pytest

from ..analysis.test_replay import bad_rate_program
from ..analysis.trees import write_tree
from ..conftest import run_orion
from .test_show import run_error_mode


@pytest.fixture
def trace_path(spool) -> str:
    return write_trace_file(spool)


def write_trace_file(spool) -> str:
    return write_tree(spool, bad_rate_program())


def test_script_on_stdin_from_the_exception_back_to_the_bad_value(trace_path):
    script = "exception\nwhere\nreverse-finish\nreverse-next\nlocals\n"
    result = run_orion("replay", "@", input=script)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "(orion)" not in result.stdout  # no prompt noise in a pipe
    assert "raised ValueError: rate 1.5 above 100%" in lines[0]
    assert lines[1].startswith("#0 apply(total=100, rate=1.5)")
    assert lines[2].startswith("#1 main()")
    assert "→ apply(" in lines[3]
    assert "← parse_rate → 1.5" in lines[4]
    assert lines[5:] == ["locals of parse_rate:", "  text = '15%'  (argument)",
                         "  <return> = 1.5"]


def test_breakpoints_print_and_errors_in_a_script(trace_path):
    script = "break strip\ncontinue\nprint text\nfinish\nretval\nbogus\ngoto 999\n"
    result = run_orion("replay", trace_path, input=script)
    assert result.returncode == 1  # a scripted command failed
    assert "breakpoint on strip (1 call)" in result.stdout
    assert "text = '15%'" in result.stdout
    assert "strip returned '15'" in result.stdout
    assert "unknown command 'bogus'" in result.stderr and "no event 999" in result.stderr


def test_help_aliases_counts_and_unknown_commands(trace_path):
    script = "help\nhelp rs\nhelp reverse-step\nstep 3\nreverse-step 2\nreverse-bogus\n"
    result = run_orion("replay", "@", input=script)
    out = result.stdout
    assert "reverse-step [rs]" in out and "reverse_step" not in out and "EOF" not in out
    assert out.count("reverse-step [N] [rs]: the previous event") == 2  # by alias and name
    locations = [line for line in out.splitlines() if line.startswith("[")]
    assert [line.split(" of ")[0] for line in locations] == ["[#3", "[#1"]
    total = json.loads(run_orion("replay", "@", "--json").stdout)["events"]
    assert all(line.split("]")[0].endswith(f" of {total}") for line in locations)
    assert "unknown command 'reverse-bogus'" in result.stderr


def test_json_state_at_a_point(trace_path):
    state = json.loads(run_orion("replay", "@", "--exception", "--json").stdout)
    assert state["event"]["kind"] == "exception" and state["event"]["type"] == "ValueError"
    assert [f["function"] for f in state["stack"]] == ["main", "apply"]
    assert state["stack"][-1]["args"] == {"total": 100, "rate": 1.5}
    at = json.loads(run_orion("replay", "@", "--at", "0", "--json").stdout)
    assert at["index"] == 0 and at["event"] == {"kind": "call", "depth": 0, "function": "main"}
    last = json.loads(run_orion("replay", "@", "--at", "-1", "--json").stdout)
    late = run_orion("replay", "@", "--time", f"{last['t']}", "--json")
    assert json.loads(late.stdout)["index"] == last["index"] == last["events"] - 1
    past = run_orion("replay", "@", "--time", "99s", "--json")
    assert past.returncode == 2 and past.stderr.startswith(
        "orion: error: no event at or after 1m39s: the trace's last event is #")
    bad = run_orion("replay", "@", "--at", "500", "--json")
    assert bad.returncode == 2 and bad.stderr.startswith("orion: error: no event 500")


def test_list_shows_source_when_readable(spool, tmp_path):
    source = tmp_path / "app.py"
    source.write_text("".join(f"line {i}\n" for i in range(1, 21)))
    w = spool.open_writer(language="python")
    lane = w.lane("MainThread")
    fn = w.function("f", "app", str(source), 10)
    w.call(1, lane, fn, w.encode_pairs({}))
    w.exception(2, lane, "KeyError", "k", line=12)
    w.unwind(3, lane, 12)
    w.close(status="failed")
    result = run_orion("replay", "@", input="exception\nlist\n")
    assert "   12 -> line 12" in result.stdout and "    7    line 7" in result.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_a_real_terminal_session(spool, tmp_path):
    pexpect = pytest.importorskip("pexpect")
    write_trace_file(spool)
    env = {**os.environ, "ORION_SPOOL": str(spool.path), "XDG_DATA_HOME": str(tmp_path),
           "HOME": str(tmp_path), "TERM": "dumb", "NO_COLOR": "1"}
    child = pexpect.spawn(sys.executable, ["-m", "orion", "replay", "@", "--exception"],
                          env=env, encoding="utf-8", timeout=20, dimensions=(40, 200))
    try:
        child.expect(r"Replaying .* events on 1 lane")
        child.expect(r"\(orion\) ")
        child.sendline("reverse-finish")
        child.expect("apply")
        child.expect(r"\(orion\) ")
        child.sendline("rn")
        child.expect("parse_rate")
        child.expect(r"\(orion\) ")
        child.sendline("locals")
        child.expect(r"text = '15%'")
        child.expect(r"<return> = 1\.5")
        child.expect(r"\(orion\) ")
        child.send("reverse-fi\t")  # completion of a command name
        child.expect("reverse-finish")
        child.sendline("")
        child.expect(r"→ .*parse_rate.*\(text='15%'\)")  # where parse_rate was called
        child.expect(r"\(orion\) ")
        child.sendline("quit")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    assert (tmp_path / "orionis" / "replay_history").is_file()


def test_error_mode_locals_in_replay(spool, tmp_path):
    run_error_mode(tmp_path)  # locals only in the failure's stack record
    script = "goto -1\nreverse-step 6\nlocals\nprint pair\n"
    result = run_orion("replay", "@", input=script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-4:] == [
        "locals of inner:", "  x = 7  (when it unwound at line 3)",
        "  pair = (14.0,)  (when it unwound at line 3)", "pair = (14.0,)"]
    state = json.loads(run_orion("replay", "@", "--at", "-5", "--json").stdout)
    assert state["event"]["kind"] == "unwind" and state["event"]["function"] == "inner"
    assert [(f["function"], f["locals"]) for f in state["stack"]][1:] == [
        ("outer", {"a": 7, "total": 15, "i": 5}),
        ("inner", {"x": 7, "pair": {"t": "tuple", "items": [14.0]}})]
