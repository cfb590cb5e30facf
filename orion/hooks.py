"""Git hooks that run the project's tests under capture and tag failing traces with a commit.

`install` writes a small shell hook; a hook already there is renamed to
`<hook>.orion-backup` and still runs first (with the same arguments and standard input), so
installing orion never turns another tool's check off. `uninstall` puts it back.

The hook calls `orion hook run`, which runs the tests with capture on in error mode and
records, for every trace written, the commit it was taken at: ORION_GIT_COMMIT (and
ORION_GIT_TREE for pre-commit, whose commit does not exist yet: HEAD is its parent and the
tree is what is staged) is set in the tests' environment, so each trace's environment
snapshot holds it, and a tag file `<spool>/.hooks/<trace id>.commit` says it outside the
trace too (hidden, so it is never listed as a trace).

A pre-commit run tests what is being committed, not the working tree: unstaged changes and
untracked files are set aside first (`git stash push --keep-index --include-untracked`),
so an unstaged fix cannot let a broken staged change through, and put back afterwards,
even when the tests fail or the hook is interrupted (see `staged_only`). `git commit -a`
and `git commit PATHS` commit a temporary index that git holds locked while the hook runs:
nothing can be stashed then, and the working tree is tested as it is (for `-a` it differs
from the commit only by untracked files).
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .errors import OrionError
from .runtimes import detect_languages, test_command
from .spool import Spool

HOOKS = ("pre-commit", "pre-push")
MARKER = "# orion-hook: installed by `orion hook install`"
BACKUP_SUFFIX = ".orion-backup"
TAG_DIR = ".hooks"
TAG_SUFFIX = ".commit"
STASH_MESSAGE = "orion hook: unstaged changes set aside while the tests ran"

_TEMPLATE = """#!/bin/sh
{marker}
# Runs the tests under capture; failing tests' traces are tagged with the commit.
# An earlier {hook} hook, if there was one, is {backup_name} and runs first.
# `orion hook uninstall` removes this hook and restores the earlier one.
hook_dir=$(dirname "$0")
if [ -x "$hook_dir/{backup_name}" ]; then
{run_backup}
fi
exec {orion} hook run {hook} {command}
"""
_RUN_BACKUP = '    "$hook_dir/{backup_name}" "$@" || exit $?'
# pre-push reads the pushed refs on stdin: keep a copy for our own run after the backup's.
_RUN_BACKUP_WITH_STDIN = """    refs=$(cat)
    printf '%s\\n' "$refs" | "$hook_dir/{backup_name}" "$@" || exit $?"""


def git(repo: Path, *args: str) -> str | None:
    """Output of a git command in `repo`, stripped; None when it fails."""
    try:
        done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                              timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def repo_root(start: Path | None = None) -> Path:
    """The top of the git working tree; OrionError outside one."""
    top = git(start or Path.cwd(), "rev-parse", "--show-toplevel")
    if not top:
        raise OrionError("not in a git repository (git hooks need one)")
    return Path(top)


def hooks_dir(repo: Path) -> Path:
    """Where git looks for hooks (honours core.hooksPath)."""
    path = git(repo, "rev-parse", "--git-path", "hooks")
    if not path:
        raise OrionError(f"{repo}: cannot find the git hooks directory")
    return (repo / path).resolve()


def default_command(repo: Path) -> list[str]:
    """The project's test command, from its languages; OrionError when none is known."""
    for lang in detect_languages(repo):
        command = test_command(repo, lang)
        if command:
            return command
    raise OrionError("cannot tell how this project runs its tests: give the command, "
                     "e.g. orion hook install pre-commit -- make test")


def is_ours(path: Path) -> bool:
    try:
        return MARKER in path.read_text(errors="replace")
    except OSError:
        return False


def hook_script(hook: str, command: list[str]) -> str:
    backup_name = hook + BACKUP_SUFFIX
    template = _RUN_BACKUP_WITH_STDIN if hook == "pre-push" else _RUN_BACKUP
    return _TEMPLATE.format(
        marker=MARKER, hook=hook, backup_name=backup_name,
        run_backup=template.format(backup_name=backup_name),
        orion=shlex.join([sys.executable, "-m", "orion"]),
        command=shlex.join(command),
    )


@dataclass
class Installed:
    path: Path
    backup: Path | None  # the earlier hook, kept and chained


def install(repo: Path, hook: str, command: list[str]) -> Installed:
    """Write the hook (again, if ours is there); keep any other hook as the backup."""
    if hook not in HOOKS:
        raise OrionError(f"unknown hook {hook!r} (choose from {', '.join(HOOKS)})")
    directory = hooks_dir(repo)
    path = directory / hook
    backup = directory / (hook + BACKUP_SUFFIX)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        if path.exists() and not is_ours(path):
            if backup.exists():
                raise OrionError(f"{path} is not orion's and {backup} already exists: "
                                 f"move one of them away first")
            os.replace(path, backup)
        temporary = directory / f".{hook}.orion.tmp"
        temporary.write_text(hook_script(hook, command))
        temporary.chmod(0o755)
        os.replace(temporary, path)
    except OSError as exc:
        raise OrionError(f"cannot install {path}: {exc.strerror or exc}") from None
    return Installed(path, backup if backup.exists() else None)


def uninstall(repo: Path, hook: str) -> str | None:
    """Remove our hook and restore the backup; what was done, or None if ours was absent."""
    directory = hooks_dir(repo)
    path = directory / hook
    backup = directory / (hook + BACKUP_SUFFIX)
    if not is_ours(path):
        return None
    try:
        if backup.exists():
            os.replace(backup, path)
            return f"restored the earlier {hook} hook"
        path.unlink()
    except OSError as exc:
        raise OrionError(f"cannot uninstall {path}: {exc.strerror or exc}") from None
    return f"removed the {hook} hook"


