"""Starting the Python agent: the environment that starts it in any Python process, and the
zero-config switch that `orion start`/`stop` flip.
"""

from __future__ import annotations

import os
import site
import sys

from ..errors import OrionError
from ..lazyre import LazyPattern
from . import _BOOT_DIR
from .config import AgentConfig

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: every `orion run` imports this module (agent_env)
    from pathlib import Path

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


def site_dir(explicit: str | None = None) -> Path:
    """Where the zero-config .pth goes: the user site-packages, else this environment's."""
    from pathlib import Path  # here, as sysconfig below: `orion start` needs it, not `run`

    if explicit:
        return Path(explicit)
    if site.ENABLE_USER_SITE and sys.prefix == sys.base_prefix:
        return Path(site.getusersitepackages())
    import sysconfig

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


_BOOT_ARGS = LazyPattern(r"autostart\.boot\((?P<args>.*)\)\)\s*$")


def pth_settings(text: str) -> tuple[str | None, str | None, str | None]:
    """The mode, spool and ring a line written by `pth_line` boots the agent with, so that
    `orion status` can say how capture runs; Nones for an unknown line."""
    import ast  # here, as sysconfig in site_dir

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
