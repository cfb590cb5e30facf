"""`orion test` gives one trace per failing test in every mode, also after `orion init`
(whose config says `capture.mode = "dev"`), through the real CLI in a fresh project."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from orion.format.summary import read_summary

from .agent_helpers import records

TESTS = '''
def lookup(table, key):
    return table[key]

def test_ok():
    assert lookup({"a": 1}, "a") == 1

def test_missing_key():
    prices = {"apple": 3}
    assert lookup(prices, "pear") == 3

def test_wrong_sum():
    total = sum([1, 2])
    assert total == 4

def test_zero():
    ratio = 1 / 0

def test_type():
    lookup(None, "x")
'''
FAILING = ["test_app.py::test_missing_key", "test_app.py::test_wrong_sum",
           "test_app.py::test_zero", "test_app.py::test_type"]


def orion(*args: str, cwd, **extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORION_")}
    env.update(extra)
    return subprocess.run([sys.executable, "-m", "orion", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def project(tmp_path):
    (tmp_path / "test_app.py").write_text(TESTS)
    result = orion("init", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path


@pytest.mark.parametrize("mode", [None, "dev", "safe", "error"])
def test_one_trace_per_failing_test(project, mode):
    options = [] if mode is None else ["--mode", mode]  # None: the config's mode, dev
    # safe mode traces 1% of processes by default: a sampled-out one records nothing
    sampling = {"ORION_SAMPLE": "off"} if mode == "safe" else {}
    result = orion("test", "--json", *options, "--", sys.executable, "-m", "pytest", "-q",
                   "-p", "no:cacheprovider", cwd=project, **sampling)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stderr)
    tests = sorted(row["test"] for row in report["traces"] if row["test"] in FAILING)
    assert tests == sorted(FAILING)
    by_test = {row["test"]: row for row in report["traces"]}
    assert by_test["test_app.py::test_zero"]["exception"].startswith(
        "ZeroDivisionError: division by zero")
    assert by_test["test_app.py::test_type"]["fingerprint"].startswith("f1:")
    summary = read_summary(by_test["test_app.py::test_missing_key"]["path"])
    assert summary["test"] == {"id": "test_app.py::test_missing_key", "outcome": "failed",
                               "when": "call"}
    recs = records(by_test["test_app.py::test_missing_key"]["path"])
    names = {r["id"]: r["name"] for r in recs if r["type"] == "function"}
    (stack,) = [r for r in recs if r["type"] == "stack"]
    assert [names[f["fn"]] for f in stack["frames"][-2:]] == ["test_missing_key", "lookup"]
    (crash,) = [r for r in recs if r["type"] == "crash"]
    assert (crash["kind"], crash["reason"]) == ("test", "KeyError")
    locals_ = [f["locals"] for f in stack["frames"][-2:]]
    if (mode or "dev") == "safe":
        assert locals_ == [None, None]  # safe mode captures no values
    else:
        assert locals_[-1] == {"table": {"t": "dict", "entries": [["apple", 3]]}, "key": "pear"}
    if mode in (None, "dev", "safe"):  # the whole run is a trace too, named by each test's
        (run,) = [row for row in report["traces"] if row["test"] not in FAILING]
        assert summary["process_trace"] == run["trace_id"]
    else:
        assert len(report["traces"]) == len(FAILING)
