"""`orion test -- mvn test` on projects with no JUnit Platform: JUnit 4 alone (Surefire's own
JUnit 4 provider) and TestNG (Surefire's TestNG provider). Neither build knows of Orionis;
each failing test still gets a trace of its own named `Class.method` with the assertion's
message and the failing stack, the summary lists each, and the exit status is Maven's."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ...vector_shapes import assert_matches_vectors
from .conftest import MVN, TIMEOUT, by_type, decoded, orion, plain_env, requires_jdk

pytestmark = requires_jdk

HERE = Path(__file__).resolve().parent
TEST_SOURCE = "src/test/java/com/example/ledger/LedgerTest.java"
CLASS = "com.example.ledger.LedgerTest"
# What each framework's assertEquals says of the same failed comparison.
ASSERTION = {"junit4": "java.lang.AssertionError: ann's balance expected:<5> but was:<4>",
             "testng": "java.lang.AssertionError: ann's balance expected [5] but found [4]"}


@pytest.mark.parametrize("framework", ["junit4", "testng"])
def test_failing_tests_get_traces_without_the_junit_platform(framework: str, tmp_path: Path) -> None:
    root = tmp_path / framework
    shutil.copytree(HERE / framework, root, ignore=shutil.ignore_patterns("target"))
    plain = subprocess.run([MVN, "-q", "-B", "test"], cwd=root, capture_output=True, text=True,
                           env=plain_env(), timeout=TIMEOUT)
    assert plain.returncode == 1, plain.stdout + plain.stderr  # two of the three tests fail
    spool, summary = tmp_path / "spool", tmp_path / "summary.json"
    done = orion("test", "--spool", str(spool), "--json", "--output", str(summary), "--",
                 "mvn", "-q", "-B", "test", cwd=root)
    assert done.returncode == plain.returncode, done.stderr
    assert "orion: " not in done.stderr.replace("orion: building", "")  # no warning of the agent's
    rows = {row["test"]: row for row in json.loads(summary.read_text())["traces"]}
    assert set(rows) == {f"{CLASS}.depositsAddUp", f"{CLASS}.transfersMoveMoney"}
    assert rows[f"{CLASS}.depositsAddUp"]["exception"] == ASSERTION[framework]
    assert rows[f"{CLASS}.transfersMoveMoney"]["exception"] == (
        "java.lang.IllegalStateException: overdrawn ann by 4")
    for row in rows.values():
        trace = Path(row["path"])
        assert orion("validate", str(trace), cwd=tmp_path).returncode == 0
        assert_matches_vectors(trace)
        records = decoded(trace)
        [end] = by_type(records, "end")
        assert end["status"] == "failed" and end["test"] == {"id": row["test"], "outcome": "failed"}
        assert records[0]["name"] == row["test"]

    # the exception several calls deep: the failing stack down to Ledger.withdraw, with its arguments
    records = decoded(Path(rows[f"{CLASS}.transfersMoveMoney"]["path"]))
    fns = {f["id"]: f["name"] for f in by_type(records, "function")}
    [stack] = by_type(records, "stack")
    innermost = [(fns[f["fn"]], f["line"], f["locals"]) for f in stack["frames"]][-3:]
    test_line = next(n for n, text in enumerate((root / TEST_SOURCE).read_text().splitlines(), 1)
                     if 'ledger.transfer("ann", "bob", 7)' in text)
    assert innermost[0][:2] == ("LedgerTest.transfersMoveMoney", test_line)
    assert [name for name, _, _ in innermost[1:]] == ["Ledger.transfer", "Ledger.withdraw"]
    assert innermost[-1][2]["account"] == "ann" and innermost[-1][2]["amount"] == 7