def installed_hooks(repo: Path) -> dict[str, bool]:
    """For each hook orion can install: whether orion's is in place."""
    directory = hooks_dir(repo)
    return {hook: is_ours(directory / hook) for hook in HOOKS}


def commit_info(repo: Path, hook: str) -> dict[str, str]:
    """What the tests run at: HEAD (the parent, for pre-commit) and the staged tree."""
    info = {"hook": hook}
    head = git(repo, "rev-parse", "--verify", "-q", "HEAD")
    if head:
        info["commit"] = head
    if hook == "pre-commit":
        tree = git(repo, "write-tree")
        if tree:
            info["tree"] = tree
    return info


def commit_env(info: dict[str, str]) -> dict[str, str]:
    """Variables that put the commit into every trace's environment snapshot."""
    names = {"commit": "ORION_GIT_COMMIT", "tree": "ORION_GIT_TREE", "hook": "ORION_GIT_HOOK"}
    return {names[key]: value for key, value in info.items() if key in names}


def tag_trace(spool: Spool, trace_id: str, info: dict[str, str]) -> Path:
    """Write `<spool>/.hooks/<trace id>.commit` (lines of `key value`)."""
    path = spool.path / TAG_DIR / (trace_id + TAG_SUFFIX)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{key} {value}\n" for key, value in info.items()))
    return path


def read_tag(spool: Spool, trace_id: str) -> dict[str, str] | None:
    """The commit a hook run tagged a trace with, if any."""
    try:
        text = (spool.path / TAG_DIR / (trace_id + TAG_SUFFIX)).read_text()
    except OSError:
        return None
    return dict(line.split(" ", 1) for line in text.splitlines() if " " in line)


def tagged_traces(spool: Spool) -> list[tuple[str, dict[str, str]]]:
    """(trace id, tag) for every trace in the spool that a hook run tagged, newest first."""
    found = []
    for entry in spool.entries():
        tag = read_tag(spool, entry.trace_id)
        if tag is not None:
            found.append((entry.trace_id, tag))
    return found


def _note(message: str) -> None:
    print(f"orion: {message}", file=sys.stderr)


def _tests_main_index(repo: Path) -> bool:
    """Whether git commits the repository's own index (not `commit -a`'s locked copy)."""
    chosen = os.environ.get("GIT_INDEX_FILE")
    git_dir = git(repo, "rev-parse", "--absolute-git-dir")
    return not chosen or (git_dir is not None and
                          (repo / chosen).resolve() == (Path(git_dir) / "index").resolve())


def _has_unstaged(repo: Path) -> bool:
    return git(repo, "diff", "--quiet") is None or bool(
        git(repo, "ls-files", "--others", "--exclude-standard"))


@contextmanager
def _signals_as_interrupts() -> Iterator[None]:
    """SIGTERM and SIGHUP (a closed terminal) unwind like Ctrl-C, so `finally` runs."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    saved = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _restore(repo: Path, stash: str) -> None:
    """Back to the index and working tree of the moment `stash` was made, then drop it.

    `git stash pop` onto the kept index would conflict wherever a file has staged and
    unstaged changes in the same lines; applied onto HEAD (which the stash was made on) it
    cannot. Untracked files the tests wrote where the stash has one are the tests' copies:
    they go, so the user's come back. Ctrl-C is ignored meanwhile: half a restore is worse.
    """
    saved = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT,
                                                                  signal.SIGTERM)}
    try:
        git(repo, "reset", "-q", "--hard")
        untracked = git(repo, "ls-tree", "-r", "-z", "--name-only", f"{stash}^3") or ""
        for name in filter(None, untracked.split("\0")):
            if os.path.lexists(repo / name):
                os.unlink(repo / name)
        if git(repo, "stash", "apply", "--index", "-q", stash) is None:
            raise OrionError(f"could not put the unstaged changes back: they are kept in "
                             f"`git stash list` ({stash[:12]}); run `git stash pop --index`")
        entries = (git(repo, "stash", "list", "--format=%H") or "").splitlines()
        if stash in entries:
            git(repo, "stash", "drop", "-q", f"stash@{{{entries.index(stash)}}}")
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


@contextmanager
def staged_only(repo: Path) -> Iterator[None]:
    """The working tree holds exactly what is staged while the body runs: unstaged changes
    and untracked files are stashed, and restored afterwards however the body ends."""
    if not _has_unstaged(repo):
        yield
        return
    if not _tests_main_index(repo):
        _note("testing the working tree: git holds the index of a `commit -a` or "
              "`commit PATHS` locked, so unstaged changes cannot be set aside")
        yield
        return
    before = git(repo, "rev-parse", "-q", "--verify", "refs/stash")
    git(repo, "stash", "push", "-q", "--keep-index", "--include-untracked",
        "-m", STASH_MESSAGE)
    stash = git(repo, "rev-parse", "-q", "--verify", "refs/stash")
    if stash is None or stash == before:
        _note("could not set the unstaged changes aside; testing the working tree as it is")
        yield
        return
    with _signals_as_interrupts():
        try:
            yield
        finally:
            _restore(repo, stash)


def run_hook(repo: Path, hook: str, command: list[str], spool: Spool):
    """Run the tests under capture at the current commit; tag every trace they wrote.
    pre-commit tests only what is staged (`staged_only`)."""
    from .testrun import run_captured

    info = commit_info(repo, hook)
    with staged_only(repo) if hook == "pre-commit" else nullcontext():
        result = run_captured(command, spool, "error", env=commit_env(info))
    for row in result.traces:
        if row.trace_id:
            tag_trace(spool, row.trace_id, info)
    return result, info
