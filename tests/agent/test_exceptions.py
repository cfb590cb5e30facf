"""Exception records under the profile-based C hook and the Python hook alike: one
`exception` record at an exception's first unwind, none for an exception a frame catches,
and exit statuses seen even in a script's module body (no Python frame below it)."""

from __future__ import annotations

import pytest

from orion.agent import _BOOT_DIR
from orion.format.summary import read_summary

from .agent_helpers import C_HOOK_API, HOOKS, clean_env, python, records, run, traces


PROGRAM = """\
def inner(x):
    return int(x)
def middle(x):
    return inner(x) + 1
def catches():
    try:
        int("nope")
    except ValueError:
        return "caught here"
def outer():
    catches()
    try:
        middle("bad")
    except ValueError:
        pass
    it = iter([1])
    next(it)
    return next(it, None)
outer()
raise KeyError("at module level")
"""


def run_direct(tmp_path, hook: str, source: str, mode: str = "safe"):
    """`python app.py` with the agent booted from the environment, as `orion run` does:
    no Python frame below the module body."""
    program = tmp_path / "app.py"
    program.write_text(source)
    spool = tmp_path / f"spool-{hook}"
    env = clean_env(ORION_MODE=mode, ORION_SPOOL=str(spool), ORION_HOOK=hook,
                    ORION_SAMPLE="1.0", PYTHONPATH=_BOOT_DIR)
    return run([python(), str(program)], env=env), spool


@pytest.mark.parametrize("hook", HOOKS)
def test_one_exception_record_per_escaping_exception(tmp_path, hook):
    result, spool = run_direct(tmp_path, hook, PROGRAM)
    assert result.returncode == 1 and "KeyError: 'at module level'" in result.stderr
    (path,) = traces(spool)
    recs = records(path)
    names = {r["id"]: r["name"] for r in recs if r["type"] == "function"}
    exceptions = [(r["exc_type"], r["message"], r["line"]) for r in recs
                  if r["type"] == "exception"]
    # caught inside `catches`: nothing; ValueError unwinds inner then middle: one record,
    # at inner's line; the module body's own KeyError: one record at its line
    assert exceptions == [("ValueError", "invalid literal for int() with base 10: 'bad'", 2),
                          ("KeyError", "'at module level'", 20)]
    stack, unwound = [], []
    for r in recs:
        if r["type"] == "call":
            stack.append(names[r["fn"]])
        elif r["type"] in ("return", "unwind"):
            name = stack.pop()
            if r["type"] == "unwind":
                unwound.append(name)
    assert unwound == ["inner", "middle", "<module>"]
    assert read_summary(path)["exception"]["type"] == "KeyError"


@pytest.mark.parametrize("hook", HOOKS)
@pytest.mark.parametrize("code,status", [(3, "failed"), (0, "ok")])
def test_sys_exit_in_the_module_body_is_noted(tmp_path, hook, code, status):
    source = f"import sys\ndef main():\n    return {code}\nsys.exit(main())\n"
    result, spool = run_direct(tmp_path, hook, source, mode="dev")
    assert result.returncode == code, result.stderr
    (path,) = traces(spool)
    summary = read_summary(path)
    assert summary["exit_code"] == code and summary["status"] == status
    exceptions = [r for r in records(path) if r["type"] == "exception"]
    assert [(r["exc_type"], r["message"]) for r in exceptions] == [("SystemExit", str(code))]


@pytest.mark.parametrize("hook", HOOKS)
def test_a_thread_reusing_an_ended_threads_ident_gets_its_own_lane(tmp_path, hook):
    source = ("import threading, time\nidents = []\n"
              "def work():\n    idents.append(threading.get_ident())\n"
              "for name in ('first', 'second'):\n"
              "    t = threading.Thread(target=work, name=name)\n"
              "    t.start(); t.join(); time.sleep(0.05)\n"
              "print(idents[0] == idents[1])\n")
    result, spool = run_direct(tmp_path, hook, source)
    assert result.returncode == 0, result.stderr
    if result.stdout.strip() != "True":
        pytest.skip("the OS gave the second thread a fresh ident")
    (path,) = traces(spool)
    recs = records(path)
    lanes = {r["id"]: r["name"] for r in recs if r["type"] == "lane"}
    work = next(r["id"] for r in recs if r["type"] == "function" and r["name"] == "work")
    assert sorted(lanes[r["lane"]] for r in recs
                  if r["type"] == "call" and r["fn"] == work) == ["first", "second"]


