"""`orion status`: capture state, spool counts, disk use, newest failures, serve."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from orion.cli import cli

from ..conftest import run_orion, write_trace


def status(*args: str):
    return CliRunner().invoke(cli, ["status", *args])


def incomplete_trace(spool) -> str:
    w = spool.open_writer(language="python")
    lane = w.lane("MainThread")
    w.call(10, lane, w.function("main", "app", "app.py", 1))
    w.flush()
    w.sink.close()  # killed before the end record
    return str(w.path)


def test_counts_failures_and_disk_use(spool, monkeypatch):
    monkeypatch.delenv("ORION_MODE", raising=False)
    write_trace(spool)
    failed = write_trace(spool, status="failed", exception=("KeyError", "'sku'"),
                         root="checkout")
    incomplete_trace(spool)
    result = status()
    assert result.exit_code == 0, result.output
    assert f"spool: {spool.path}\n" in result.output
    assert "traces: 3 total, 1 failed, 1 incomplete" in result.output
    failed_id = failed.split("-")[-1][:12]
    assert failed_id in result.output and "checkout KeyError" in result.output
    assert "serve: not running" in result.output  # tests/serve/test_command.py: running

    data = json.loads(status("--json").output)
    assert (data["total"], data["failed"], data["incomplete"]) == (3, 1, 1)
    total = sum(p.stat().st_size for p in spool.path.glob("*.otrace"))
    assert data["bytes"] == total
    assert [f["status"] for f in data["newest_failures"]] == ["incomplete", "failed"]
    assert data["serve"] == []


def test_says_how_capture_is_on(spool, monkeypatch):
    monkeypatch.setenv("ORION_MODE", "dev")
    assert "capture: on (ORION_MODE=dev" in status().output
    monkeypatch.setenv("ORION_MODE", "off")
    assert "capture: off (ORION_MODE=off" in status().output


def test_an_empty_spool(spool):
    result = status()
    assert result.exit_code == 0
    assert "traces: 0 total, 0 failed, 0 incomplete, 0 B" in result.output
    assert "newest failures" not in result.output


def test_says_the_mode_and_spool_orion_start_set(tmp_path, spool, monkeypatch):
    """`orion start` in a throwaway user site (never the real one): status names the mode
    and where the captured traces go, on the terminal and in --json."""
    monkeypatch.delenv("ORION_MODE", raising=False)
    monkeypatch.setenv("PYTHONUSERBASE", str(tmp_path / "userbase"))
    hook = json.loads(run_orion("status", "--json").stdout)["capture"]["pth"]
    if not hook.startswith(str(tmp_path)):
        pytest.skip("the hook would go to this environment's site-packages (a virtualenv)")
    target = (tmp_path / "traces").resolve()
    assert run_orion("start", "--mode", "error", "--spool", str(target)).returncode == 0
    assert (f"capture: on (orion start: error mode, sampled ring, traces to {target}; "
            f"hook {hook})\n" in run_orion("status").stdout)
    capture = json.loads(run_orion("status", "--json").stdout)["capture"]
    assert (capture["on"], capture["mode"], capture["spool"], capture["ring"]) == (
        True, "error", str(target), "sampled")
    assert run_orion("start", "--ring", "5000").returncode == 0
    assert json.loads(run_orion("status", "--json").stdout)["capture"]["ring"] == "5000"
    bad = run_orion("start", "--ring", "lots")
    assert bad.returncode == 2 and "bad ring 'lots'" in bad.stderr

    assert run_orion("start", "--mode", "dev").returncode == 0  # each process's own spool
    assert ("capture: on (orion start: dev mode, traces to each process's default spool;"
            in run_orion("status").stdout)
    assert run_orion("stop").returncode == 0
    capture = json.loads(run_orion("status", "--json").stdout)["capture"]
    assert (capture["on"], capture["mode"], capture["spool"]) == (False, None, None)
