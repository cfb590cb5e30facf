"""Spool resolution and many concurrent writers with a reader running."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from orion.format.summary import read_summary
from orion.format.validate import is_valid, validate_trace
from orion.spool import Spool, resolve_spool, trace_filename

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
