"""What a kill -9 leaves of a Java program's trace when the program has gone quiet: the
agent's flushing thread writes buffered events within ~100 ms, not only when a later event
comes (the sweep of random kills on a busy program is in tests/test_kill9.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from orion.format.errors import CorruptTrace

from .conftest import by_type, decoded, plain_env, requires_jdk

pytestmark = requires_jdk

CALLS = 500

QUIET_PROGRAM = f"""\
public class Quiet {{
    static long total;

    static void step(long i) {{
        total += i;
    }}

    public static void main(String[] args) throws InterruptedException {{
        for (long i = 0; i < {CALLS}; i++) {{
            step(i);
        }}
        System.out.println("ready");
        Thread.sleep(3_600_000);
    }}
}}
"""


def test_a_quiet_programs_events_reach_the_disk_before_a_kill(tmp_path: Path) -> None:
    (tmp_path / "pom.xml").write_text("<project/>\n")  # a Java project: the agent is built
    (tmp_path / "Quiet.java").write_text(QUIET_PROGRAM)
    subprocess.run(["javac", "-g", "-d", str(tmp_path / "classes"), str(tmp_path / "Quiet.java")],
                   check=True)
    spool = tmp_path / "spool"
    process = subprocess.Popen(
        [sys.executable, "-m", "orion", "run", "--mode", "dev", "--spool", str(spool), "--",
         "java", "-cp", str(tmp_path / "classes"), "Quiet"], stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, cwd=tmp_path, env=plain_env(), start_new_session=True)
    try:
        assert process.stdout.readline() == b"ready\n"
        time.sleep(0.3)  # the bound is ~100 ms; a busy machine may run the flusher late
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    [trace] = spool.glob("*.otrace")
    try:
        records = decoded(trace)
    except CorruptTrace as error:
        raise AssertionError(f"{trace}: {error}") from None
    assert len(by_type(records, "call")) == CALLS + 1  # main and each step