@pytest.mark.parametrize("hook", HOOKS)
def test_an_unwind_learnt_late_keeps_its_time(tmp_path, hook):
    # hasattr swallows the AttributeError in C: no Python frame receives it, so the profile
    # hook writes the unwind only at the next traced event, 0.2 s later, with its own time
    # (sys.monitoring's PY_UNWIND carries the exception: written at once, with its record)
    source = ("import time\nclass P:\n    @property\n    def x(self):\n"
              "        raise AttributeError('no x')\n"
              "def later():\n    return 1\n"
              "hasattr(P(), 'x')\ntime.sleep(0.2)\nlater()\n")
    result, spool = run_direct(tmp_path, hook, source)
    assert result.returncode == 0, result.stderr
    (path,) = traces(spool)
    recs = records(path)
    (unwind,) = [r for r in recs if r["type"] == "unwind"]
    names = {r["id"]: r["name"] for r in recs if r["type"] == "function"}
    (call,) = [r for r in recs if r["type"] == "call" and names[r["fn"]] == "later"]
    assert call["t"] - unwind["t"] >= 150_000_000
    exceptions = [r["exc_type"] for r in recs if r["type"] == "exception"]
    profile_hook = hook == "c" and C_HOOK_API == "profile"
    assert exceptions == ([] if profile_hook else ["AttributeError"])  # see Lane's docstring


def test_a_programs_own_trace_function_is_left_alone(tmp_path):
    if "c" not in HOOKS:
        pytest.skip("the C hook is not built")
    # a debugger or coverage tool's sys.settrace keeps every event while the C hook runs
    source = ("import sys\nseen = []\n"
              "def mine(frame, event, arg):\n    seen.append(event)\n    return mine\n"
              "def boom():\n    raise ValueError('x')\n"
              "def after():\n    return 2\n"
              "sys.settrace(mine)\n"
              "try:\n    boom()\nexcept ValueError:\n    pass\n"
              "after()\nsys.settrace(None)\n"
              "print(sys.gettrace(), seen)\n")
    result, spool = run_direct(tmp_path, "c", source)
    assert result.returncode == 0, result.stderr
    untraced = run([python(), str(tmp_path / "app.py")])
    assert result.stdout == untraced.stdout and "'exception', 'return', 'call'" in result.stdout
    (path,) = traces(spool)
    assert [r["type"] for r in records(path) if r["type"] in ("call", "unwind", "return")
            ] == ["call", "call", "unwind", "call", "return", "return"]


DEEP_AND_HEAVY = """\
def down(n, load):
    if n == 0:
        raise RuntimeError("bottom")
    return down(n - 1, load)
down(300, [["x" * 200] * 50] * 50)
"""


@pytest.mark.parametrize("mode", ["dev", "error"])
def test_a_deep_failing_stack_of_big_values_stays_a_readable_size(tmp_path, mode):
    """Locals are kept innermost first within a budget: the file stays small and readable
    (unbounded, 300 frames of this made a 150 MB record; 900 went past the 64 MiB frame
    limit and no reader would open the agent's own trace)."""
    result, spool = run_direct(tmp_path, HOOKS[0], DEEP_AND_HEAVY, mode=mode)
    assert result.returncode == 1 and "RuntimeError: bottom" in result.stderr
    (path,) = traces(spool)
    assert path.stat().st_size < 4 * 1024 * 1024
    [stack] = [r for r in records(path) if r["type"] == "stack"]
    frames = stack["frames"]
    assert len(frames) == 302  # <module> and 301 calls of down, every one named
    assert frames[-1]["locals"] is not None and frames[1]["locals"] is None
