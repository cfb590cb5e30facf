"""What a kill -9 leaves of a Node.js program's trace between its bursts of calls: a worker
thread of the agent writes the events within ~50 ms whatever the program's own thread does
next: a synchronous loop of calls, the event loop, Atomics.wait, a busy loop that makes no
call, a blocking system call. The sweep of random kills on a busy program is in
tests/test_kill9.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orion.format.decode import decode_records
from orion.format.errors import CorruptTrace
from orion.format.reader import TraceReader

from ...trace_records import by_type, decoded, records_after_a_quiet_kill

CALLS = 500
BOUND_MS = 100
SCHEDULING_SLACK_MS = 150  # a busy 2-core machine may run the program late

# 20 calls every 5 ms, never back in the event loop: 8,192 records (the size bound)
# take about a second to gather, far longer than the time bound.
TRICKLING_PROGRAM = """\
const pause = new Int32Array(new SharedArrayBuffer(4));
let total = 0;
function step(i) { total += i; }
console.log('ready');
for (let i = 0; ; i++) {
  step(i);
  if (i % 20 === 0) Atomics.wait(pause, 0, 0, 5);
}
"""

# Ways a program goes quiet after its last call: none of them runs the agent's code on the
# program's thread again.
GOING_QUIET = {
    "event loop": "setTimeout(() => {}, 3600 * 1000);",
    "Atomics.wait": "Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);",
    "busy loop": "for (;;) {}",
    "execSync": "require('child_process').execSync('sleep 3600');",
}


def quiet_program(going_quiet: str) -> str:
    return f"""\
let total = 0;
function step(i) {{ total += i; }}
for (let i = 0; i < {CALLS}; i++) step(i);
console.log('ready');
{going_quiet}
"""


def _run_and_kill(program: str, tmp_path: Path, after: float, mode: str = "dev"
                  ) -> tuple[list[dict], int]:
    """Runs `program` under orion run in `mode`, kills its whole process group `after`
    seconds after it said `ready`: the records on disk and the kill's wall-clock ns."""
    (tmp_path / "program.js").write_text(program)
    spool = tmp_path / "spool"
    process = subprocess.Popen(
        [sys.executable, "-m", "orion", "run", "--mode", mode, "--spool", str(spool), "--",
         "node", "program.js"], cwd=tmp_path, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert process.stdout.readline() == b"ready\n"
        time.sleep(after)
        killed_ns = time.time_ns()
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    [trace] = spool.glob("*.otrace")
    records = []
    with TraceReader(trace) as reader:
        try:
            for record in decode_records(reader.records()):
                records.append(record)
        except CorruptTrace:  # the frame being written when the kill came
            pass
    return records, killed_ns


def test_a_synchronous_loops_events_reach_the_disk_within_the_bound(tmp_path: Path) -> None:
    records, killed_ns = _run_and_kill(TRICKLING_PROGRAM, tmp_path, after=0.6)
    times = [r["t"] for r in records if "t" in r]
    assert times, "no event on disk"
    last_ns = records[0]["start_ns"] + max(times)
    loss_ms = (killed_ns - last_ns) / 1e6
    assert loss_ms <= BOUND_MS + SCHEDULING_SLACK_MS, f"last event {loss_ms:.0f} ms before the kill"


@pytest.mark.parametrize("way", GOING_QUIET)
def test_a_quiet_programs_events_reach_the_disk_before_a_kill(tmp_path: Path, way: str) -> None:
    (tmp_path / "program.js").write_text(quiet_program(GOING_QUIET[way]))
    records = records_after_a_quiet_kill(["node", "program.js"], tmp_path / "spool", cwd=tmp_path)
    assert len(by_type(records, "call")) == CALLS


def test_a_quiet_program_in_safe_mode_too(tmp_path: Path) -> None:
    records, _ = _run_and_kill(quiet_program(GOING_QUIET["Atomics.wait"]), tmp_path, after=0.3, mode="safe")
    assert len(by_type(records, "call")) == CALLS


# The writer alone, its worker just started: the records fill the 16 slots before the
# worker is up (the program's thread then writes the frames itself), one record is larger
# than a slot (a frame of its own), and every record's time must read back as written
# across the frames the two threads cut.
WRITER_SCRIPT = """\
const { TraceWriter } = require(process.argv[2]);
const { SharedFrames } = require(process.argv[3]);
const w = new TraceWriter(process.argv[4], { trace_id: '0'.repeat(32) },
  { live: new SharedFrames((error) => { throw error; }) });
const lane = w.laneId({ name: 'main', kind: 'thread', nativeId: 1, parent: null });
const fn = w.functionId({ name: 'f', module: 'm', file: 'm.js', line: 1 });
for (let i = 0; i < 300000; i++) {
  w.timed(i * 1000, [4, 0, lane, fn]);
  w.timed(i * 1000 + 500, [5, 0, lane]);
  if (i === 150000) w.sid('x'.repeat(300 * 1024));
}
w.close({ status: 'ok', trace_id: '0'.repeat(32) });
"""


def test_the_live_writers_records_read_back_in_order_with_their_times(tmp_path: Path) -> None:
    lib = Path(__file__).resolve().parents[3] / "agents" / "node" / "lib"
    script = tmp_path / "write.js"
    script.write_text(WRITER_SCRIPT)
    trace = tmp_path / "live.otrace"
    done = subprocess.run(["node", str(script), str(lib / "writer.js"), str(lib / "frames.js"),
                           str(trace)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    records = decoded(trace)
    times = [r["t"] for r in records if r["type"] in ("call", "return")]
    assert times == [t for i in range(300000) for t in (i * 1000, i * 1000 + 500)]
    assert any(r["type"] == "string" and len(r["text"]) == 300 * 1024 for r in records)
    assert records[-1]["type"] == "end" and records[-1]["counts"]["calls"] == 300000
