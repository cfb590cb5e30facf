"""What the agent costs a JVM's start: class data sharing stays on (the agent joins the boot
class path through its manifest as the JVM starts, not later, and no -Xshare:off is needed),
nothing is added to stderr, and the agent loads a few dozen classes of its own, not the
thousand of a Byte Buddy installation. CPU figures are in benchmarks/RESULTS.md (a timed
test would only measure the machine's load)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .conftest import orion, plain_env, requires_jdk, without_jvm_notice

pytestmark = requires_jdk

HELLO = 'public class Hello { public static void main(String[] a) { System.out.println("hi"); } }\n'
MOST_AGENT_CLASSES = 120  # about 60 today, with the ASM it uses; Byte Buddy's setup loaded 1,136


def test_a_traced_hello_world_keeps_class_data_sharing_and_loads_few_classes(tmp_path: Path) -> None:
    (tmp_path / "pom.xml").write_text("<project/>\n")  # a Java project: the agent is built
    (tmp_path / "Hello.java").write_text(HELLO)
    subprocess.run(["javac", "-d", str(tmp_path), str(tmp_path / "Hello.java")], check=True)
    done = orion("run", "--spool", str(tmp_path / "spool"), "--mode", "error", "--", "java",
                 "-Xlog:class+load:file=" + str(tmp_path / "classes.log"), "-cp", str(tmp_path),
                 "Hello", cwd=tmp_path, env=plain_env())
    assert (done.returncode, done.stdout, without_jvm_notice(done.stderr)) == (0, "hi\n", "")
    loaded = (tmp_path / "classes.log").read_text().splitlines()
    assert any(" java.lang.Object source: shared objects file" in line for line in loaded)
    ours = [line for line in loaded if " dev.orionis.agent." in line]
    assert 10 < len(ours) <= MOST_AGENT_CLASSES, len(ours)
