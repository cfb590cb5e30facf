"""Man pages and completions: generated from the click definitions and checked in, in sync."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from orion.docs import completion_script, generated_files, stale_files

from .conftest import write_trace

ROOT = Path(__file__).resolve().parent.parent


def test_checked_in_man_pages_and_completions_are_up_to_date():
    stale = stale_files(ROOT)
    assert not stale, f"out of date: {', '.join(stale)}; run scripts/gen-docs"


def test_every_command_has_a_page():
    from orion.cli import COMMANDS

    files = generated_files()
    assert "man/orion.1" in files
    for name in COMMANDS:
        assert f"man/orion-{name}.1" in files
        assert f"orion\\-{name}" in files["man/orion.1"]


@pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed")
def test_man_renders_a_page():
    done = subprocess.run(["man", "-l", str(ROOT / "man" / "orion-list.1")],
                          capture_output=True, text=True, timeout=30,
                          env={**os.environ, "MANPAGER": "cat", "PAGER": "cat",
                               "MANWIDTH": "80"})
    assert done.returncode == 0, done.stderr
    assert "orion-list" in done.stdout and "--failed" in done.stdout
    assert "warning" not in done.stderr


def complete(shell: str, words: str, cword: int | str) -> list[str]:
    done = subprocess.run([sys.executable, "-m", "orion", "completion", "--complete", shell],
                          env={**os.environ, "COMP_WORDS": words, "COMP_CWORD": str(cword)},
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_completes_subcommands_options_and_trace_ids(spool):
    path = write_trace(spool, status="failed", exception=("KeyError", "'k'"), root="checkout")
    trace_id = Path(path).name.split("-")[-1][:32]
    assert "plain,list" in complete("bash", "orion li", 1)
    assert "plain,--failed" in complete("bash", "orion list --fa", 2)
    assert complete("bash", f"orion show {trace_id[:3]}", 2) == [f"plain,{trace_id}"]
    assert f"plain,{trace_id}" in complete("bash", "orion diff ", 2)
    zsh = complete("zsh", "orion cat ", 2)
    assert trace_id in zsh and "failed checkout" in zsh
    assert "plain,--spool" in complete("bash", "orion status --sp", 2)


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_scripts_call_orion_for_candidates(shell):
    script = completion_script(shell)
    assert f"orion completion --complete {shell}" in script
    assert "_ORION_COMPLETE" not in script


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_the_bash_script_loads():
    done = subprocess.run(["bash", "-c", f"source {ROOT / 'completions' / 'orion.bash'} && "
                                         "complete -p orion"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and "_orion_completion" in done.stdout, done.stderr
