"""`orion fingerprint` and fingerprints in `orion list`."""

from __future__ import annotations

import json

from ..analysis.test_fingerprint import failing_checkout, program
from ..analysis.trees import write_tree
from ..conftest import invoke, run_orion


def test_fingerprint_lines_json_and_explain(spool):
    a = write_tree(spool, program(2, 3))
    b = write_tree(spool, program(5, 8, value=7))
    lines = invoke("fingerprint", a, b).output.splitlines()
    assert len(lines) == 2 and lines[0].split()[1] == lines[1].split()[1]
    assert lines[0].split()[2] == "-"
    rows = json.loads(invoke("fingerprint", "--json", a).output)
    assert rows[0]["structural"].startswith("s1:") and rows[0]["failure"] is None
    explained = invoke("fingerprint", "--explain", a).output
    assert "algorithm s1" in explained and "app:countdown" in explained
    assert "did not fail" in explained


def test_pipeline_from_list_failed(spool):
    write_tree(spool, program(1, 1))
    write_tree(spool, failing_checkout("pen", 1))
    write_tree(spool, failing_checkout("book", 4))
    ids = run_orion("list", "--failed").stdout
    result = run_orion("fingerprint", "-", "--failure", input=ids)
    assert result.returncode == 0, result.stderr
    values = {line.split()[1] for line in result.stdout.splitlines()}
    assert len(result.stdout.splitlines()) == 2 and len(values) == 1


def test_list_column_filter_and_group_by(spool):
    write_tree(spool, program(1, 1))
    write_tree(spool, program(3, 2))
    write_tree(spool, failing_checkout("pen", 1))
    write_tree(spool, failing_checkout("book", 4))
    table = invoke("list", "--format", "table").output.splitlines()
    assert "FINGERPRINT" in table[0].split()
    groups = json.loads(invoke("list", "--group-by", "fingerprint", "--json").output)
    assert sorted(g["count"] for g in groups) == [2, 2]
    failure = next(g["fingerprint"] for g in groups if g["fingerprint"].startswith("f1:"))
    assert invoke("list", "--fingerprint", failure[:9]).output.count("\n") == 2
    assert invoke("list", "--fingerprint", failure[3:12]).output.count("\n") == 2
    assert invoke("list", "--fingerprint", "s1:").output.count("\n") == 4  # all have one
    assert invoke("list", "--fingerprint", "ffffffffff").exit_code == 1
    text = invoke("list", "--group-by", "fingerprint", "--format", "table").output
    assert text.splitlines()[0].split()[:2] == ["COUNT", "FINGERPRINT"]
    assert (spool.path / ".cache" / "fingerprints-v3.json").is_file()
    assert len(invoke("list").output.split()) == 4  # the cache is never listed
