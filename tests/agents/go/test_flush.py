"""What a kill -9 leaves of a Go program's trace when the program has gone quiet: events
are flushed within ~100 ms by a timer, not only when a later event comes (the sweep of
random kills on a busy program is in tests/test_kill9.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from orion.format.errors import CorruptTrace

from .conftest import by_type, decoded, orion, plain_env, requires_go

pytestmark = requires_go

CALLS = 500

QUIET_PROGRAM = f"""\
package main

import (
	"fmt"
	"time"
)

var total int

func step(i int) {{ total += i }}

func main() {{
	for i := 0; i < {CALLS}; i++ {{
		step(i)
	}}
	fmt.Println("ready")
	time.Sleep(time.Hour)
}}
"""


def test_a_quiet_programs_events_reach_the_disk_before_a_kill(tmp_path: Path) -> None:
    module = tmp_path / "quiet"
    module.mkdir()
    (module / "go.mod").write_text("module example.com/quiet\n\ngo 1.21\n")
    (module / "main.go").write_text(QUIET_PROGRAM)
    done = orion("run", "--spool", str(tmp_path / "build"), "--", "go", "build", "-o", "quiet",
                 ".", cwd=module)
    assert done.returncode == 0, done.stderr
    spool = tmp_path / "spool"
    process = subprocess.Popen(
        [sys.executable, "-m", "orion", "run", "--mode", "dev", "--spool", str(spool), "--",
         str(module / "quiet")], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env=plain_env(), start_new_session=True)
    try:
        assert process.stdout.readline() == b"ready\n"
        time.sleep(0.3)  # the bound is ~100 ms; a busy machine may run the timer late
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    [trace] = spool.glob("*.otrace")
    try:
        records = decoded(trace)
    except CorruptTrace as error:
        raise AssertionError(f"{trace}: {error}") from None
    calls = by_type(records, "call")
    assert len(calls) == CALLS + 1  # main and each step
