"""Error mode's ring stays cheap (issue 14: at most 1.2x the plain run on the realistic
workload, benchmarks/RESULTS.md): getters, setters and record accessors are left
uninstrumented there (dev mode records them), and the ring reads the clock at every 8th
event of a lane, the events between sharing its time; the failing stack is whole."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .conftest import by_type, decoded, orion, plain_env, requires_jdk

pytestmark = requires_jdk

LEDGER = """\
public class Ledger {
    record Entry(String who, int cents) {
    }

    private int total;

    int total() {
        return total;
    }

    void add(Entry entry) {
        total += entry.cents();
    }

    static void check(Ledger ledger) {
        if (ledger.total() > 100) {
            throw new IllegalStateException("over budget");
        }
    }

    public static void main(String[] args) {
        Ledger ledger = new Ledger();
        for (int i = 0; i < 5; i++) {
            ledger.add(new Entry("ann", 30));
        }
        check(ledger);
    }
}
"""


def record(tmp_path: Path, mode: str) -> list[dict]:
    (tmp_path / "pom.xml").write_text("<project/>\n")  # a Java project: the agent is built
    (tmp_path / "Ledger.java").write_text(LEDGER)
    subprocess.run(["javac", "-g", "-d", str(tmp_path / "classes"), str(tmp_path / "Ledger.java")],
                   check=True)
    spool = tmp_path / f"spool-{mode}"
    done = orion("run", "--spool", str(spool), "--mode", mode, "--", "java", "-cp",
                 str(tmp_path / "classes"), "Ledger", cwd=tmp_path, env=plain_env())
    assert done.returncode == 1 and "over budget" in done.stderr
    [trace] = spool.glob("*.otrace")
    assert orion("validate", str(trace), cwd=tmp_path).returncode == 0
    return decoded(trace)


def called(records: list[dict]) -> set[str]:
    names = {f["id"]: f["name"] for f in by_type(records, "function")}
    return {names[call["fn"]] for call in by_type(records, "call")}


def test_error_mode_leaves_accessors_out_and_reads_the_clock_every_8th_event(tmp_path: Path) -> None:
    error = record(tmp_path, "error")
    assert called(error) == {"Ledger.main", "Ledger.<init>", "Ledger$Entry.<init>", "Ledger.add",
                             "Ledger.check"}
    names = {f["id"]: f["name"] for f in by_type(error, "function")}
    [stack] = by_type(error, "stack")
    assert [names[f["fn"]] for f in stack["frames"]] == ["Ledger.main", "Ledger.check"]
    times = [r["t"] for r in error if r["type"] in ("call", "return")]
    assert len(set(times)) <= len(times) // 8 + 1  # readings at events 1, 9, 17, ...
    assert called(record(tmp_path, "dev")) >= {"Ledger.total", "Ledger$Entry.cents"}
