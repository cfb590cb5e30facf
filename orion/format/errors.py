"""Errors raised while reading a trace; each message is one line a user can act on."""

from __future__ import annotations


class TraceError(Exception):
    """A file that cannot be read as a trace. `path` is filled in by the reader."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class NotATrace(TraceError):
    """Empty file, wrong magic, random bytes."""


class CorruptTrace(TraceError):
    """A frame or record that does not decode."""


class UnsupportedVersion(TraceError):
    """A file written by a newer major version of the format."""


class OutOfMemory(TraceError):
    """Reading the file needed more memory than the process could get: the trace may be
    fine, so this is never reported as corruption (nor its trace skipped silently)."""

    def __init__(self, path: str | None = None) -> None:
        super().__init__("ran out of memory reading it (no sign of a bad file: retry with "
                         "more memory)", path)
