"""`orion export`: byte copies to a file, a directory or stdout, and its refusals."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from orion.export import FORMATS, exported_name

from ..conftest import invoke as orion, read_until_closed, run_orion, write_trace


def test_export_one_trace_to_a_file(spool, tmp_path):
    source = Path(write_trace(spool))
    target = tmp_path / "bug.otrace"
    result = orion("export", "@", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == source.read_bytes()
    assert result.stdout == f"{target}\n"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_export_to_stdout_when_it_is_a_pipe(spool):
    source = Path(write_trace(spool, status="failed", exception=("KeyError", "x")))
    result = orion("export", source.name.split("-")[1][:8])
    assert result.exit_code == 0
    assert result.stdout_bytes == source.read_bytes()
    assert orion("export", "@", "-o", "-").stdout_bytes == source.read_bytes()


def test_several_traces_into_a_directory(spool, tmp_path):
    sources = [Path(write_trace(spool, start_ns=10**18 + i)) for i in range(3)]
    ids = "".join(p.stem.split("-")[1] + "\n" for p in sources)
    out = tmp_path / "out" / "nested"
    result = orion("export", "-", "-o", str(out), input=ids)
    assert result.exit_code == 0, result.output
    for source in sources:
        assert (out / source.name).read_bytes() == source.read_bytes()
    assert sorted(result.stdout.split()) == sorted(str(out / s.name) for s in sources)


def test_one_trace_into_an_existing_directory_keeps_its_name(spool, tmp_path):
    source = Path(write_trace(spool))
    result = orion("export", "@", "-o", str(tmp_path))
    assert result.exit_code == 0
    assert (tmp_path / source.name).read_bytes() == source.read_bytes()


def test_several_traces_need_a_directory(spool, tmp_path):
    write_trace(spool)
    write_trace(spool)
    result = orion("export", "@", "@~1")
    assert result.exit_code == 2
    assert "use -o DIR" in result.stderr
    assert orion("export", "@", "@~1", "-o", "-").exit_code == 2
    a_file = tmp_path / "file.otrace"
    a_file.write_bytes(b"x")
    result = orion("export", "@", "@~1", "-o", str(a_file))
    assert result.exit_code == 2
    assert "is a file" in result.stderr


def test_a_file_name_for_several_traces_is_refused(spool, tmp_path):
    write_trace(spool)
    write_trace(spool)
    named = tmp_path / "all.parquet"
    result = orion("export", "@", "@~1", "--format", "otlp", "-o", str(named))
    assert result.exit_code == 2 and "names a file, but 2 traces need a directory" in result.stderr
    assert not named.exists()
    slash = orion("export", "@", "@~1", "-o", str(named) + "/")
    assert slash.exit_code == 0 and len(list(named.iterdir())) == 2


def test_an_incomplete_trace_is_exported_with_a_note(spool, tmp_path):
    w = spool.open_writer(language="python")
    lane = w.lane("MainThread")
    w.call(0, lane, w.function("main", "app", "app.py", 1))
    w.flush()  # the program dies here: no end record
    result = orion("export", "@", "--format", "otlp", "-o", str(tmp_path / "t.json"))
    assert result.exit_code == 0 and "incomplete (no end record)" in result.stderr
    complete = write_trace(spool)
    assert "incomplete" not in orion("export", complete, "-o", str(tmp_path / "c")).stderr


def test_not_a_trace_is_refused(spool, tmp_path):
    junk = tmp_path / "junk.otrace"
    junk.write_bytes(b"hello, not a trace")
    result = orion("export", str(junk), "-o", str(tmp_path / "copy.otrace"))
    assert result.exit_code == 2
    assert "wrong magic" in result.stderr
    assert not (tmp_path / "copy.otrace").exists()


def test_unknown_format_is_a_usage_error(spool):
    write_trace(spool)
    result = orion("export", "@", "--format", "docx")
    assert result.exit_code == 2
    assert "otrace" in result.stderr


def test_format_registry_names_files():
    fmt = FORMATS["otrace"]
    assert exported_name(Path("a/20260101T000000000000Z-ab.otrace"), fmt) == \
        "20260101T000000000000Z-ab.otrace"
    assert exported_name(Path("dump.bin"), fmt) == "dump.bin.otrace"


def test_refuses_binary_to_a_terminal(spool):
    """A real process whose stdout is a pseudo-terminal, as when a person types it."""
    write_trace(spool)
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "orion", "export", "@"],
                              stdout=follower, stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(follower)
        os.close(leader)
    assert proc.returncode == 2
    assert "refusing to write binary otrace data to a terminal" in proc.stderr


def test_real_process_pipes_bytes(spool):
    source = Path(write_trace(spool))
    proc = subprocess.run([sys.executable, "-m", "orion", "export", "@"], capture_output=True,
                          timeout=60)
    assert proc.returncode == 0
    assert proc.stdout == source.read_bytes()
    assert run_orion("export", "nonexistent-id").returncode == 2


def test_progress_bar_only_on_a_terminal(spool, tmp_path):
    ids = "".join(Path(write_trace(spool, start_ns=10**18 + i)).stem.split("-")[1] + "\n"
                  for i in range(6))
    piped = orion("export", "-", "-o", str(tmp_path / "piped"), input=ids)
    assert piped.exit_code == 0 and piped.stderr == ""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "orion", "export", "-", "-o", str(tmp_path / "tty")],
            input=ids.encode(), stdout=subprocess.PIPE, stderr=follower, timeout=60)
        os.close(follower)
        shown = read_until_closed(leader)
    finally:
        os.close(leader)
    assert proc.returncode == 0
    assert b"exporting" in shown and b"6/6" in shown
    assert len(proc.stdout.splitlines()) == 6


def without_pyarrow(tmp_path: Path) -> dict[str, str]:
    """An environment where `import pyarrow` fails, as on a machine without it: a package
    of that name that raises ImportError comes first on the path."""
    shadow = tmp_path / "no-pyarrow"
    (shadow / "pyarrow").mkdir(parents=True)
    (shadow / "pyarrow" / "__init__.py").write_text("raise ImportError('no pyarrow here')\n")
    return {"PYTHONPATH": os.pathsep.join([str(shadow), os.environ.get("PYTHONPATH", "")])}


def test_parquet_without_pyarrow_leaves_no_directory(spool, tmp_path):
    write_trace(spool)
    target = tmp_path / "d"
    result = run_orion("export", "@", "--format", "parquet", "-o", f"{target}/",
                       env=without_pyarrow(tmp_path))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "need pyarrow" in result.stderr
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["no-pyarrow", "spool"]


def test_a_failed_export_into_a_directory_leaves_nothing(spool, tmp_path):
    """The second trace is corrupt: the first, already written, is not left behind, in a
    new directory or in an existing one."""
    good = Path(write_trace(spool, start_ns=10**18))
    bad = tmp_path / "bad.otrace"
    bad.write_bytes(good.read_bytes()[:40] + b"\x00" * 64)
    new = tmp_path / "new" / "nested"
    result = orion("export", str(good), str(bad), "--format", "otlp", "-o", str(new))
    assert result.exit_code == 2 and str(bad) in result.stderr
    assert not (tmp_path / "new").exists()
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    result = orion("export", str(good), str(bad), "--format", "otlp", "-o", str(existing))
    assert result.exit_code == 2
    assert [p.name for p in existing.iterdir()] == ["keep.txt"]
