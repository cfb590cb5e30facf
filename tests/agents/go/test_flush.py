"""What a kill -9 leaves of a Go program's trace when the program has gone quiet: events
are flushed within ~100 ms by a timer, not only when a later event comes (the sweep of
random kills on a busy program is in tests/test_kill9.py)."""

from __future__ import annotations

from pathlib import Path

from ...trace_records import records_after_a_quiet_kill
from .conftest import by_type, orion, plain_env, requires_go

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
    records = records_after_a_quiet_kill([str(module / "quiet")], tmp_path / "spool",
                                         env=plain_env())
    calls = by_type(records, "call")
    assert len(calls) == CALLS + 1  # main and each step
