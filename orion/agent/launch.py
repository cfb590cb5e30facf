"""Running programs under the agent: the environment that starts it in any Python process,
`orion run`'s child process, and the zero-config switch that `orion start`/`stop` flip.
"""

from __future__ import annotations

import ast
import os
import re
import signal
import site
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import NoReturn

from ..errors import OrionError
from . import _BOOT_DIR
from .config import AgentConfig
from .crashes import is_sidecar, recover

PTH_NAME = "orionis-agent.pth"


def agent_env(config: AgentConfig, base: dict | None = None) -> dict[str, str]:
    """The environment that makes a Python process (and its children) trace itself."""
    env = dict(os.environ if base is None else base)
    for key in ("ORION_INCLUDE", "ORION_EXCLUDE", "ORION_PARENT", "ORION_REPORT"):
        env.pop(key, None)
    env.update(config.to_env())
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != _BOOT_DIR]
    env["PYTHONPATH"] = os.pathsep.join([_BOOT_DIR, *paths])
    return env


def run_traced(command: list[str], config: AgentConfig) -> tuple[int, list[str]]:
    """Run `command` with tracing on; return its status as subprocess reports it (-N when
    signal N killed it) and the traces written, including those of processes that died
    before they could close them (a fault in C code, SIGKILL)."""
    if not command:
        raise OrionError("give the command to run after --, e.g. orion run -- python app.py")
    fd, report = tempfile.mkstemp(prefix="orion-run-", suffix=".txt")
    os.close(fd)
    config.report = report
    env = agent_env(config)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # the child gets ^C itself
    try:
        try:
            status = subprocess.call(command, env=env)
        except FileNotFoundError:
            raise OrionError(f"command not found: {command[0]}") from None
        except PermissionError:
            raise OrionError(f"cannot execute {command[0]}") from None
        with open(report) as f:
            reported = [line.strip() for line in f if line.strip()]
    finally:
        signal.signal(signal.SIGINT, previous)
        os.unlink(report)
    written = [path for path in reported if not is_sidecar(path)]
    written += recover(path for path in reported if is_sidecar(path))
    return status, list(dict.fromkeys(written))


def shell_status(status: int) -> int:
    """The status a shell shows for a child: 128+N when signal N killed it."""
    return 128 - status if status < 0 else status


def exit_like(status: int) -> NoReturn:
    """End this process the way the child ended, so that whoever waits for us (a shell, a
    CI runner, a test harness calling waitpid) cannot tell `orion run` from the program:
    the same exit code, or death by the same signal (without a second core dump)."""
    if status < 0:
        sys.stdout.flush()
        sys.stderr.flush()
        signum = -status
        try:
            import resource

            resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
        except (ImportError, ValueError, OSError):
            pass
        if signum not in (signal.SIGKILL, signal.SIGSTOP):  # these cannot be caught or blocked
            signal.signal(signum, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [signum])
        os.kill(os.getpid(), signum)
    sys.exit(shell_status(status))


def site_dir(explicit: str | None = None) -> Path:
    """Where the zero-config .pth goes: the user site-packages, else this environment's."""
    if explicit:
        return Path(explicit)
    if site.ENABLE_USER_SITE and sys.prefix == sys.base_prefix:
        return Path(site.getusersitepackages())
    return Path(sysconfig.get_path("purelib"))


def _import_dirs() -> list[str]:
    """Directories the agent imports from (orion, msgpack, zstandard): a user-site .pth runs
    before the other site directories are on sys.path, so it adds what it needs."""
    import msgpack
    import zstandard

    from .. import __file__ as orion_init

    dirs = []
    for init in (orion_init, msgpack.__file__, zstandard.__file__):
        directory = os.path.dirname(os.path.dirname(os.path.abspath(init)))
        if directory not in dirs:
            dirs.append(directory)
    return dirs


def pth_line(mode: str | None, spool: str | None, ring: str | None = None) -> str:
    """One .pth line: checks ORION_MODE (cheap) and imports the agent only when capture is on."""
    default = repr(mode or "")
    return ("import os, sys; os.environ.get('ORION_MODE', %s) not in ('', 'off') and "
            "(sys.path.extend(d for d in %r if d not in sys.path), "
            "__import__('orion.agent.autostart').agent.autostart.boot(%r, %r, %r))\n"
            % (default, _import_dirs(), mode, spool, ring))


_BOOT_ARGS = re.compile(r"autostart\.boot\((?P<args>.*)\)\)\s*$")


def pth_settings(text: str) -> tuple[str | None, str | None, str | None]:
    """The mode, spool and ring a line written by `pth_line` boots the agent with, so that
    `orion status` can say how capture runs; Nones for an unknown line."""
    match = _BOOT_ARGS.search(text)
    try:
        values = ast.literal_eval(f"({match['args']},)") if match else ()
    except (ValueError, SyntaxError, TypeError):
        values = ()
    values = tuple(v if isinstance(v, str) else None for v in values[:3])
    return values + (None,) * (3 - len(values))


def switch(on: bool, mode: str = "error", spool: str | None = None,
           site_path: str | None = None, ring: str | None = None) -> Path:
    """Turn zero-config capture on (mode, spool, error mode's ring) or off; returns the
    .pth file written.

    Off keeps a hook that only reads ORION_MODE, so the variable still works per process.
    """
    directory = site_dir(site_path)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / PTH_NAME
        text = pth_line(mode, spool, ring) if on else pth_line(None, None)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError as exc:
        raise OrionError(f"cannot write {directory / PTH_NAME}: {exc.strerror or exc}") from None
    return path


def status(site_path: str | None = None) -> dict:
    """Whether zero-config capture is on, and the mode, spool and ring `orion start` set (a
    None spool: each process resolves its own)."""
    path = site_dir(site_path) / PTH_NAME
    try:
        text = path.read_text()
    except OSError:
        return {"on": False, "pth": str(path), "installed": False, "mode": None, "spool": None,
                "ring": None}
    mode, spool, ring = pth_settings(text)
    return {"on": "ORION_MODE', ''" not in text, "pth": str(path), "installed": True,
            "mode": mode, "spool": spool, "ring": ring}
