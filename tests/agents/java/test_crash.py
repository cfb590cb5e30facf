"""A JVM that dies of a fatal error (SIGSEGV in the VM) under `orion run`: the JVM writes its
own report (hs_err_pid<pid>.log) and exits as it would untraced, and orion reads the report
back into a `crashed` trace with the crashing thread's Java frames."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .conftest import by_type, decoded, orion, plain_env, requires_jdk

pytestmark = requires_jdk

CRASH = """\
import java.lang.reflect.Field;
import sun.misc.Unsafe;

public class Crash {
    static void boom(long address) throws Exception {
        Field field = Unsafe.class.getDeclaredField("theUnsafe");
        field.setAccessible(true);
        ((Unsafe) field.get(null)).putAddress(address, 42);
    }

    public static void main(String[] args) throws Exception {
        System.out.println("about to crash");
        boom(0);
    }
}
"""


def test_a_fatal_jvm_error_becomes_a_crashed_trace_from_its_hs_err_report(tmp_path: Path) -> None:
    (tmp_path / "pom.xml").write_text("<project/>\n")  # a Java project: the agent is built
    (tmp_path / "Crash.java").write_text(CRASH)
    subprocess.run(["javac", "-g", "-d", str(tmp_path), str(tmp_path / "Crash.java")],
                   check=True, capture_output=True)
    plain = subprocess.run(["java", "-cp", str(tmp_path), "Crash"], cwd=tmp_path,
                           capture_output=True, text=True, env=plain_env())
    assert plain.returncode == -6 and "A fatal error has been detected" in plain.stdout  # SIGABRT
    for report in tmp_path.glob("hs_err_pid*.log"):
        report.unlink()
    spool = tmp_path / "spool"
    done = orion("run", "--spool", str(spool), "--mode", "error", "--", "java", "-cp",
                 str(tmp_path), "Crash", cwd=tmp_path)
    assert (done.returncode, done.stdout.splitlines()[0]) == (-6, "about to crash")  # as plain
    [report] = tmp_path.glob("hs_err_pid*.log")  # the JVM's own report, where it puts it
    [trace] = spool.glob("*.otrace")
    assert orion("validate", str(trace), cwd=tmp_path).returncode == 0
    records = decoded(trace)
    [end] = by_type(records, "end")
    assert end["status"] == "crashed"
    [crash] = by_type(records, "crash")
    assert crash["reason"] == "SIGSEGV" and crash["detail"]["report"] == str(report)
    names = {f["id"]: f["name"] for f in by_type(records, "function")}
    [stack] = by_type(records, "stack")
    assert [names[f["fn"]] for f in stack["frames"]][:2] == ["Crash.main", "Crash.boom"]
    assert not list(spool.glob(".*.jvm"))  # the sidecar is read and gone
