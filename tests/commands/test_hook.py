"""`orion hook`: a failing test refuses the commit and leaves a trace tagged with the commit;
an existing hook still runs; uninstall restores it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from orion.format.reader import TraceReader
from orion.hooks import read_tag
from orion.spool import Spool

OLD_HOOK = "#!/bin/sh\necho ran >> \"$(git rev-parse --show-toplevel)/old-hook-ran\"\n"


def env_for(spool) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ORION_", "GIT_")) and k != "PYTHONPATH"}
    env.update(ORION_SPOOL=str(spool), GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
    return env


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    spool = tmp_path / "spool"
    env = env_for(spool)

    def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(args, cwd=root, env=env, capture_output=True, text=True,
                              timeout=90)
        if check:
            assert done.returncode == 0, done.stdout + done.stderr
        return done

    sh("git", "init", "-q", ".")
    (root / "pyproject.toml").write_text("[project]\nname = 'sample'\n")
    (root / "test_sample.py").write_text("def test_ok():\n    assert 1 + 1 == 2\n")
    sh("git", "add", ".")
    sh("git", "commit", "-q", "-m", "first")
    return root, spool, sh


def orion(sh, *args, check=True):
    return sh(sys.executable, "-m", "orion", *args, check=check)


def test_failing_test_refuses_the_commit_and_tags_its_trace(repo):
    root, spool, sh = repo
    hook = root / ".git" / "hooks" / "pre-commit"
    hook.write_text(OLD_HOOK)
    hook.chmod(0o755)
    head = sh("git", "rev-parse", "HEAD").stdout.strip()

    out = orion(sh, "hook", "install", "pre-commit").stdout
    assert "runs first" in out
    assert (root / ".git" / "hooks" / "pre-commit.orion-backup").read_text() == OLD_HOOK

    (root / "test_sample.py").write_text(
        "def add(a, b):\n    return a - b\n\ndef test_add():\n    assert add(2, 2) == 4\n")
    sh("git", "add", "test_sample.py")
    refused = sh("git", "commit", "-q", "-m", "breaks add", check=False)
    assert refused.returncode != 0
    assert "pre-commit refused" in refused.stderr
    assert sh("git", "rev-parse", "HEAD").stdout.strip() == head
    assert (root / "old-hook-ran").read_text() == "ran\n"

    [entry] = Spool(spool).entries()
    assert read_tag(Spool(spool), entry.trace_id)["commit"] == head
    with TraceReader(entry.path) as reader:
        header = reader.header
    assert header["env"]["vars"]["ORION_GIT_COMMIT"] == head
    assert entry.trace_id[:12] in refused.stderr
    listed = orion(sh, "hook", "list").stdout
    assert entry.trace_id in listed and f"pre-commit  {head}" in listed

    assert "restored" in orion(sh, "hook", "uninstall").stdout
    assert hook.read_text() == OLD_HOOK
    assert not (root / ".git" / "hooks" / "pre-commit.orion-backup").exists()
    sh("git", "commit", "-q", "-m", "no tests run now")
    assert (root / "old-hook-ran").read_text() == "ran\nran\n"


def test_passing_tests_let_the_commit_through_and_a_failing_old_hook_still_refuses(repo):
    root, spool, sh = repo
    orion(sh, "hook", "install", "--", sys.executable, "-m", "pytest", "-q",
          "-p", "no:cacheprovider")
    (root / "more.txt").write_text("x\n")
    sh("git", "add", "more.txt")
    sh("git", "commit", "-q", "-m", "fine")
    assert Spool(spool).entries() == []
    assert orion(sh, "hook", "list", check=False).returncode == 1
    orion(sh, "hook", "uninstall")
    assert not (root / ".git" / "hooks" / "pre-commit").exists()

    failing = root / ".git" / "hooks" / "pre-commit"
    failing.write_text("#!/bin/sh\necho old hook says no >&2\nexit 7\n")
    failing.chmod(0o755)
    orion(sh, "hook", "install")
    (root / "more.txt").write_text("y\n")
    sh("git", "add", "more.txt")
    refused = sh("git", "commit", "-q", "-m", "refused", check=False)
    assert refused.returncode != 0 and "old hook says no" in refused.stderr


def test_pre_push_chains_and_reinstall_keeps_the_backup(repo):
    root, spool, sh = repo
    old = root / ".git" / "hooks" / "pre-push"
    old.write_text("#!/bin/sh\ncat > \"$(git rev-parse --show-toplevel)/refs-seen\"\n")
    old.chmod(0o755)
    orion(sh, "hook", "install", "pre-push", "--", "true")
    orion(sh, "hook", "install", "pre-push", "--", "true")  # again: the backup stays
    assert (root / ".git" / "hooks" / "pre-push.orion-backup").exists()
    remote = root.parent / "remote.git"
    sh("git", "init", "-q", "--bare", str(remote))
    sh("git", "push", "-q", str(remote), "HEAD:refs/heads/main")
    assert "refs/heads/main" in (root / "refs-seen").read_text()


def test_outside_a_repository_is_an_error(tmp_path):
    done = subprocess.run([sys.executable, "-m", "orion", "hook", "install"], cwd=tmp_path,
                          env=env_for(tmp_path / "spool"), capture_output=True, text=True)
    assert done.returncode == 2 and "not in a git repository" in done.stderr


def test_a_misspelt_hook_name_is_refused(repo):
    root, _, sh = repo
    for name in ("pre-comit", "post-commit"):
        done = orion(sh, "hook", "install", name, check=False)
        assert done.returncode == 2 and f"unknown hook {name!r}" in done.stderr
        assert len(done.stderr.splitlines()) == 1
    assert not (root / ".git" / "hooks" / "pre-commit").exists()


BROKEN = "def add(a, b):\n    return a - b\n\ndef test_add():\n    assert add(2, 2) == 4\n"
FIXED = BROKEN.replace("a - b", "a + b")


def test_pre_commit_tests_what_is_staged_not_the_working_tree(repo):
    """An unstaged fix does not let a broken staged change through; afterwards the index,
    the working tree and untracked files are exactly as they were, and no stash is left."""
    root, spool, sh = repo
    orion(sh, "hook", "install", "--", sys.executable, "-m", "pytest", "-q",
          "-p", "no:cacheprovider")
    (root / "test_sample.py").write_text(BROKEN)
    sh("git", "add", "test_sample.py")
    (root / "test_sample.py").write_text(FIXED)  # the fix, same line, not staged
    (root / "notes.txt").write_text("untracked\n")
    status_before = sh("git", "status", "--porcelain").stdout

    refused = sh("git", "commit", "-q", "-m", "broken add", check=False)
    assert refused.returncode != 0 and "pre-commit refused" in refused.stderr
    [entry] = Spool(spool).entries()
    assert read_tag(Spool(spool), entry.trace_id)["hook"] == "pre-commit"
    assert (root / "test_sample.py").read_text() == FIXED
    assert sh("git", "show", ":test_sample.py").stdout == BROKEN
    assert (root / "notes.txt").read_text() == "untracked\n"
    assert sh("git", "status", "--porcelain").stdout == status_before
    assert sh("git", "stash", "list").stdout == ""

    # Staging the fix lets the commit through, with the untracked file still left alone.
    sh("git", "add", "test_sample.py")
    sh("git", "commit", "-q", "-m", "add adds")
    assert sh("git", "show", "HEAD:test_sample.py").stdout == FIXED
    assert (root / "notes.txt").read_text() == "untracked\n"
    assert sh("git", "stash", "list").stdout == ""


def test_unstaged_changes_come_back_when_the_hook_is_interrupted(repo):
    root, spool, sh = repo
    # The "tests" kill the hook process (their parent), as a closed terminal or CI would.
    orion(sh, "hook", "install", "--", "sh", "-c", "kill -TERM $PPID; exec sleep 5")
    (root / "test_sample.py").write_text(FIXED)
    sh("git", "add", "test_sample.py")
    (root / "test_sample.py").write_text(FIXED + "# more, unstaged\n")
    (root / "notes.txt").write_text("untracked\n")
    refused = sh("git", "commit", "-q", "-m", "interrupted", check=False)
    assert refused.returncode != 0
    assert (root / "test_sample.py").read_text() == FIXED + "# more, unstaged\n"
    assert sh("git", "show", ":test_sample.py").stdout == FIXED
    assert (root / "notes.txt").read_text() == "untracked\n"
    assert sh("git", "stash", "list").stdout == ""


def test_commit_all_tests_the_working_tree_and_says_so(repo):
    root, spool, sh = repo
    orion(sh, "hook", "install", "--", sys.executable, "-m", "pytest", "-q",
          "-p", "no:cacheprovider")
    (root / "test_sample.py").write_text(BROKEN)
    (root / "notes.txt").write_text("untracked\n")
    refused = sh("git", "commit", "-a", "-q", "-m", "broken, all", check=False)
    assert refused.returncode != 0 and "git holds the index" in refused.stderr
    assert (root / "notes.txt").read_text() == "untracked\n"
    assert sh("git", "stash", "list").stdout == ""


def test_a_project_of_bare_pytest_files_gets_pytest_as_its_hook_command(repo):
    """No pyproject.toml, no pytest configuration: the test files say it is Python."""
    root, spool, sh = repo
    sh("git", "rm", "-q", "pyproject.toml")
    out = orion(sh, "hook", "install", "pre-commit").stdout
    assert "-m pytest" in (root / ".git" / "hooks" / "pre-commit").read_text(), out
