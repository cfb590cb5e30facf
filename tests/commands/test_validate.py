"""`orion validate`: output shapes and exit codes 0 (valid), 1 (invalid), 2 (unreadable)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from orion.cli import cli
from tests.conftest import run_orion, write_trace

VECTORS = Path(__file__).resolve().parents[2] / "spec" / "vectors"
NORMAL = str(VECTORS / "normal.otrace")
TRUNCATED = str(VECTORS / "truncated.otrace")


def invoke(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, ["validate", *args], input=input)


def invalid_trace(spool) -> str:
    """A trace whose writer returned on a lane it never defined."""
    w = spool.open_writer(language="python")
    lane = w.lane("MainThread")
    w.call(10, lane, w.function("main", "app", "app.py", 1))
    w.ret(20, lane + 7)
    w.close(status="failed")
    return str(w.path)


def test_valid_traces_exit_0(spool):
    result = invoke(NORMAL, TRUNCATED)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert f"OK {NORMAL}" in lines and f"OK {TRUNCATED}" in lines
    assert f"{TRUNCATED}: warning: incomplete trace: the file ends inside a frame" in \
        result.output


def test_invalid_trace_exits_1_and_names_the_record(spool):
    path = invalid_trace(spool)
    result = invoke(NORMAL, path)
    assert result.exit_code == 1
    assert f"{path}: record 9 (return): lane 7 is not defined" in result.output.splitlines()
    assert f"OK {NORMAL}" in result.output and f"OK {path}" not in result.output


def test_unreadable_file_exits_2_after_checking_the_others(spool, tmp_path):
    bad = tmp_path / "bad.otrace"
    bad.write_bytes(b"\x28\xb5\x2f\xfd not a trace")
    result = run_orion("validate", str(bad), NORMAL, invalid_trace(spool))
    assert result.returncode == 2
    assert f"OK {NORMAL}" in result.stdout
    assert result.stderr.strip() == f"orion: error: {bad}: not an .otrace file (wrong magic)"
    assert "Traceback" not in result.stderr


def test_usage_errors_exit_2(spool):
    assert invoke().exit_code == 2
    missing = run_orion("validate", "missing.otrace")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    assert "no such file" in missing.stderr


def test_ids_and_stdin(spool):
    path = write_trace(spool)
    trace_id = Path(path).name.split("-")[1][:32]
    assert invoke(trace_id[:8]).output == f"OK {path}\n"
    assert invoke("@").exit_code == 0
    result = invoke("-", input=f"{path}\n{NORMAL}\n")
    assert result.output == f"OK {path}\nOK {NORMAL}\n"


def test_json_shape(spool):
    path = invalid_trace(spool)
    result = invoke("--json", NORMAL, path)
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report[0] == {"path": NORMAL, "valid": True, "readable": True, "problems": []}
    assert report[1]["valid"] is False and report[1]["readable"] is True
    assert report[1]["problems"][0] == {"record": 9, "type": "return", "severity": "error",
                                        "message": "lane 7 is not defined"}


def test_quiet_prints_nothing(spool):
    path = invalid_trace(spool)
    result = invoke("--quiet", path)
    assert (result.exit_code, result.output) == (1, "")
    assert invoke("-q", NORMAL).output == ""


def test_a_file_with_no_header_is_invalid(tmp_path):
    """Show and import refuse a file cut before its first frame was whole: it is not a
    valid trace, merely incomplete (exit 1, like any invalid trace)."""
    prelude_only = tmp_path / "prelude.otrace"
    prelude_only.write_bytes(Path(NORMAL).read_bytes()[:24])
    cut = tmp_path / "cut.otrace"
    cut.write_bytes(Path(NORMAL).read_bytes()[:40])
    for path in (prelude_only, cut):
        result = run_orion("validate", str(path))
        assert result.returncode == 1, result.stderr
        assert result.stdout == f"{path}: has no complete header frame (its writer died at once)\n"
        assert f"OK {path}" not in result.stdout
        assert run_orion("show", str(path)).returncode == 2
    report = json.loads(run_orion("validate", "--json", str(cut)).stdout)
    assert report[0]["valid"] is False and report[0]["readable"] is True
