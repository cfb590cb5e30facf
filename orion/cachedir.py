"""The user's cache directory for what Orionis builds or computes once and reuses."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """$XDG_CACHE_HOME/orionis/<parts> (~/.cache when unset); not created here."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base, "orionis", *parts)
