"""User-facing errors: the CLI prints them as one line and exits with status 2 (or the
status the error carries, e.g. 126/127 when a command cannot be run, as a shell says)."""

from __future__ import annotations

import os


class OrionError(Exception):
    """A problem the user can fix (bad id, bad option value, unwritable spool...)."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def debug_enabled() -> bool:
    """ORION_DEBUG=1: let a command's error escape with its traceback."""
    return os.environ.get("ORION_DEBUG", "") not in ("", "0")


def error_report(exc: Exception) -> tuple[str, int]:
    """How a command's failure is shown: its one line (after `orion: error: `) and the exit
    status. A user-facing error (OrionError, a file that is not a readable trace) says what
    it says; anything else is a bug, still one line unless debugging."""
    from .format.errors import TraceError

    if isinstance(exc, (OrionError, TraceError)):
        return str(exc), getattr(exc, "exit_code", 2)
    return (f"internal error: {type(exc).__name__}: {exc} "
            f"(run with ORION_DEBUG=1 for a traceback and please report it)"), 2
