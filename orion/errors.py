"""User-facing errors: the CLI prints them as one line and exits with status 2 (or the
status the error carries, e.g. 126/127 when a command cannot be run, as a shell says)."""

from __future__ import annotations


class OrionError(Exception):
    """A problem the user can fix (bad id, bad option value, unwritable spool...)."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code
