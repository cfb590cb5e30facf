"""The environment snapshot: which installed distributions the program imported."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from orion.model import load_trace

from .agent_helpers import clean_env, traces

PROGRAM = "import click\nprint(click.__name__)\n"


@pytest.mark.parametrize("mode", ["dev", "safe"])
def test_distributions_the_program_imported_are_in_the_trace(tmp_path, mode):
    """A dev/safe trace begins before the program imports anything: the versions are
    taken when it ends, and `orion show` shows them."""
    (tmp_path / "app.py").write_text(PROGRAM)
    spool = tmp_path / "spool"
    done = subprocess.run([sys.executable, "-m", "orion", "run", "--mode", mode, "--spool",
                           str(spool), "--", sys.executable, "app.py"], cwd=tmp_path,
                          env=clean_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    (path,) = traces(spool)
    trace = load_trace(path)
    assert "click" in trace.summary["distributions"]
    assert "click" in trace.env["distributions"]
    shown = subprocess.run([sys.executable, "-m", "orion", "show", str(path), "--json"],
                           capture_output=True, text=True, timeout=60)
    assert "click" in json.loads(shown.stdout)["summary"]["distributions"]
