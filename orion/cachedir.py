"""The user's cache directory for what Orionis builds or computes once and reuses."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only
    from pathlib import Path
    from typing import Iterable


def cache_root(*parts: str) -> str:
    """$XDG_CACHE_HOME/orionis/<parts> (~/.cache when unset); not created here. A str: a
    traced process looks in the cache as it ends, where importing pathlib costs more."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "orionis", *parts)


def cache_dir(*parts: str) -> Path:
    """cache_root as a Path."""
    from pathlib import Path

    return Path(cache_root(*parts))


def sources_digest(root: str | Path, files: Iterable[str | Path]) -> str:
    """What a build in the cache was made from (the files' names, sizes and contents): a
    build is reused while this stays the same. crc32s, not a cryptographic hash: a change
    needs noticing, not an adversary, and `orion run` checks it on every run, where
    importing hashlib would cost more than reading the files."""
    import zlib

    names = contents = 0
    for path in files:
        with open(path, "rb") as file:
            data = file.read()
        names = zlib.crc32(f"{os.path.relpath(path, root)}\0{len(data)}\0".encode(), names)
        contents = zlib.crc32(data, contents)
    return f"{names:08x}{contents:08x}"
