"""What a kill -9 leaves of a Java program's trace when the program has gone quiet: the
agent's flushing thread writes buffered events within ~100 ms, not only when a later event
comes (the sweep of random kills on a busy program is in tests/test_kill9.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ...trace_records import records_after_a_quiet_kill
from .conftest import by_type, plain_env, requires_jdk

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
    records = records_after_a_quiet_kill(["java", "-cp", str(tmp_path / "classes"), "Quiet"],
                                         tmp_path / "spool", cwd=tmp_path, env=plain_env())
    assert len(by_type(records, "call")) == CALLS + 1  # main and each step
