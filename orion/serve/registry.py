"""Where running `orion serve` processes listen, for `orion status`.

A server writes its address (never its token) to a small file named by its pid in the
user's data directory and removes it when it stops; a file left by a killed server is
ignored, since `orion status` asks only about live serve processes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..spool import user_data_dir


def _file(pid: int) -> Path:
    return user_data_dir() / "serve" / f"{pid}.json"


def register(url: str, spool: Path) -> None:
    path = _file(os.getpid())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"url": url, "spool": str(spool)}))
    except OSError:
        pass  # status then says only that it runs, not where


def unregister() -> None:
    _file(os.getpid()).unlink(missing_ok=True)


def url_of(pid: int) -> str | None:
    """The address the serve process `pid` listens on, if it said."""
    try:
        url = json.loads(_file(pid).read_text()).get("url")
    except (OSError, ValueError, AttributeError):
        return None
    return url if isinstance(url, str) else None
