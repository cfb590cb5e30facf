"""User-facing errors: the CLI prints them as one line and exits with status 2."""

from __future__ import annotations


class OrionError(Exception):
    """A problem the user can fix (bad id, bad option value, unwritable spool...)."""
