"""How `orion run` starts the agent in a Python process: the sitecustomize it puts first on
PYTHONPATH boots the agent, then runs the sitecustomize it hides, if there is one."""

from __future__ import annotations

import pytest


from ..conftest import run_orion

@pytest.mark.parametrize("module", ["sitecustomize.py", "sitecustomize/__init__.py"])
def test_a_sitecustomize_of_the_user_s_still_runs(tmp_path, spool, module):
    own = tmp_path / "own"
    (own / module).parent.mkdir(parents=True)
    (own / module).write_text(  # orion's own process runs it too: not counted
        "import sys\nif 'orion' not in sys.orig_argv: print('own sitecustomize ran')\n")
    done = run_orion("run", "--spool", str(spool), "--", "python3", "-c", "pass",
                     env={"PYTHONPATH": str(own)})
    assert done.returncode == 0, done.stderr
    assert done.stdout == "own sitecustomize ran\n"
    assert "orion: trace " in done.stderr  # and the agent ran too
