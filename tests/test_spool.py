"""Spool resolution and many concurrent writers with a reader running."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from orion.format.summary import read_summary
from orion.format.validate import is_valid, validate_trace
from orion.spool import Spool, resolve_spool, trace_filename
from orion.spooldir import create_trace, resolve_spool_dir

from .conftest import run_orion


def test_resolution_order(tmp_path, monkeypatch):
    project = tmp_path / "proj"
    (project / ".orion").mkdir(parents=True)
    deep = project / "src" / "pkg"
    deep.mkdir(parents=True)
    monkeypatch.delenv("ORION_SPOOL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert resolve_spool(None, cwd=tmp_path) == tmp_path / "data" / "orionis" / "spool"
    assert resolve_spool(None, cwd=deep) == project.resolve() / ".orion" / "spool"
    monkeypatch.setenv("ORION_SPOOL", str(tmp_path / "env"))
    assert resolve_spool(None, cwd=deep) == tmp_path / "env"
    assert resolve_spool(str(tmp_path / "flag"), cwd=deep) == tmp_path / "flag"


def test_the_agents_resolve_the_spool_as_the_commands_do(tmp_path, monkeypatch):
    """orion.spooldir (str paths, for every traced process) and orion.spool agree."""
    project = tmp_path / "proj"
    (project / ".orion").mkdir(parents=True)
    deep = project / "src"
    deep.mkdir()
    monkeypatch.delenv("ORION_SPOOL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    for explicit, cwd in ((None, tmp_path), (None, deep), ("~/flag", deep)):
        assert Path(resolve_spool_dir(explicit, str(cwd))) == resolve_spool(explicit, cwd)
    monkeypatch.setenv("ORION_SPOOL", "~/env")
    assert resolve_spool_dir(None, str(deep)) == os.path.expanduser("~/env")


def test_a_trace_created_in_a_new_directory_is_published_with_its_header(tmp_path):
    directory = str(tmp_path / "new" / "spool")
    writer = create_trace(directory, language="python", agent="test", agent_version="0",
                          mode="dev", trace_id="ab" * 16, start_ns=1_700_000_000_000_000_000)
    assert os.listdir(directory) == [trace_filename(1_700_000_000_000_000_000, "ab" * 16)]
    assert writer.path == os.path.join(directory, os.listdir(directory)[0])
    writer.close()
    writer.sink.close()
    assert validate_trace(writer.path) == []
    assert Spool(directory).find("ab" * 16).path == Path(writer.path)


def test_names_sort_by_time():
    ids = ["f" * 32, "0" * 32]
    names = [trace_filename(1_700_000_000_000_000_000 + i * 1000, ids[i]) for i in range(2)]
    assert sorted(names) == names
    assert trace_filename(999_999_999, "a" * 32) < trace_filename(10**9, "0" * 32)


WRITER = textwrap.dedent("""
    import sys
    from orion.spool import Spool
    spool = Spool(sys.argv[1])
    for i in range(int(sys.argv[2])):
        w = spool.open_writer(language="python")
        lane = w.lane("MainThread")
        fn = w.function("main", "app", "app.py", 1)
        w.call(10, lane, fn)
        w.ret(20, lane, i)
        w.close()
