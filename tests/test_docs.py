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
    assert complete("bash", "orion hook install ", 3) == ["plain,pre-commit", "plain,pre-push"]
    assert complete("bash", "orion hook install pre-commit ", 4) in ([], [""])


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


# -- the completion scripts in the real shells ---------------------------------------------

# Drives an interactive zsh in a pseudo-terminal (zpty): types WORDS and TAB, and prints
# each candidate that zsh's completion system offers (caught in a compadd wrapper). The
# markers are split by quotes where typed, so that the terminal's echo never matches them.
ZSH_DRIVER = r"""
zmodload zsh/zpty || exit 3
zpty z zsh -f -i
zpty -w z "PROMPT='' RPROMPT=''; setopt no_beep"
if [[ $1 == fpath ]]; then
  zpty -w z "fpath=(${(q)2:h} \$fpath); autoload -Uz compinit; compinit -u -D"
else
  zpty -w z "autoload -Uz compinit; compinit -u -D; source ${(q)2}"
fi
zpty -w z 'compadd () {
  local -a __hits __dscr
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return $?; fi
  builtin compadd -A __hits -D __dscr "$@"
  local i; for i in {1..$#__hits}; do print -r -- "<""hit>$__hits[i]</""hit>"; done
}'
zpty -w z "zstyle ':completion:*' menu no; bindkey '^I' complete-word; print '<''ready>'"
local line; integer idle=0
while (( idle++ < 400 )); do  # typed ahead, the TAB would reach zsh before its setup
  if zpty -r -t z line; then [[ $line == *'<ready>'* ]] && break; else sleep 0.05; fi
done
zpty -w -n z "$3"$'\t'
zpty -w -n z $'\x07\x15'
zpty -w z "print -r -- '<''done>'"
idle=0
while (( idle++ < 400 )); do
  if zpty -r -t z line; then
    idle=0
    [[ $line == *'<done>'* ]] && break
    [[ $line == *'<hit>'* ]] && print -r -- ${${line#*<hit>}%%</hit>*}
  else
    sleep 0.05
  fi
done
zpty -d z
(( idle < 400 ))
"""


@pytest.fixture
def orion_on_path(tmp_path, monkeypatch, spool):
    """`orion` on PATH runs this checkout's orion; returns a trace id in the spool."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "orion"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m orion "$@"\n')
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    path = write_trace(spool, status="failed", exception=("KeyError", "'k'"), root="checkout")
    return Path(path).name.split("-")[-1][:32]


def zsh_complete(how: str, words: str, tmp_path) -> list[str]:
    driver = tmp_path / "driver.zsh"
    driver.write_text(ZSH_DRIVER)
    done = subprocess.run(["zsh", "-f", str(driver), how, str(ROOT / "completions" / "_orion"),
                           words], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "HOME": str(tmp_path), "TERM": "xterm"})
    assert done.returncode == 0, (done.stdout, done.stderr)
    return done.stdout.splitlines()


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
@pytest.mark.parametrize("how", ["fpath", "source"])
def test_the_zsh_script_completes_in_zsh(how, orion_on_path, tmp_path):
    trace_id = orion_on_path
    assert zsh_complete(how, "orion sh", tmp_path) == ["show"]
    assert zsh_complete(how, f"orion show {trace_id[:4]}", tmp_path) == [trace_id]
    assert zsh_complete(how, "orion list --fa", tmp_path) == ["--failed"]


def fish_complete(words: str, tmp_path) -> list[tuple[str, str]]:
    script = ROOT / "completions" / "orion.fish"
    done = subprocess.run(["fish", "--no-config", "-c",
                           f"source {script}; and complete -C '{words}'"],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "HOME": str(tmp_path)})
    assert done.returncode == 0 and not done.stderr, done.stderr
    return [tuple((line + "\t").split("\t")[:2]) for line in done.stdout.splitlines()]


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_the_fish_script_completes_in_fish(orion_on_path, tmp_path):
    trace_id = orion_on_path
    [(show, description)] = fish_complete("orion sh", tmp_path)
    assert show == "show" and description.startswith("Show a trace: summary, environment")
    [(found, description)] = fish_complete(f"orion show {trace_id[:4]}", tmp_path)
    assert found == trace_id and "checkout" in description
    assert [c for c, _ in fish_complete("orion list --fa", tmp_path)] == ["--failed"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_the_bash_script_completes_in_bash(orion_on_path, tmp_path):
    trace_id = orion_on_path

    def bash_complete(*words: str) -> list[str]:
        line = " ".join(f"'{w}'" for w in words)
        done = subprocess.run(
            ["bash", "--norc", "--noprofile", "-c",
             f"source {ROOT / 'completions' / 'orion.bash'}; COMP_WORDS=({line}); "
             f"COMP_CWORD={len(words) - 1}; _orion_completion; "
             'printf "%s\\n" "${COMPREPLY[@]}"'],
            capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and not done.stderr, done.stderr
        return done.stdout.split()

    assert bash_complete("orion", "sh") == ["show"]
    assert bash_complete("orion", "show", trace_id[:4]) == [trace_id]
    assert bash_complete("orion", "list", "--fa") == ["--failed"]
