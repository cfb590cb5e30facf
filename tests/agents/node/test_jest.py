"""Jest from the npm registry (tests/agents/node/jest, installed by scripts/test with `npm ci`
from its package-lock.json): `orion test -- npm test` gives one trace per failing test,
named as Jest's report names it, with the assertion message and the failing frames, while
Jest's own report and exit status stay what they are without orion."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from ...vector_shapes import assert_matches_vectors
from .conftest import orion, plain, records, traces, validate

JEST_SAMPLE = Path(__file__).resolve().parent / "jest"

if not (JEST_SAMPLE / "node_modules" / "jest").is_dir():
    pytest.skip(f"needs Jest: npm ci in {JEST_SAMPLE} (scripts/test does)", allow_module_level=True)


@pytest.fixture
def jest_project(tmp_path: Path) -> Path:
    """The Jest sample's sources in a fresh directory, its installed node_modules linked."""
    target = tmp_path / "jest-project"
    shutil.copytree(JEST_SAMPLE, target, ignore=shutil.ignore_patterns("node_modules"))
    (target / "node_modules").symlink_to(JEST_SAMPLE / "node_modules", target_is_directory=True)
    return target


def _report(text: str) -> list[str]:
    """Jest's report without its timings, one block per test file, in order of name (Jest's
    workers finish the files in any order)."""
    text = re.sub(r"(Time:|\()\s*[\d.]+ m?s.*", "", text)
    return sorted(block.strip() for block in re.split(r"^(?=PASS |FAIL |Test Suites:)", text,
                                                     flags=re.MULTILINE))


def _by_name(spool: Path) -> dict[str, list[dict]]:
    found = {}
    for path in traces(spool):
        recs = records(path)
        found[recs[-1].get("name")] = recs
    return found


def _stack_names(recs: list[dict]) -> list[str]:
    names = {r["id"]: r["name"] for r in recs if r["type"] == "function"}
    [stack] = [r for r in recs if r["type"] == "stack"]
    return [names[f["fn"]] for f in stack["frames"]]


@pytest.mark.parametrize("mode", ["error", "dev"])
def test_one_trace_per_failing_jest_test(jest_project: Path, tmp_path: Path, mode: str) -> None:
    # error: Jest's transform cache filled by a run without orion first (the agent's modules
    # must not come from it uninstrumented); dev: an empty cache, so that Jest, without
    # timings of an earlier run, runs the tests in its worker processes
    cache = tmp_path / "jest-cache"
    command = ["npm", "test", "--", f"--cacheDirectory={cache}", "--maxWorkers=2"]
    bare = plain(*command, cwd=jest_project)
    if mode == "dev":
        shutil.rmtree(cache)
    spool = tmp_path / "spool"
    done = orion("test", "--mode", mode, "--json", "--spool", str(spool), "--", *command,
                 cwd=jest_project)
    assert done.returncode == bare.returncode == 1
    assert done.stdout == bare.stdout
    summary_at = re.search(r"^\{$", done.stderr, re.MULTILINE).start()  # orion test's --json
    assert _report(done.stderr[:summary_at]) == _report(bare.stderr)  # code frames and all

    listed = json.loads(done.stderr[summary_at:])
    assert sorted(t["test"] for t in listed["traces"] if t["outcome"] == "failed") == [
        "Cart › refuses a negative price", "Cart › totals the basket", "checkout with a coupon"]
    validate(traces(spool), jest_project)
    failed = {name: recs for name, recs in _by_name(spool).items()
              if name is not None and recs[-1].get("test")}
    for path in traces(spool):
        assert_matches_vectors(path)
    for recs in failed.values():
        assert recs[-1]["test"]["file"] == os.path.join("__tests__", "cart.test.js")
        if mode == "dev":  # no timings from an earlier run: Jest's workers ran the tests
            assert any("jest-worker" in arg for arg in recs[0]["process"]["argv"])

    assertion = failed["Cart › totals the basket"][-1]["exception"]
    assert "Expected: 4" in assertion["message"] and "Received: 3" in assertion["message"]

    thrown = failed["Cart › refuses a negative price"]
    assert _stack_names(thrown) == ["<anonymous>", "Cart.add"]
    [stack] = [r for r in thrown if r["type"] == "stack"]
    assert stack["frames"][1]["locals"] == {"name": "tea", "price": -3}

    rejected = failed["checkout with a coupon"]
    assert _stack_names(rejected) == ["<anonymous>", "checkout", "lookup"]
    [stack] = [r for r in rejected if r["type"] == "stack"]
    assert stack["frames"][1]["locals"]["coupon"] == "FREE"
    assert stack["frames"][1]["locals"]["password"] == {"t": "string", "redacted": True}
    if mode == "error":
        calls = [r for r in rejected if r["type"] == "call"]
        assert len(calls) >= 4  # the test's own calls, from the ring: Cart, add, checkout...
        # the exception is raised in the frame that threw, so readers find where it began
        [path] = [p for p in traces(spool) if "Cart › refuses" in records(p)[-1].get("name", "")]
        shown = orion("show", str(path), cwd=jest_project).stdout
        assert "failed at  <anonymous> › Cart.add" in shown
