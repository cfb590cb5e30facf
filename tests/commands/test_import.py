"""`orion import`: validation first, then an atomic copy named by trace id and start time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orion.format.writer import TraceWriter
from orion.spool import Spool, trace_filename

from ..conftest import invoke as orion, run_orion, write_trace

START = 1_700_000_000_123_456_000


@pytest.fixture
def elsewhere(tmp_path) -> Spool:
    """Another machine's spool, where the files to import come from."""
    return Spool(tmp_path / "elsewhere")


def trace_id_of(path: str | Path) -> str:
    return Path(path).stem.split("-")[1]


def incomplete_trace(path: Path) -> str:
    """A trace whose program died: frames on disk, no end record, no trailer."""
    with open(path, "wb") as sink:
        w = TraceWriter(sink, language="python", start_ns=START)
        lane = w.lane("MainThread")
        w.call(10, lane, w.function("main", "app", "app.py", 1))
        w.flush()
    return w.trace_id


def corrupt_copy(source: str, target: Path) -> Path:
    """The trace with a byte flipped inside its first zstd frame (checksum mismatch)."""
    data = bytearray(Path(source).read_bytes())
    data[60] ^= 0xFF
    target.write_bytes(bytes(data))
    return target


def test_imports_under_id_and_start_time(spool, elsewhere):
    source = write_trace(elsewhere, start_ns=START, status="failed",
                         exception=("ValueError", "bad"))
    result = orion("import", source)
    assert result.exit_code == 0, result.output
    trace_id = trace_id_of(source)
    assert result.stdout == trace_id + "\n"
    copied = spool.path / trace_filename(START, trace_id)
    assert copied.read_bytes() == Path(source).read_bytes()
    assert [e.trace_id for e in spool.entries()] == [trace_id]
    assert not list(spool.path.glob(".*"))  # no temporary left behind


def test_several_files_and_a_directory(spool, elsewhere, tmp_path):
    sources = [write_trace(elsewhere) for _ in range(3)]
    result = orion("import", str(elsewhere.path))
    assert result.exit_code == 0, result.output
    assert sorted(result.stdout.split()) == sorted(trace_id_of(s) for s in sources)
    assert len(spool.entries()) == 3


def test_paths_from_stdin_keep_spaces(spool, tmp_path):
    folder = tmp_path / "with space"
    source = write_trace(Spool(folder))
    result = orion("import", "-", input=f"{source}\n\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == trace_id_of(source)


def test_duplicate_is_refused_unless_force(spool, elsewhere):
    source = write_trace(elsewhere)
    assert orion("import", source).exit_code == 0
    again = orion("import", source)
    assert again.exit_code == 1
    assert "already in the spool" in again.stderr and "--force" in again.stderr
    assert again.stdout == ""
    forced = orion("import", "--force", source, "--json")
    assert forced.exit_code == 0
    [row] = json.loads(forced.stdout)
    assert row["outcome"] == "imported" and row["replaced"] is True
    assert len(spool.entries()) == 1


def test_incomplete_trace_is_accepted_with_a_note(spool, tmp_path):
    trace_id = incomplete_trace(tmp_path / "crashed.otrace")
    result = orion("import", str(tmp_path / "crashed.otrace"), "--json")
    assert result.exit_code == 0, result.output
    assert "incomplete trace" in result.stderr
    [row] = json.loads(result.stdout)
    assert row["id"] == trace_id and row["complete"] is False
    assert spool.find(trace_id) is not None


def test_corrupt_trace_is_unreadable_and_the_rest_imported(spool, elsewhere, tmp_path):
    """Exit 2 as cat, show and validate give for a corrupt frame; 1 is for refusals."""
    good = write_trace(elsewhere)
    bad = corrupt_copy(write_trace(elsewhere), tmp_path / "bad.otrace")
    result = orion("import", str(bad), good)
    assert result.exit_code == 2
    assert f"unreadable: {bad}:" in result.stderr and "corrupt" in result.stderr
    assert result.stdout == trace_id_of(good) + "\n"
    assert [e.trace_id for e in spool.entries()] == [trace_id_of(good)]


def test_not_a_trace_or_missing_file_exits_2(spool, elsewhere, tmp_path):
    junk = tmp_path / "junk.otrace"
    junk.write_text("not a trace")
    bad = corrupt_copy(write_trace(elsewhere), tmp_path / "bad.otrace")
    good = write_trace(elsewhere)
    result = orion("import", str(junk), str(tmp_path / "missing.otrace"), str(bad), good,
                   "--json")
    assert result.exit_code == 2
    rows = json.loads(result.stdout)
    assert [row["outcome"] for row in rows] == ["unreadable"] * 3 + ["imported"]
    assert "wrong magic" in rows[0]["reason"] and "no such file" in rows[1]["reason"]
    assert len(spool.entries()) == 1


def test_empty_stdin_is_a_usage_error(spool):
    result = orion("import", "-", input="")
    assert result.exit_code == 2
    assert "no trace files" in result.stderr


def test_real_process(spool, elsewhere, tmp_path):
    source = write_trace(elsewhere)
    proc = run_orion("import", source)
    assert (proc.returncode, proc.stdout) == (0, trace_id_of(source) + "\n")
    assert run_orion("import", source).returncode == 1
    assert run_orion("import", str(tmp_path)).returncode == 2  # holds no .otrace file


def test_trace_cut_inside_its_header_frame_is_refused(spool, elsewhere, tmp_path):
    cut = tmp_path / "cut.otrace"
    cut.write_bytes(Path(write_trace(elsewhere)).read_bytes()[:40])
    result = orion("import", str(cut))
    assert result.exit_code == 1
    assert "header" in result.stderr
    assert spool.entries() == []
