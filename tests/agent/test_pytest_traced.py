"""pytest under capture behaves as it does untraced: no warnings of ours."""

from __future__ import annotations

import os

from orion.agent import _BOOT_DIR

from .agent_helpers import clean_env, python, run


def test_traced_pytest_run_warns_of_nothing(tmp_path, spool):
    # As installed from a wheel, pytest marks the package `orion` (which holds its
    # plugin) for assertion rewriting, after the agent already imported it.
    dist = tmp_path / "site" / "orionis_trace-0.1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: orionis-trace\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text("[pytest11]\norion = orion.pytest_plugin\n")
    (dist / "RECORD").write_text("orion/__init__.py,,\norion/pytest_plugin.py,,\n")
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_ok.py").write_text("def test_ok():\n    assert 1 + 1 == 2\n")
    env = clean_env(ORION_MODE="error", ORION_SPOOL=str(spool),
                    PYTHONPATH=os.pathsep.join([_BOOT_DIR, str(tmp_path / "site")]))
    result = run([python(), "-m", "pytest", "-q", "-W", "error", "-p", "no:cacheprovider"],
                 env=env, cwd=tests)
    assert "PytestAssertRewriteWarning" not in result.stdout + result.stderr
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
