"""The code the agent leaves out by default: the standard library and installed packages."""

from __future__ import annotations

import sys
import sysconfig

from orion.agent.filters import _norm, library_prefixes


def test_every_library_directory_sysconfig_names_is_left_out():
    prefixes = library_prefixes()
    # In a venv, platstdlib is the venv's own lib/pythonX.Y: it holds site-packages only.
    keys = ("stdlib", "purelib", "platlib") if sys.prefix != sys.base_prefix else \
        ("stdlib", "platstdlib", "purelib", "platlib")
    for key in keys:
        path = _norm(sysconfig.get_path(key))
        assert any(path.startswith(prefix) for prefix in prefixes), (key, path, prefixes)
