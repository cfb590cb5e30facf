"""Start the agent while the interpreter starts, when the environment or `orion start` asks.

Imported from the .pth file that `orion start` writes and from the sitecustomize that
`orion run` puts on PYTHONPATH; the .pth line itself checks ORION_MODE first, so a
process with capture off never imports this module.
"""

from __future__ import annotations

import os
import sys


def boot(mode: str | None = None, spool: str | None = None, ring: str | None = None) -> None:
    """Start tracing this process unless capture is off or it is an `orion` command;
    `ring` is error mode's ring as `orion start --ring` chose it (ORION_RING wins)."""
    mode = os.environ.get("ORION_MODE") or mode
    if not mode or mode == "off":
        return
    if _is_orion_itself() or os.environ.get("ORION_AGENT_SKIP"):
        return
    try:
        from . import start

        options = {}
        if ring and not os.environ.get("ORION_RING"):
            from .config import parse_ring

            options["ring"], options["sampled"] = parse_ring(ring)
        start(mode=mode, spool=os.environ.get("ORION_SPOOL") or spool, **options)
    except Exception as exc:  # never break the program because tracing failed
        if os.environ.get("ORION_DEBUG"):
            raise
        print(f"orion: agent not started: {exc}", file=sys.stderr)


def _is_orion_itself() -> bool:
    """`orion ...` or `python -m orion ...`: the tool reading traces is not traced."""
    argv0 = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if argv0 in ("orion", "orion.exe"):
        return True
    words = list(getattr(sys, "orig_argv", []))
    return any(a == "-m" and b == "orion" for a, b in zip(words, words[1:])) or "-morion" in words
