"""The environment snapshot stored in a trace header: what ran, where, with which versions.

It is taken without starting a subprocess (the git commit is read from .git directly) so
that it stays cheap inside the traced program.
"""

from __future__ import annotations

import os
import sys

from ..spooldir import self_and_parents
from .values import SecretNames, scrub

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: typing, pathlib and platform would cost every traced
    from typing import Any, Iterable  # process their imports at start


def git_commit(start: str) -> str | None:
    """The commit checked out in the working tree containing `start`, if any."""
    try:
        for directory in self_and_parents(os.path.realpath(start)):
            git = os.path.join(directory, ".git")
            if os.path.isfile(git):  # a worktree or submodule: "gitdir: <path>"
                text = _read(git)
                if not text.startswith("gitdir:"):
                    return None
                git = os.path.realpath(os.path.join(directory, text.split(":", 1)[1].strip()))
            if os.path.isdir(git):
                head = _read(os.path.join(git, "HEAD"))
                if not head.startswith("ref:"):
                    return head
                ref = head.split(":", 1)[1].strip()
                for base in (git, _common_dir(git)):
                    ref_file = os.path.join(base, ref)
                    if os.path.isfile(ref_file):
                        return _read(ref_file)
                    packed = os.path.join(base, "packed-refs")
                    if os.path.isfile(packed):
                        for line in _read(packed).splitlines():
                            if line.endswith(" " + ref):
                                return line.split()[0]
                return None
    except OSError:
        return None
    return None


def _read(path: str) -> str:
    with open(path) as file:
        return file.read().strip()


def _common_dir(git: str) -> str:
    common = os.path.join(git, "commondir")
    if os.path.isfile(common):
        return os.path.realpath(os.path.join(git, _read(common)))
    return git


def _under(path: str, directory: str) -> bool:
    """Whether `path` is inside `directory` (and not the directory itself)."""
    return path != directory and path.startswith(directory.rstrip(os.sep) + os.sep)


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
    project: list[tuple[str, str]] = []
    try:
        cwd = os.path.realpath(os.getcwd())
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
                      if _under(where, os.path.normpath(root))), None)
        if owner is not None:
            found.setdefault(*owner)
        else:
            version = getattr(sys.modules[name], "__version__", None)
            found.setdefault(name, version if isinstance(version, str) else "in-tree")
    return dict(sorted(found.items()))


_STDLIB = os.path.dirname(os.__file__) + os.sep


def _project_package(name: str, cwd: str) -> str | None:
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
    where = os.path.realpath(file)
    if not _under(where, cwd):
        return None
    parts = where.split(os.sep)
    return None if "site-packages" in parts or "dist-packages" in parts else where


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
        libc = version = ""
    if uname.sysname != "Linux" or libc != "glibc":
        import platform

        return platform.platform()
    return f"Linux-{uname.release}-{uname.machine}-with-glibc{version}"


# platform.python_implementation()'s names for sys.implementation's.
_IMPLEMENTATIONS = {"cpython": "CPython", "pypy": "PyPy", "ironpython": "IronPython",
                    "jython": "Jython", "graalpy": "GraalVM"}


def snapshot(secrets: SecretNames, secret_values: list[str], allowed: Iterable[str] = (),
             distributions: bool = True) -> dict[str, Any]:
    """Header `env`: runtime, platform, git commit, distributions, selected variables."""
    chosen, omitted = variables(secrets, secret_values, allowed)
    uname = os.uname()
    impl = _IMPLEMENTATIONS.get(sys.implementation.name, sys.implementation.name)
    version = sys.version.split()[0]  # what platform.python_version() reads
    env = {
        "os": uname.sysname,
        "platform": platform_name(),
        "machine": uname.machine,
        "runtime": f"{impl} {version}",
        "python": {"implementation": impl, "version": version,
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
