"""The environment snapshot stored in a trace header: what ran, where, with which versions.

It is taken without starting a subprocess (the git commit is read from .git directly) so
that it stays cheap inside the traced program.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any, Iterable

from .values import SecretNames, scrub


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
    """Versions of the distributions whose top-level packages are imported, the project's
    own included: an editable install (whose files its metadata does not list) or a
    package imported from the working directory without any (version `in-tree`)."""
    try:
        from .distributions import installed

        known = installed()
    except Exception:
        return {}
    found: dict[str, str] = {}
    project: list[tuple[str, Path]] = []
    try:
        cwd = Path.cwd().resolve()
    except OSError:
        cwd = None
    for name in {m.partition(".")[0] for m in list(sys.modules)}:
        for dist, version in known.modules.get(name, ()):
            found.setdefault(dist, version)
        if name not in known.modules and cwd is not None:
            where = _project_package(name, cwd)
            if where is not None:
                project.append((name, where))
    for name, where in project:
        owner = next(((dist, version) for dist, version, root in known.editable
                      if Path(root) in where.parents), None)
        if owner is not None:
            found.setdefault(*owner)
        else:
            version = getattr(sys.modules[name], "__version__", None)
            found.setdefault(name, version if isinstance(version, str) else "in-tree")
    return dict(sorted(found.items()))


_STDLIB = os.path.dirname(os.__file__) + os.sep


def _project_package(name: str, cwd: Path) -> Path | None:
    """Where package `name` was imported from, when that is inside the working directory
    `cwd` and outside any site-packages: the library under test. Test modules do not
    count. (Called for every imported package: the standard library's are passed over
    before any path is resolved.)"""
    module = sys.modules.get(name)
    file = getattr(module, "__file__", None)
    if (not isinstance(file, str) or not hasattr(module, "__path__")
            or name.startswith(("test", "conftest")) or name == "__main__"
            or file.startswith(_STDLIB)):
        return None
    try:
        where = Path(file).resolve()
        if cwd not in where.parents:
            return None
    except OSError:
        return None
    return None if any(p in ("site-packages", "dist-packages") for p in where.parts) else where


# The environment variables a snapshot records (spec section 4.1): a name, or a prefix
# ending in `*`. Every other variable is only counted (`vars_omitted`), unless the user
# allows it (ORION_ENV_ALLOW, `capture.env`). The native agent records the same COMMON ones.
COMMON_VARIABLES = (
    "PATH", "PWD", "LD_LIBRARY_PATH", "LD_PRELOAD",  # what ran, from where
    "LANG", "LANGUAGE", "LC_*", "TZ",  # locale
    "CI", "CONTINUOUS_INTEGRATION", "GITHUB_*", "RUNNER_*", "GITLAB_CI", "CI_*",  # CI
    "BUILDKITE*", "CIRCLE*", "TRAVIS*", "JENKINS_URL", "BUILD_*", "TF_BUILD",
    "CC", "CXX", "CFLAGS", "CXXFLAGS", "CPPFLAGS", "LDFLAGS", "MAKEFLAGS",  # build
    "SOURCE_DATE_EPOCH",
    "ORION_*",  # the agent's own configuration
)
PYTHON_VARIABLES = ("PYTHON*", "VIRTUAL_ENV", "CONDA_PREFIX", "CONDA_DEFAULT_ENV")


def selected(name: str, patterns: Iterable[str]) -> bool:
    """Whether `name` is one of `patterns` (names, or prefixes ending in `*`)."""
    return any(name.startswith(p[:-1]) if p.endswith("*") else name == p for p in patterns)


def variables(secrets: SecretNames, secret_values: list[str],
              allowed: Iterable[str] = ()) -> tuple[dict[str, Any], int]:
    """The selected environment variables, secrets redacted, and how many were left out."""
    patterns = (*COMMON_VARIABLES, *PYTHON_VARIABLES, *allowed)
    chosen: dict[str, Any] = {}
    omitted = 0
    for key, value in sorted(os.environ.items()):
        if not selected(key, patterns):
            omitted += 1
            continue
        clean = scrub(value[:1000], (), secrets)
        if secrets(key) or any(secret in clean for secret in secret_values):
            chosen[key] = {"t": "str", "redacted": True}
        else:
            chosen[key] = clean
    return chosen, omitted


def command_line() -> list[str]:
    """The command as the user typed it (`python3 -m pytest -q tests`): sys.argv has lost
    the interpreter, `-m module` and `-c`, and while the agent starts from site it is
    only `["-m"]` or `["-c"]`."""
    return list(getattr(sys, "orig_argv", None) or sys.argv)


def platform_name() -> str:
    """platform.platform()'s answer on Linux with glibc, from os.uname and confstr:
    platform.platform() itself runs `uname -p` and scans the interpreter's binary for its
    libc version (about 8 ms, in every traced process)."""
    uname = os.uname()
    try:
        libc, version = (os.confstr("CS_GNU_LIBC_VERSION") or "").split()
    except (ValueError, OSError):
        return platform.platform()
    if uname.sysname != "Linux" or libc != "glibc":
        return platform.platform()
    return f"Linux-{uname.release}-{uname.machine}-with-glibc{version}"


def snapshot(secrets: SecretNames, secret_values: list[str], allowed: Iterable[str] = (),
             distributions: bool = True) -> dict[str, Any]:
    """Header `env`: runtime, platform, git commit, distributions, selected variables."""
    chosen, omitted = variables(secrets, secret_values, allowed)
    impl = platform.python_implementation()
    env = {
        "os": platform.system(),
        "platform": platform_name(),
        "machine": platform.machine(),
        "runtime": f"{impl} {platform.python_version()}",
        "python": {"implementation": impl, "version": platform.python_version(),
                   "executable": sys.executable},
        "vars": chosen,
        "vars_omitted": omitted,
    }
    commit = git_commit(os.getcwd())
    if commit is not None:
        env["git"] = commit
    if distributions:
        env["distributions"] = imported_distributions()
    return env
