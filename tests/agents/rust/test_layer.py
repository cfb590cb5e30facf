"""`orion::layer()` (the `tracing` feature of agents/rust/orion): an application instrumented
with `tracing` alone (agents/rust/examples/spans) gets its spans recorded as calls with their
fields and its events as event records."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from orion.cli import cli as orion_cli
from tests.agents.rust.helpers import build_example, decompressed
from tests.vector_shapes import assert_matches_vectors

pytestmark = pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed")


def test_spans_become_calls_and_events_events(tmp_path):
    program = build_example("spans")
    done = subprocess.run([str(program)], env={**os.environ, "ORION_SPOOL": str(tmp_path)},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    [path] = tmp_path.glob("*.otrace")
    assert CliRunner().invoke(orion_cli, ["validate", str(path)]).exit_code == 0
    assert_matches_vectors(path)
    shown = CliRunner().invoke(orion_cli, ["show", str(path)]).output
    assert '└─ login(user="ada")' in shown  # `skip(password)`: tracing never saw it
    assert 'handle(user="ada", attempts=7)' in shown and "check(attempts=7)" in shown
    assert "• log level='INFO' target='spans' message='checking' user='ada'" in shown
    assert b"hunter2" not in decompressed(path)
