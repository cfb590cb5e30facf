"""Orionis must not change what a traced program observes of itself: its own allocations
under tracemalloc, the files it has open."""

from __future__ import annotations

import json

import pytest

from .agent_helpers import C_HOOK_BUILT, HOOKS, clean_env, python, run

MEASURES = """\
import json, tracemalloc

def allocate():
    return [bytearray(1000) for _ in range(200)]

tracemalloc.start()
before = tracemalloc.take_snapshot()
kept = allocate()
after = tracemalloc.take_snapshot()
tracemalloc.stop()
top = after.compare_to(before, "lineno")[0]
print(json.dumps({"line": top.traceback[0].lineno, "size": top.size_diff}))
"""


@pytest.mark.skipif(not C_HOOK_BUILT, reason="the C hook is not built")
def test_tracemalloc_sees_the_programs_allocations_only(tmp_path):
    """The C hook's record buffers were PyMem blocks, which tracemalloc blamed on the traced
    line running: allocate()'s 200 kB line grew by the agent's 33 kB of records."""
    program = tmp_path / "measure.py"
    program.write_text(MEASURES)
    plain = run([python(), str(program)])
    traced = run([python(), "-m", "orion.agent", "--mode", "dev", "--spool",
                  str(tmp_path / "spool"), str(program)], env=clean_env(ORION_HOOK="c"))
    assert plain.returncode == 0 and traced.returncode == 0, traced.stderr
    alone, with_agent = json.loads(plain.stdout), json.loads(traced.stdout)
    assert with_agent["line"] == alone["line"] == 4
    assert abs(with_agent["size"] - alone["size"]) < 1000, (alone, with_agent)


LEAK_CHECK = """\
import tracemalloc

def allocate():
    return [bytearray(1000) for _ in range(200)]

tracemalloc.start()
allocate()
first = tracemalloc.take_snapshot()
for _ in range(50):
    allocate()
second = tracemalloc.take_snapshot()
tracemalloc.stop()
print(sum(stat.size_diff for stat in second.compare_to(first, "filename")))
"""


@pytest.mark.parametrize("hook", HOOKS)
def test_a_leak_check_by_snapshots_finds_no_leak_in_the_agent(tmp_path, hook):
    """The records waiting for the writer grew by some 90 kB between the two snapshots
    of a program that leaks nothing: snapshots leave the agent's allocations out."""
    program = tmp_path / "leaks.py"
    program.write_text(LEAK_CHECK)
    done = run([python(), "-m", "orion.agent", "--mode", "dev", "--spool",
                str(tmp_path / "spool"), str(program)], env=clean_env(ORION_HOOK=hook))
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) < 10_000


OPEN_FILES = """\
import faulthandler, gc, io, sys
faulthandler.enable(sys.stderr)  # as pytest does: the agent's sidecar is no longer in use
left = [f for f in gc.get_objects() if isinstance(f, io.IOBase) and not f.closed
        and str(getattr(f, "name", "")).endswith(".fault")]
print(len(left))
"""


@pytest.mark.parametrize("mode", ["dev", "error"])
def test_the_agent_leaves_no_file_object_to_collect(tmp_path, mode):
    """The crash sidecar was a file object that only the interpreter's teardown collected,
    with `ResourceWarning: unclosed file ….fault` once something else enabled faulthandler."""
    program = tmp_path / "files.py"
    program.write_text(OPEN_FILES)
    done = run([python(), "-W", "error::ResourceWarning", "-m", "orion.agent", "--mode", mode,
                "--spool", str(tmp_path / "spool"), str(program)])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0"
    assert "ResourceWarning" not in done.stderr
