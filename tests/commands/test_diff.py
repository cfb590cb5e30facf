"""`orion diff`: exit codes, views, --json shape, stdin ids, and two real runs."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from ..analysis.trees import node, write_tree
from ..conftest import invoke, run_orion


def two_traces(spool) -> tuple[str, str]:
    a = write_tree(spool, [node("main", node("load", value=1), node("total", value=3))])
    b = write_tree(spool, [node("main", node("load", value=1), node("discount", value=2))])
    return a, b


def test_same_and_different_exit_codes(spool):
    a, b = two_traces(spool)
    same = invoke("diff", a, a)
    assert same.exit_code == 0 and "no differences" in same.output
    different = invoke("diff", a, b)
    assert different.exit_code == 1
    out = different.output
    assert "first divergence in main: total — call only in A" in out
    assert "- total()  → 3" in out and "+ discount()  → 2" in out
    assert "@@ MainThread: main @@" in out


def test_side_by_side(spool):
    a, b = two_traces(spool)
    out = invoke("diff", "--side-by-side", a, b).output
    assert any(line.rstrip().endswith("<") for line in out.splitlines())
    assert any(" > discount()" in line for line in out.splitlines())


def test_json_shape(spool):
    a, b = two_traces(spool)
    shape = json.loads(invoke("diff", "--json", a, b).output)
    assert shape["version"] == 1 and shape["same"] is False
    assert set(shape) == {"version", "a", "b", "same", "matched_calls", "first_divergence",
                          "differences", "counts"}
    first = shape["first_divergence"]
    assert first["function"] == "total" and first["parent"] == "main"
    assert [f["function"] for f in first["a_stack"]] == ["main", "total"]
    assert [d["kind"] for d in shape["differences"]] == ["only_a", "only_b"]
    assert shape["counts"] == {"only_a": 1, "only_b": 1}


def test_ids_on_stdin_and_errors(spool):
    a, b = two_traces(spool)
    ids = "\n".join(e.trace_id for e in spool.entries()) + "\n"
    assert invoke("diff", "-", input=ids).exit_code == 1
    piped = run_orion("list", "--failed")  # none failed: nothing to diff
    assert piped.returncode == 1
    one = invoke("diff", a)
    assert one.exit_code == 2 and "diff compares two traces, got 1" in one.output
    for threshold in ("lots", "50", "-5%", "nan", "inf%"):
        bad = invoke("diff", a, b, "--time-threshold", threshold)
        assert bad.exit_code == 2 and "give a percentage" in bad.stderr, threshold
    for threshold in ("50%", "0.5", "1", "250%"):
        assert invoke("diff", a, b, "--time-threshold", threshold).exit_code == 1
    bad = invoke("diff", a, b, "--time-min", "xyz")
    assert bad.exit_code == 2 and "--time-min 'xyz' is not a duration" in bad.stderr


def test_pipeline_from_list(spool):
    write_tree(spool, [node("main", node("parse", raises=("ValueError", "x")), unwinds=True)])
    write_tree(spool, [node("main", node("parse", raises=("KeyError", "y")), unwinds=True)])
    listed = run_orion("list", "--failed")
    ids = "".join(listed.stdout.splitlines(keepends=True)[:2])
    result = run_orion("diff", "-", "--json", input=ids)
    assert result.returncode == 1, result.stderr
    assert run_orion("diff", "--json", input=ids).stdout == result.stdout  # `-` implied
    shape = json.loads(result.stdout)
    assert shape["first_divergence"]["kind"] == "exception"
    assert shape["first_divergence"]["function"] == "parse"


PROGRAM = textwrap.dedent("""
    import sys

    def parse(text):
        return float(text)

    def discount(total, rate):
        return total * (1 - rate)

    def small(total):
        return total

    def total(items, rate):
        s = sum(items)
        if s < 5:
            return small(s)
        return discount(s, rate)

    def main(arg, items):
        rate = parse(arg)
        return total(items, rate)

    print(main(sys.argv[1], [int(x) for x in sys.argv[2:]]))
""")


def test_two_real_runs_with_different_inputs(spool, tmp_path):
    """Recorded by the Python agent: the runs split inside total()."""
    app = tmp_path / "app.py"
    app.write_text(PROGRAM)
    for argv in (["0.5", "1", "2", "3"], ["0.5", "1", "2"]):
        recorded = subprocess.run([sys.executable, "-m", "orion.agent", str(app), *argv],
                                  capture_output=True, text=True, timeout=60)
        assert recorded.returncode == 0, recorded.stderr
    result = run_orion("diff", "@~1", "@", "--json", "--no-timing")
    assert result.returncode == 1, result.stderr
    shape = json.loads(result.stdout)
    first = shape["first_divergence"]
    assert first["parent"] == "total" and first["function"] == "discount"
    assert first["kind"] == "only_a"
    kinds = {(d["kind"], d["function"]) for d in shape["differences"]}
    assert ("only_b", "small") in kinds and ("args", "total") in kinds
    text = run_orion("diff", "@~1", "@", "--no-timing").stdout
    assert "first divergence in total: discount — call only in A" in text


EXITING = PROGRAM.replace("print(main(sys.argv[1], [int(x) for x in sys.argv[2:]]))\n", """
def run():
    print(main(sys.argv[1], [int(x) for x in sys.argv[2:]]))
    return 0

sys.exit(run())
""")


def test_passing_against_failing_run_of_a_script_that_calls_sys_exit(spool, tmp_path):
    """sys.exit(0) is how a script succeeds: the split is where parse() failed, not there."""
    app = tmp_path / "app.py"
    app.write_text(EXITING)
    for argv, status in ((["0.5", "1", "2", "3"], 0), (["5%", "1", "2", "3"], 1)):
        recorded = subprocess.run([sys.executable, "-m", "orion.agent", str(app), *argv],
                                  capture_output=True, text=True, timeout=60)
        assert recorded.returncode == status, recorded.stderr
    shape = json.loads(run_orion("diff", "@~1", "@", "--json", "--no-timing").stdout)
    first = shape["first_divergence"]
    assert (first["function"], first["kind"]) == ("parse", "outcome")
    fingerprints = json.loads(run_orion("fingerprint", "--json", "@~1", "@").stdout)
    assert fingerprints[0]["failure"] is None  # the passing run is no failure
    assert fingerprints[1]["failure"].startswith("f1:")
