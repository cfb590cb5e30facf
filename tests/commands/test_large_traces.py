"""Commands on a trace of a million calls, each in a real subprocess under an address-space
limit: they must print what they print without holding the whole trace."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path
from typing import IO

import pytest

from orion.analysis.fingerprint import fingerprints
from orion.model import load_trace
from orion.spool import Spool
from ..sample_traces import write_large_trace

MB = 1024 * 1024
CALLS = 1_000_000


@pytest.fixture(scope="module")
def big_trace(tmp_path_factory) -> str:
    return write_large_trace(Spool(tmp_path_factory.mktemp("spool")), CALLS)


def run_limited(limit: int, *args: str, input: str | None = None, timeout: float = 120,
                stdout: IO | int = subprocess.PIPE) -> subprocess.CompletedProcess:
    """`orion ARGS` in a subprocess that cannot map more than `limit` bytes."""
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return subprocess.run([sys.executable, "-m", "orion", *args], input=input, stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=timeout, preexec_fn=cap)


def test_show_prints_the_failing_path_of_a_million_calls_in_256_mb(big_trace):
    # Building the whole tree took ~500 MB for this trace; what show draws needs ~30.
    result = run_limited(256 * MB, "show", big_trace, "--no-env")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"recorded   {CALLS - 1} calls on 1 lane(s)" in out
    assert "failed at  main › handle › validate (line 42)\n" in out
    assert "           app.py:14  handle\n           app.py:42  validate\n" in out
    # A handle whose parse raised (caught) is drawn, never folded into a run.
    assert "├─ handle(i=999)  → True" in out and "! caught ValueError: bad row 999" in out
    assert "│  ├─ handle ×998 more" in out
    assert out.splitlines()[-1].endswith("more calls not shown (use --all)")
    assert len(out.splitlines()) < 430


def test_replay_steps_back_from_the_end_of_a_million_calls_in_256_mb(big_trace):
    # The whole tree and its steps took ~600 MB; the index of steps (flat arrays, calls
    # decoded from their records when shown) takes ~100 MB here.
    script = "goto -1\nreverse-step 3\nlocals\nwhere\n"
    result = run_limited(256 * MB, "replay", big_trace, input=script)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    caught = (CALLS - 4) // 3 // 1000  # parse raises every 1000th handle
    events = 2 * (CALLS - 1) + 2 * caught + 2  # calls and returns, raised and caught, crash
    assert lines[0].startswith(f"[#{events - 1} of {events}] ✗ crash (uncaught): KeyError")
    assert lines[1].startswith(f"[#{events - 4} of {events}] ← validate")
    assert lines[2:] == ["locals of validate:", "  row = 'last'  (argument)",
                         "  fields = (7.0,)  (when it unwound at line 42)",
                         "#0 validate(row='last')  at app.py:42",
                         "#1 handle(i=-1)  at app.py:14", "#2 main()  at app.py:5"]


def test_show_json_of_a_million_calls_streams_in_256_mb(big_trace, tmp_path):
    # The whole tree took ~530 MB; the JSON is written as the index is walked.
    output = tmp_path / "show.json"
    with open(output, "w") as sink:
        result = run_limited(256 * MB, "show", big_trace, "--json", stdout=sink)
    assert result.returncode == 0, result.stderr
    name, handles, rest = '"name": "handle"', 0, ""
    with open(output) as text:
        head = text.read(12)
        while chunk := text.read(1 << 20):
            chunk = rest + chunk
            handles += chunk.count(name)
            rest = chunk[-(len(name) - 1):]  # a name cut in two is counted in the next
    assert head == '{"summary": '
    assert handles == (CALLS - 4) // 3 + 2  # the loop's, the last, and on the failing path
    with open(output, "rb") as text:
        text.seek(-200, 2)
        tail = text.read().decode()
    assert tail.endswith(']}], "exceptions": [], "events": [{"type": "crash", "t": '
                         f'{(CALLS - 4) // 3 * 10 + 7}, "kind": "uncaught", "reason": '
                         '"KeyError", "message": "\'id\'", "detail": {}}]}]}\n'), tail


def test_list_reads_a_million_calls_in_1_gb(big_trace):
    result = run_limited(1024 * MB, "list", "--spool", str(Path(big_trace).parent), "--json")
    assert result.returncode == 0, result.stderr
    [row] = json.loads(result.stdout)
    assert row["status"] == "failed" and row["counts"]["calls"] == CALLS - 1


def test_running_out_of_memory_is_one_line_naming_the_file_not_corruption(big_trace):
    # replay's index of a million calls needs ~100 MB: 80 MB is not enough. Near the limit
    # every allocation used to crawl through failing mmap calls (minutes, once), and the
    # reader's generator printed "Exception ignored" as it was collected: readers now stop
    # at a frame with room left, so the error comes at once and alone.
    result = run_limited(80 * MB, "replay", big_trace, input="goto -1\n", timeout=120)
    assert result.returncode == 2
    assert result.stderr == (
        f"orion: error: {big_trace}: ran out of memory reading it (no sign of a bad file: "
        "retry with more memory)\n")


def test_diff_of_a_million_calls_in_256_mb(big_trace, tmp_path):
    # Two whole trees took ~1 GB. Past TREE_MAX_CALLS, diff keeps each trace's eventful
    # calls (the failing path, the calls that caught) and counts the others per function.
    fewer = write_large_trace(Spool(tmp_path / "fewer"), CALLS - 30_000)
    result = run_limited(256 * MB, "diff", "--json", big_trace, fewer, timeout=300)
    assert result.returncode == 1, result.stderr
    shape = json.loads(result.stdout)
    assert shape["compared"] == "eventful"
    handles_a, handles_b = (CALLS - 4) // 3 + 1, (CALLS - 30_000 - 4) // 3 + 1
    calls = {d["function"]: (d["detail"]["a_calls"], d["detail"]["b_calls"])
             for d in shape["differences"] if d["kind"] == "calls"}
    assert calls == {"handle": (handles_a, handles_b), "parse": (handles_a - 1, handles_b - 1),
                     "store": (handles_a - 1, handles_b - 1)}
    # The handles whose parse raised and was caught, past B's last: only in A, each once.
    only_a = [d for d in shape["differences"] if d["kind"] == "only_a"]
    assert [d["a"]["args"] for d in only_a] == [{"i": i} for i in range(
        handles_b - 1 - (handles_b - 1) % 1000 + 999, handles_a - 1, 1000)]
    first = shape["first_divergence"]
    assert (first["kind"], first["parent"]) == ("only_a", "main")
    assert shape["counts"] == {"only_a": len(only_a), "calls": 3}


def test_fingerprint_of_a_million_calls_in_256_mb(big_trace, tmp_path):
    # The whole tree took ~530 MB; the fingerprints fold calls as they close and take the
    # failure from the failing path. The same program with fewer loop turns folds the same.
    small = write_large_trace(Spool(tmp_path / "small"), 10_000)
    expected = fingerprints(load_trace(small))
    result = run_limited(256 * MB, "fingerprint", big_trace, "--json")
    assert result.returncode == 0, result.stderr
    [row] = json.loads(result.stdout)
    assert (row["structural"], row["failure"]) == (expected.structural, expected.failure)


def test_test_summary_fingerprints_a_failing_run_of_a_million_calls_in_256_mb(tmp_path):
    # A run that leaves a million-call trace: its summary row had no fingerprint (too big
    # to load whole); it now comes from the failing path.
    spool = tmp_path / "spool"
    script = tmp_path / "big.py"
    script.write_text(f"import os, sys\nsys.path.insert(0, {str(Path(__file__).parents[2])!r})\n"
                      "from orion.spool import Spool\n"
                      "from tests.sample_traces import write_large_trace\n"
                      f"write_large_trace(Spool(os.environ['ORION_SPOOL']), {CALLS})\n")
    summary = tmp_path / "summary.json"
    result = run_limited(256 * MB, "test", "--spool", str(spool), "--json", "-o", str(summary),
                         "--", sys.executable, str(script), timeout=300)
    assert result.returncode == 0, result.stderr
    [row] = json.loads(summary.read_text())["traces"]
    small = write_large_trace(Spool(tmp_path / "small"), 10_000)
    assert row["outcome"] == "failed"
    assert row["fingerprint"] == fingerprints(load_trace(small)).failure
