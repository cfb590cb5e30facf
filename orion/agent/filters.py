"""Which code the agent traces: by default the program's own code, never the standard
library, site-packages or Orionis itself; module and path lists change that.

Decisions are made once per code object and cached by the tracer, so they may be slow.
"""

from __future__ import annotations

import os
import site
import sys

from .config import AgentConfig

_ORION_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _norm(path: str) -> str:
    return os.path.normcase(os.path.abspath(path)).rstrip(os.sep) + os.sep


def library_prefixes() -> tuple[str, ...]:
    """Directories holding the standard library and installed third-party packages."""
    # The standard library is where `os` came from (lib-dynload lies inside it); the
    # installed packages are site's. (sysconfig.get_path answers the same but expands its
    # install schemes each time: a sixth of the agent's start-up.)
    paths = {os.path.dirname(os.__file__)}
    try:
        paths.update(site.getsitepackages())
    except AttributeError:
        pass
    user = getattr(site, "USER_SITE", None)
    if user:
        paths.add(user)
    for entry in sys.path:
        if entry and os.path.basename(entry.rstrip(os.sep)) in ("site-packages", "dist-packages"):
            paths.add(entry)
    return tuple(sorted({_norm(p) for p in paths if p}))


def _module_match(module: str, names: list[str]) -> bool:
    return any(module == n or module.startswith(n + ".") for n in names)


class CodeFilter:
    def __init__(self, config: AgentConfig) -> None:
        self.include_modules = config.include_modules
        self.exclude_modules = config.exclude_modules
        self.include_paths = tuple(_norm(p) for p in config.include_paths)
        self.exclude_paths = tuple(_norm(p) for p in config.exclude_paths)
        self.library = library_prefixes()
        self.orion = _norm(_ORION_DIR)

    def is_orion(self, filename: str) -> bool:
        """Whether `filename` is part of Orionis itself."""
        return not filename.startswith("<") and _norm(filename).startswith(self.orion)

    def wanted(self, filename: str, module: str | None) -> bool:
        """Whether code from `filename` (in `module`) is traced."""
        if filename.startswith("<"):
            if filename.startswith("<frozen"):
                return module is not None and _module_match(module, self.include_modules)
            # generated code (namedtuple, dataclasses, exec): judged by its module's file
            home = getattr(sys.modules.get(module or ""), "__file__", None)
            if module and module.startswith("namedtuple_"):
                return _module_match(module, self.include_modules)
            path = _norm(home) if isinstance(home, str) else None
        else:
            path = _norm(filename)
        if path is not None and path.startswith(self.orion):
            return False
        if module is not None:
            if _module_match(module, self.exclude_modules):
                return False
            if _module_match(module, self.include_modules):
                return True
        if path is None:
            return True  # python -c, exec'd and generated code: the program's own
        if path.startswith(self.exclude_paths):
            return False
        if path.startswith(self.include_paths):
            return True
        return not path.startswith(self.library)