""")


def test_many_writers_while_list_reads(tmp_path):
    spool_dir = tmp_path / "spool"
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(spool_dir), "200"])
               for _ in range(20)]
    listings = 0
    while any(w.poll() is None for w in writers):
        result = run_orion("list", "--spool", str(spool_dir), "--format", "ids")
        assert result.returncode in (0, 1), result.stderr
        assert result.stderr == "" or "no traces match" in result.stderr, result.stderr
        listings += 1
    assert all(w.returncode == 0 for w in writers)
    entries = Spool(spool_dir).entries()
    assert len(entries) == 4000
    assert len({e.trace_id for e in entries}) == 4000
    assert all(read_summary(e.path)["complete"] for e in entries)
    for entry in entries[::40]:  # 100 of them through every check `orion validate` makes
        assert is_valid(validate_trace(entry.path)), entry.path
    assert not [p for p in Path(spool_dir).iterdir() if p.name.startswith(".")]
    final = run_orion("list", "--spool", str(spool_dir), "--format", "ids")
    assert len(final.stdout.split()) == 4000
    assert listings >= 1


def _odd_spool(tmp_path) -> tuple[Spool, str, list[Path]]:
    """A spool with one trace and, named like traces, a FIFO, a directory, a socket, a
    symbolic link to nothing and one to itself (a loop: unreadable even for root, which
    chmod 000 does not stop)."""
    import os
    import socket

    from .conftest import write_trace

    spool = Spool(tmp_path / "spool")
    good = write_trace(spool)
    odd = [spool.path / trace_filename(10**18 + i, f"{i:032x}") for i in range(5)]
    os.mkfifo(odd[0])
    odd[1].mkdir()
    listener, here = socket.socket(socket.AF_UNIX), os.getcwd()
    os.chdir(spool.path)  # a socket's path is limited to 108 bytes: bind it by its name
    try:
        listener.bind(odd[2].name)
    finally:
        os.chdir(here)
        listener.close()
    odd[3].symlink_to(tmp_path / "nowhere")
    odd[4].symlink_to(odd[4])
    return spool, good, odd


def test_entries_that_are_no_regular_files_are_skipped_with_a_warning(tmp_path):
    spool, good, odd = _odd_spool(tmp_path)
    warnings = []
    entries = Spool(spool.path, warn=warnings.append).entries()
    assert [str(e.path) for e in entries] == [good]
    kinds = ["a FIFO (named pipe)", "a directory", "a socket", "a symbolic link to nothing",
             "not readable (Too many levels of symbolic links)"]
    assert warnings == [f"skipping {path}: {kind}, not a trace file"
                        for path, kind in zip(odd, kinds)]


def test_commands_never_open_a_fifo_in_the_spool(tmp_path):
    """Opening a FIFO blocks until a writer comes: list, show @, status and clean hung."""
    spool, good, odd = _odd_spool(tmp_path)
    trace_id = Path(good).name.split("-")[1][:12]
    for args in (["list", "--format", "table"], ["show", "@"], ["status"],
                 ["clean", "--older-than", "0s", "--dry-run"]):
        result = run_orion("--spool", str(spool.path), *args, timeout=20)
        assert result.returncode == 0, (args, result.stderr)
        warnings = [line for line in result.stderr.splitlines() if "warning" in line]
        assert len(warnings) == len(odd), (args, result.stderr)
        assert trace_id in result.stdout or "traces: 1 total" in result.stdout, args
    assert Path(good).exists() and all(os.path.lexists(p) for p in odd)


CHURN = textwrap.dedent("""
    import sys, time
    from orion.spool import Spool
    spool = Spool(sys.argv[1])
    end = time.monotonic() + float(sys.argv[2])
    while time.monotonic() < end:
        w = spool.open_writer(language="python")
        lane = w.lane("MainThread")
        w.call(1, lane, w.function("churn", "app", "app.py", 1))
        w.close(status="ok")
        w.path.unlink()
""")


def test_list_while_writers_create_and_remove_traces_still_finds_the_trace(tmp_path):
    from .conftest import invoke, write_trace

    spool = Spool(tmp_path / "spool")
    write_trace(spool, root="stays")
    writers = [subprocess.Popen([sys.executable, "-c", CHURN, str(spool.path), "2"])
               for _ in range(2)]
    try:
        runs = 0
        while any(w.poll() is None for w in writers):
            for options in (["--format", "table"], ["--format", "ids"],
                            ["--format", "table", "-n", "1"], ["--format", "json", "-n", "1"]):
                result = invoke("--spool", str(spool.path), "list", *options)
                assert result.exit_code == 0, result.stderr
                assert "no traces match" not in result.stderr and result.stderr == ""
                assert result.output.strip() not in ("", "[]"), options
                runs += 1
    finally:
        for w in writers:
            w.wait()
    assert runs >= 2 and all(w.returncode == 0 for w in writers)
