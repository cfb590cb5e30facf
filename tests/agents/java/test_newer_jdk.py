"""The agent on the newest JDK found here (25: virtual threads; sun.misc.Unsafe warns on
stderr since 24): virtual threads are lanes of their own (kind `virtual thread`, parented
by the thread that started them), and the program's stderr gains nothing but the JVM's
"Picked up JAVA_TOOL_OPTIONS" line (skipped without a JDK >= 24)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from .conftest import NEWEST_JDK, by_type, decoded, orion, plain_env, requires_jdk, without_jvm_notice

pytestmark = requires_jdk


JDK = NEWEST_JDK

VIRTUAL = """\
import java.util.ArrayList;
import java.util.List;

public class Virtual {
    static int work(int i) {
        return i * 2;
    }

    public static void main(String[] args) throws InterruptedException {
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            int n = i;
            threads.add(Thread.ofVirtual().name("vt-" + i).start(() -> work(n)));
        }
        for (Thread t : threads) {
            t.join();
        }
        System.out.println("done");
    }
}
"""


@pytest.mark.skipif(JDK is None, reason="no JDK 24 or later in /usr/lib/jvm")
def test_virtual_threads_are_lanes_and_stderr_stays_the_programs(tmp_path: Path) -> None:
    (tmp_path / "pom.xml").write_text("<project/>\n")  # a Java project: the agent is built
    (tmp_path / "Virtual.java").write_text(VIRTUAL)
    subprocess.run([str(JDK / "javac"), "-g", "-d", str(tmp_path), str(tmp_path / "Virtual.java")],
                   check=True)
    env = plain_env(PATH=f"{JDK}{os.pathsep}{os.environ['PATH']}")
    done = orion("run", "--spool", str(tmp_path / "spool"), "--mode", "dev", "--", "java", "-cp",
                 str(tmp_path), "Virtual", cwd=tmp_path, env=env)
    assert (done.returncode, done.stdout, without_jvm_notice(done.stderr)) == (0, "done\n", "")
    [trace] = (tmp_path / "spool").glob("*.otrace")
    assert orion("validate", str(trace), cwd=tmp_path).returncode == 0
    records = decoded(trace)
    lanes = {lane["id"]: lane["name"] for lane in by_type(records, "lane")}
    names = {f["id"]: f["name"] for f in by_type(records, "function")}
    working = {lanes[c["lane"]] for c in by_type(records, "call") if names[c["fn"]] == "Virtual.work"}
    assert working == {"vt-0", "vt-1", "vt-2"}
    [main] = [lane["id"] for lane in by_type(records, "lane") if lane["name"] == "main"]
    virtual = [lane for lane in by_type(records, "lane") if lane["name"].startswith("vt-")]
    assert {(lane["kind"], lane["parent"]) for lane in virtual} == {("virtual thread", main)}
