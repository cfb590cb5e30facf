"""`orion clean`: selection, confirmation, dry runs, stale temporaries and refusals."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

from orion.cleaning import stamp_ns

from ..conftest import invoke as orion, read_until_closed, run_orion, write_trace

HOUR = 3600 * 10**9
DAY = 24 * HOUR


def ids(spool) -> set[str]:
    return {e.trace_id for e in spool.entries()}


def trace_id_of(path: str) -> str:
    return Path(path).stem.split("-")[1]


def aged(spool, days: float, **options) -> str:
    return trace_id_of(write_trace(spool, start_ns=time.time_ns() - int(days * DAY), **options))


def test_no_selector_is_refused(spool):
    write_trace(spool)
    result = orion("clean", "--yes")
    assert result.exit_code == 2
    assert "say what to delete: --older-than, --keep, --failed, --ok or --all" in result.stderr
    assert len(spool.entries()) == 1


def test_older_than(spool):
    old, recent = aged(spool, 10), aged(spool, 1)
    result = orion("clean", "--older-than", "7d", "--yes")
    assert result.exit_code == 0, result.output
    assert ids(spool) == {recent}
    assert "deleted 1 trace(s)" in result.stderr
    assert old not in result.stdout


def test_keep_newest_n_of_the_selected(spool):
    made = [aged(spool, days) for days in (5, 4, 3, 2, 1)]
    result = orion("clean", "--keep", "2", "--yes")
    assert result.exit_code == 0
    assert ids(spool) == set(made[-2:])
    orion("clean", "--keep", "0", "--older-than", "36h", "--yes")
    assert ids(spool) == {made[-1]}


def test_failed_and_ok_use_the_shared_filters(spool):
    ok = aged(spool, 1)
    failed = aged(spool, 1, status="failed", exception=("KeyError", "k"))
    assert orion("clean", "--failed", "--yes").exit_code == 0
    assert ids(spool) == {ok}
    aged(spool, 1, status="failed", exception=("KeyError", "k"))
    assert orion("clean", "--ok", "--yes").exit_code == 0
    assert ok not in ids(spool) and failed not in ids(spool) and len(ids(spool)) == 1
    assert orion("clean", "--failed", "--ok", "--yes").exit_code == 2


def test_filters_narrow_all_and_keep(spool):
    python_old = aged(spool, 3)
    go_old = aged(spool, 3, language="go")
    go_new = aged(spool, 1, language="go")
    assert orion("clean", "--all", "--lang", "go", "--keep", "1", "--yes").exit_code == 0
    assert ids(spool) == {python_old, go_new}
    assert go_old not in ids(spool)


def test_all(spool):
    for _ in range(3):
        write_trace(spool)
    result = orion("clean", "--all", "--yes", "--json")
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert summary["count"] == 3 and summary["dry_run"] is False
    assert summary["bytes"] == sum(t["bytes"] for t in summary["traces"]) > 0
    assert spool.entries() == []


def test_dry_run_lists_and_keeps(spool):
    paths = [write_trace(spool) for _ in range(2)]
    result = orion("clean", "--all", "--dry-run")
    assert result.exit_code == 0
    assert sorted(result.stdout.split()) == sorted(paths)
    assert "would delete 2 trace(s)" in result.stderr
    assert len(spool.entries()) == 2
    as_json = json.loads(orion("clean", "--all", "-n", "--json").stdout)
    assert as_json["dry_run"] is True and as_json["count"] == 2
    assert {t["id"] for t in as_json["traces"]} == ids(spool)


def test_without_terminal_and_without_yes_it_refuses(spool):
    write_trace(spool)
    result = orion("clean", "--all")
    assert result.exit_code == 2
    assert "--yes" in result.stderr
    assert len(spool.entries()) == 1


def test_nothing_to_delete(spool):
    aged(spool, 1)
    result = orion("clean", "--older-than", "7d")
    assert result.exit_code == 0
    assert "nothing to delete" in result.stderr
    assert len(spool.entries()) == 1


def test_stale_temporaries_go_fresh_ones_stay(spool):
    write_trace(spool)
    stale = spool.path / ".20260101T000000000000Z-abc.otrace.tmp"
    fresh = spool.path / ".20260101T000000000001Z-def.otrace.123.tmp"
    stale.write_bytes(b"half a trace")
    fresh.write_bytes(b"being written")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    result = orion("clean", "--older-than", "30d", "--yes", "--json")
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert summary["temporaries"] == [{"id": None, "path": str(stale), "bytes": 12}]
    assert summary["count"] == 0
    assert not stale.exists() and fresh.exists() and len(spool.entries()) == 1


def test_unreadable_traces_go_by_age_but_filters_keep_them(spool):
    junk = spool.path / "20200101T000000000000Z-0123456789abcdef0123456789abcdef.otrace"
    spool.path.mkdir(parents=True, exist_ok=True)
    junk.write_bytes(b"garbage")
    result = orion("clean", "--failed", "--yes")
    assert result.exit_code == 0
    assert "keeping unreadable" in result.stderr and junk.exists()
    assert orion("clean", "--older-than", "1d", "--yes").exit_code == 0
    assert not junk.exists()


def test_bad_duration_is_a_usage_error(spool):
    result = orion("clean", "--older-than", "soon", "--yes")
    assert result.exit_code == 2
    assert "not a duration" in result.stderr


def test_stamp_ns_reads_spool_names():
    assert stamp_ns("19700101T000001000002") == 1_000_002_000


def run_in_terminal(args: list[str], answer: bytes, env: dict) -> tuple[int, bytes]:
    """Run orion with stdin, stdout and stderr on a pseudo-terminal and type `answer`."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "orion", *args], stdin=follower,
                            stdout=follower, stderr=follower, env={**os.environ, **env})
    os.close(follower)
    shown = b""
    try:
        while b"[y/N]" not in shown:
            chunk = os.read(leader, 4096)
            if not chunk:
                break
            shown += chunk
        os.write(leader, answer)
        shown = read_until_closed(leader, shown)
    finally:
        os.close(leader)
    return proc.wait(timeout=60), shown


def test_terminal_asks_first(spool):
    write_trace(spool)
    write_trace(spool)
    env = {"ORION_SPOOL": str(spool.path)}
    status, shown = run_in_terminal(["clean", "--all"], b"n\n", env)
    assert b"Delete 2 trace(s)" in shown
    assert status == 1 and len(spool.entries()) == 2
    status, shown = run_in_terminal(["clean", "--all"], b"y\n", env)
    assert status == 0 and spool.entries() == []


def test_progress_bar_on_a_terminal_only(spool):
    for _ in range(6):
        write_trace(spool)
    env = {"ORION_SPOOL": str(spool.path)}
    status, shown = run_in_terminal(["clean", "--all"], b"y\n", env)
    assert status == 0 and b"deleting" in shown and b"6/6" in shown
    for _ in range(6):
        write_trace(spool)
    piped = run_orion("clean", "--all", "--yes")
    assert piped.returncode == 0 and "deleting" not in piped.stderr


def test_real_process_exit_codes(spool):
    write_trace(spool)
    assert run_orion("clean").returncode == 2
    assert run_orion("clean", "--all").returncode == 2  # no terminal, no --yes
    assert run_orion("clean", "--all", "--yes").returncode == 0
    assert spool.entries() == []
