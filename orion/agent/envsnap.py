"""The environment snapshot stored in a trace header: what ran, where, with which versions.

It is taken without starting a subprocess (the git commit is read from .git directly) so
that it stays cheap inside the traced program.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any

from .values import Capturer


def git_commit(start: str) -> str | None:
    """The commit checked out in the working tree containing `start`, if any."""
    try:
        here = Path(start).resolve()
        for directory in (here, *here.parents):
            git = directory / ".git"
            if git.is_file():  # a worktree or submodule: "gitdir: <path>"
                text = git.read_text().strip()
                if not text.startswith("gitdir:"):
                    return None
                git = (directory / text.split(":", 1)[1].strip()).resolve()
            if git.is_dir():
                head = (git / "HEAD").read_text().strip()
                if not head.startswith("ref:"):
                    return head
                ref = head.split(":", 1)[1].strip()
                for base in (git, _common_dir(git)):
                    ref_file = base / ref
                    if ref_file.is_file():
                        return ref_file.read_text().strip()
                    packed = base / "packed-refs"
                    if packed.is_file():
                        for line in packed.read_text().splitlines():
                            if line.endswith(" " + ref):
                                return line.split()[0]
                return None
    except OSError:
        return None
    return None


def _common_dir(git: Path) -> Path:
    common = git / "commondir"
    if common.is_file():
        return (git / common.read_text().strip()).resolve()
    return git


def imported_distributions() -> dict[str, str]:
    """Versions of the installed distributions whose top-level packages are imported."""
    try:
        from importlib import metadata

        mapping = metadata.packages_distributions()
    except Exception:
        return {}
    found: dict[str, str] = {}
    for name in {m.partition(".")[0] for m in list(sys.modules)}:
        for dist in mapping.get(name, ()):
            if dist not in found:
                try:
                    found[dist] = metadata.version(dist)
                except Exception:
                    continue
    return dict(sorted(found.items()))


def snapshot(capturer: Capturer, distributions: bool = True) -> dict[str, Any]:
    """Header `env`: runtime, platform, git commit, distributions, redacted variables."""
    variables: dict[str, Any] = {}
    for key, value in sorted(os.environ.items()):
        if capturer.is_secret(key) or (capturer.secret_values and capturer._leaks(value)):
            variables[key] = {"t": "str", "redacted": True}
        else:
            variables[key] = value if len(value) <= 1000 else value[:1000]
    impl = platform.python_implementation()
    env = {
        "os": platform.system(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "runtime": f"{impl} {platform.python_version()}",
        "python": {"implementation": impl, "version": platform.python_version(),
                   "executable": sys.executable},
        "git": git_commit(os.getcwd()),
        "vars": variables,
    }
    if distributions:
        env["distributions"] = imported_distributions()
    return env
