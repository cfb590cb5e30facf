"""A trace's records in tests: decoded as `orion cat` gives them, picked by type, and
what reaches the disk before a kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from orion.format.decode import decode_records
from orion.format.errors import CorruptTrace
from orion.format.reader import TraceReader


def decoded(path: Path) -> list[dict]:
    with TraceReader(path) as reader:
        return list(decode_records(reader.records()))


def by_type(records: list[dict], kind: str) -> list[dict]:
    return [r for r in records if r["type"] == kind]


def records_after_a_quiet_kill(command: list[str], spool: Path, cwd: Path | None = None,
                               env: dict[str, str] | None = None,
                               wait: float = 0.3) -> list[dict]:
    """Run `command` under `orion run --mode dev`; once it prints `ready` (and goes quiet),
    kill its whole process group `wait` seconds later (the agents' bound is ~100 ms: a busy
    machine may run their flush late) and return the records that reached the disk. Nothing
    may be cut: the program made no call after its last flush."""
    process = subprocess.Popen(
        [sys.executable, "-m", "orion", "run", "--mode", "dev", "--spool", str(spool), "--",
         *command], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=cwd, env=env,
        start_new_session=True)
    try:
        assert process.stdout.readline().startswith(b"ready")
        time.sleep(wait)
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    [trace] = spool.glob("*.otrace")
    try:
        return decoded(trace)
    except CorruptTrace as error:
        raise AssertionError(f"{trace}: {error}") from None
