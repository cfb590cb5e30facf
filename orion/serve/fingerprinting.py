"""The fingerprints of listed traces, computed in a child process at a low priority.

Fingerprinting reads a whole trace (about 4 s of CPU for a million events). On a thread
of the server it held the GIL against the requests of a page opening a trace, so a
1 M-event trace's first open took twice its CPU time in wall time. In a child process it
runs on another core, or after the server's work on a busy machine (it is niced), and
the memory it needs is not the server's.

The parent sends the traces (pickled: its own data) on the child's stdin and reads one
JSON line per trace back, in the same order, as each is done.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path
from typing import Iterator

from ..analysis.fingerprint import FingerprintCache, Fingerprints
from ..format.errors import TraceError

NICENESS = 10


class Fingerprinter:
    """A child process fingerprinting `traces` ((id, path, summary) each); `results()`
    yields (id, Fingerprints or None) as they come, `pause()` stops and resumes the
    child (SIGSTOP, SIGCONT), `stop()` ends it at once."""

    def __init__(self, spool_path: Path, traces: list[tuple[str, Path, dict]],
                 max_records: int) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL)
        try:
            pickle.dump((spool_path, max_records, traces), self._process.stdin)
            self._process.stdin.close()
        except OSError:  # the child died at start: results() yields nothing
            pass

    def results(self) -> Iterator[tuple[str, Fingerprints | None]]:
        for line in self._process.stdout:
            try:
                trace_id, structural, failure = json.loads(line)
            except ValueError:
                break
            yield trace_id, Fingerprints(structural, failure) if structural else None
        self._process.stdout.close()
        self._process.wait()

    def pause(self, paused: bool) -> None:
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGSTOP if paused else signal.SIGCONT)

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.kill()


def _serve_parent() -> None:
    """The child's side: fingerprint what the parent sent, one JSON line a trace."""
    try:
        os.nice(NICENESS)
    except OSError:
        pass
    spool_path, max_records, traces = pickle.load(sys.stdin.buffer)
    cache = FingerprintCache(spool_path)
    out = sys.stdout
    try:
        for trace_id, path, summary in traces:
            try:
                found = cache.get(trace_id, path, summary, max_records=max_records)
            except (TraceError, OSError, MemoryError):
                found = None
            answer = [trace_id, found.structural, found.failure] if found else [trace_id, None, None]
            out.write(json.dumps(answer) + "\n")
            out.flush()
    except BrokenPipeError:  # the server stopped: nothing more to say to it
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
    finally:
        cache.save()


if __name__ == "__main__":
    _serve_parent()
