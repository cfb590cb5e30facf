"""`orion test -- mvn test` on the sample, whose build knows nothing of Orionis: the agent
reaches the JVM Surefire forks, its listener joins JUnit's launcher, and each failing test
gets a trace of its own, named `Class.method`, with the assertion's message and stack —
JUnit 5 tests and JUnit 4 tests run by the vintage engine alike."""

from __future__ import annotations

import json
from pathlib import Path

from ...vector_shapes import assert_matches_vectors
from .conftest import Project, by_type, decoded, line_of, orion, requires_jdk

pytestmark = requires_jdk

TEST = "test/java/com/example/inventory/OrdersTest.java"
CLASS = "com.example.inventory.OrdersTest"


def test_one_trace_per_failing_junit_test_with_the_build_tools_status(project: Project,
                                                                       tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    summary = tmp_path / "summary.json"
    done = orion("test", "--spool", str(spool), "--json", "--output", str(summary), "--",
                 "mvn", "-q", "-B", "test", cwd=project.root)
    assert project.plain_test.returncode == 1  # three of the sample's five tests fail
    assert done.returncode == project.plain_test.returncode, done.stderr
    assert "Corrupted" not in done.stdout + done.stderr  # Surefire's channel stays clean
    rows = {row["test"]: row for row in json.loads(summary.read_text())["traces"]}
    assert set(rows) == {f"{CLASS}.countsWhatIsLeft", f"{CLASS}.refusesAnOrderItCannotServe",
                         "com.example.inventory.LegacyStockTest.addsUp"}  # JUnit 4, vintage
    assert rows[f"{CLASS}.countsWhatIsLeft"]["exception"] == (
        "org.opentest4j.AssertionFailedError: pears left ==> expected: <4> but was: <3>")
    assert rows[f"{CLASS}.refusesAnOrderItCannotServe"]["exception"] == (
        "java.lang.IllegalStateException: not enough fig: short by 2")
    assert rows["com.example.inventory.LegacyStockTest.addsUp"]["exception"] == (
        "java.lang.AssertionError: kiwis expected:<5> but was:<4>")

    for row in rows.values():
        trace = Path(row["path"])
        assert orion("validate", str(trace), cwd=tmp_path).returncode == 0
        assert_matches_vectors(trace)
        records = decoded(trace)
        [end] = by_type(records, "end")
        assert end["status"] == "failed" and end["test"] == {"id": row["test"], "outcome": "failed"}
        assert records[0]["name"] == row["test"] and records[0]["window"] == "ring"

    records = decoded(Path(rows[f"{CLASS}.refusesAnOrderItCannotServe"]["path"]))
    fns = {f["id"]: f["name"] for f in by_type(records, "function")}
    assert [fns[c["fn"]] for c in by_type(records, "call")][:3] == [
        "OrdersTest.refusesAnOrderItCannotServe", "Inventory.<init>", "Orders.<init>"]
    [stack] = by_type(records, "stack")
    innermost = [(fns[f["fn"]], f["line"], f["locals"]) for f in stack["frames"]][-4:]
    assert innermost[0][:2] == ("OrdersTest.refusesAnOrderItCannotServe",
                                line_of('place("bob", List.of("fig"))', TEST))
    assert [name for name, _, _ in innermost[1:]] == ["Orders.place", "Orders.reserve",
                                                      "Inventory.remove"]
    assert innermost[-1][2]["item"] == "fig"
