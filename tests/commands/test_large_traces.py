"""Commands on a trace of a million calls, each in a real subprocess under an address-space
limit: they must print what they print without holding the whole trace."""

from __future__ import annotations

import base64
import json
import os
import random
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


@pytest.fixture(autouse=True)
def index_cache_of_its_own(tmp_path, monkeypatch):
    """Each test builds its index (kept in a cache directory of its own)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


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


def test_diff_of_two_big_traces_in_128_mb(tmp_path):
    # Two whole trees of 300,000 and 270,000 calls took ~300 MB. Past TREE_MAX_CALLS, diff
    # keeps each trace's eventful calls (the failing path, the calls that caught) and their
    # partners, and counts the others per function.
    calls_a, calls_b = 300_000, 270_000
    a = write_large_trace(Spool(tmp_path / "a"), calls_a)
    b = write_large_trace(Spool(tmp_path / "b"), calls_b)
    result = run_limited(128 * MB, "diff", "--json", a, b, timeout=300)
    assert result.returncode == 1, result.stderr
    shape = json.loads(result.stdout)
    assert shape["compared"] == "eventful"
    handles_a, handles_b = (calls_a - 4) // 3 + 1, (calls_b - 4) // 3 + 1
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


# -- a trace bigger than the memory a command may use -----------------------------------

BULKY_CALLS = 36_000
BLOB = 4_500  # bytes of random data per call, as base64: 6 KB that hardly compress


@pytest.fixture(scope="module")
def bulky_trace(tmp_path_factory) -> str:
    """A dev trace of ~160 MB on disk: `main` calls `upload(n, blob)` for random blobs,
    the last one fails (written with the real writer, in a few seconds)."""
    spool = Spool(tmp_path_factory.mktemp("bulky"))
    w = spool.open_writer(language="python", agent="orion-bulky", mode="dev")
    lane = w.lane("MainThread", "thread")
    main = w.function("main", "app", "app.py", 1)
    upload = w.function("upload", "app", "app.py", 10)
    noise = random.Random(7)
    t = 0
    w.call(t, lane, main, w.encode_pairs({}))
    for n in range(BULKY_CALLS):
        blob = base64.b64encode(noise.randbytes(BLOB)).decode()
        w.call(t + 1, lane, upload, w.encode_pairs({"n": n, "blob": blob}))
        w.ret(t + 2, lane, n)
        t += 3
    w.call(t + 1, lane, upload, w.encode_pairs({"n": -1, "blob": ""}))
    w.exception(t + 2, lane, "ValueError", "empty blob", line=12)
    w.unwind(t + 3, lane, 12, w.encode_pairs({"n": -1}))
    w.unwind(t + 4, lane, 3, w.encode_pairs({}))
    w.crash(t + 5, lane, "uncaught", "ValueError", "empty blob")
    w.close(status="failed", exit_code=1,
            exception={"type": "ValueError", "message": "empty blob"})
    return str(w.path)


def test_a_trace_bigger_than_the_memory_limit_is_listed_shown_and_replayed(bulky_trace):
    # The reader and the index used to map the whole file, so a trace bigger than the
    # address space left could not be read at all; frames are read through a window now.
    # (The same holds, scaled up, for an 835 MB dev trace under 1 GB: the index costs
    # ~32 bytes a step, never the file's size; see benchmarks/RESULTS.md.)
    size = os.path.getsize(bulky_trace)
    limit = 128 * MB
    assert size > limit
    listed = run_limited(limit, "list", "--spool", str(Path(bulky_trace).parent), "--json")
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert row["status"] == "failed" and row["counts"]["calls"] == BULKY_CALLS + 2
    shown = run_limited(limit, "show", bulky_trace, "--no-env")
    assert shown.returncode == 0, shown.stderr
    assert "failed at  main › upload (line 12)\n" in shown.stdout
    script = "goto -1\nreverse-step 2\nwhere\nlocals\n"
    replayed = run_limited(limit, "replay", bulky_trace, input=script)
    assert replayed.returncode == 0, replayed.stderr
    events = 2 * (BULKY_CALLS + 2) + 2
    assert replayed.stdout.splitlines()[1:] == [
        f"[#{events - 3} of {events}] ← upload  ✗ ValueError: empty blob (line 12)  · t="
        f"{(BULKY_CALLS * 3 + 3) / 1000:.1f}µs",
        "#0 upload(n=-1, blob='')  at app.py:12", "#1 main()  at app.py:3",
        "locals of upload:", "  n = -1  (argument)", "  blob = ''  (argument)"]
