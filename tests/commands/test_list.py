"""`orion list`: order, filters, output formats, pipes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from orion.cli import cli

from ..conftest import invoke, run_orion, write_trace
from ..format.test_summary_types import write_with_summary

HOUR = 3600 * 10**9


def test_newest_first_and_bare_ids_in_a_pipe(spool):
    now = time.time_ns()
    old = write_trace(spool, start_ns=now - 3 * HOUR)
    new = write_trace(spool, start_ns=now)
    result = invoke("list")
    assert result.exit_code == 0
    ids = result.output.split()
    assert [i for i in ids] == [new.split("-")[-1][:32], old.split("-")[-1][:32]]


def test_filters(spool):
    now = time.time_ns()
    write_trace(spool, start_ns=now - 5 * HOUR)
    failed = write_trace(spool, status="failed", exception=("KeyError", "'sku'"),
                         start_ns=now - HOUR)
    write_trace(spool, language="go", root="main.main", start_ns=now)
    failed_id = failed.split("-")[-1][:32]
    assert invoke("list", "--failed").output.split() == [failed_id]
    assert invoke("list", "--status", "failed,crashed").output.split() == [failed_id]
    assert len(invoke("list", "--ok").output.split()) == 2
    assert len(invoke("list", "--lang", "go").output.split()) == 1
    assert len(invoke("list", "--since", "2h").output.split()) == 2
    assert len(invoke("list", "--until", "2h").output.split()) == 1
    assert invoke("list", "--grep", "keyerror").output.split() == [failed_id]
    assert invoke("list", "--grep", "sku").output.split() == [failed_id]
    assert len(invoke("list", "--grep", "^step2$").output.split()) == 3  # any function
    assert invoke("list", "--grep", "no_such_function").exit_code == 1
    assert len(invoke("list", "--limit", "1").output.split()) == 1
    nothing = invoke("list", "--lang", "rust")
    assert nothing.exit_code == 1 and nothing.output == ""


def test_formats(spool):
    write_trace(spool, status="failed", exception=("ValueError", "bad\nvalue"))
    table = invoke("list", "--format", "table")
    lines = table.output.splitlines()
    assert lines[0].split()[:4] == ["ID", "STARTED", "LANG", "STATUS"]
    assert "ValueError: bad value" in lines[1]
    rows = json.loads(invoke("list", "--json").output)
    assert rows[0]["status"] == "failed" and rows[0]["complete"] is True
    assert rows[0]["exception"]["type"] == "ValueError"
    jsonl = invoke("list", "--format", "jsonl").output.splitlines()
    assert json.loads(jsonl[0])["id"] == rows[0]["id"]


def test_incomplete_trace_is_listed_and_counts_as_failed(spool):
    path = write_trace(spool, calls=30, batch_bytes=64)
    data = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])
    rows = json.loads(invoke("list", "--json").output)
    assert rows[0]["status"] == "incomplete" and rows[0]["complete"] is False
    assert len(invoke("list", "--failed").output.split()) == 1


def test_unreadable_file_is_skipped_with_a_warning(spool):
    write_trace(spool)
    bogus = spool.path / ("20200101T000000000000Z-" + "0" * 32 + ".otrace")
    bogus.write_bytes(b"garbage")
    result = CliRunner().invoke(cli, ["list"])
    assert result.exit_code == 0
    assert len(result.stdout.split()) == 1
    assert "warning: skipping" in result.stderr and "wrong magic" in result.stderr


def test_empty_spool(spool):
    result = invoke("list", "--format", "table")
    assert result.exit_code == 1
    assert "no traces match" in result.stderr


def test_a_malformed_summary_is_skipped_with_one_warning(spool, tmp_path):
    """Wrong types in a trailer summary (and its end record) never break the listing."""
    write_trace(spool, root="good_root")
    bad = {"status": {"status": 5}, "start": {"start_ns": "abc"},
           "exception": {"exception": "str"}}
    for i, (name, changes) in enumerate(bad.items()):
        path = spool.path / f"2020010{i + 1}T000000000000Z-{str(i) * 32}.otrace"
        write_with_summary(path, **changes)
    for args in (["--format", "table"], ["--format", "ids"], ["--format", "jsonl"],
                 ["--grep", "good"], ["--since", "2000-01-01"], ["--status", "ok"]):
        result = run_orion("list", *args)
        assert result.returncode == 0, (args, result.stderr)
        assert "internal error" not in result.stderr
        warnings = result.stderr.strip().splitlines()
        assert len(warnings) == 3, (args, result.stderr)
        assert all("malformed summary" in w for w in warnings)
        assert len(result.stdout.strip().splitlines()) == (2 if args[1] == "table" else 1)


def test_a_newer_major_is_skipped_by_every_format(spool):
    """Its trailer reads, but no command opens it: the prelude decides, in every format."""
    import struct

    write_trace(spool)
    newer = write_trace(spool, root="newer", start_ns=1_500_000_000_000_000_000)
    data = bytearray(open(newer, "rb").read())
    data[16:18] = struct.pack("<H", 2)
    open(newer, "wb").write(bytes(data))
    for args in (["--format", "ids"], ["--format", "table"], ["--format", "jsonl"],
                 ["--status", "ok"]):
        result = run_orion("list", *args)
        assert result.returncode == 0, (args, result.stderr)
        assert result.stderr.strip() == (f"orion: warning: skipping {newer}: written in "
                                         f"format 2.0; this orion reads 1.x — upgrade orion "
                                         f"to read it"), args
        assert newer.rsplit("-", 1)[1][:12] not in result.stdout


def test_spool_as_a_global_option(spool, tmp_path):
    write_trace(spool)
    elsewhere = tmp_path / "elsewhere"
    assert len(invoke("--spool", str(spool.path), "list", "--format", "ids").stdout.split()) == 1
    assert invoke("--spool", str(elsewhere), "list").exit_code == 1  # empty there
    own = invoke("--spool", str(elsewhere), "list", "--spool", str(spool.path), "-f", "ids")
    assert len(own.stdout.split()) == 1  # the command's own --spool wins


BIG_PROGRAM = """
import sys

def step(i):
    return i + 1

total = 0
for i in range(int(sys.argv[1])):
    total += step(i)
"""


def list_with_memory_cap(spool, megabytes: int, *options: str) -> subprocess.CompletedProcess:
    """`orion list -f table` in a process that cannot have more than `megabytes`."""
    argv = ["list", "--spool", str(spool), "-f", "table", *options]
    code = ("import resource, sys\n"
            f"resource.setrlimit(resource.RLIMIT_AS, ({megabytes << 20}, {megabytes << 20}))\n"
            "from orion.cli import main\n"
            f"sys.exit(main({argv!r}))\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)


def dev_trace(tmp_path, calls: int) -> Path:
    """A real dev-mode trace of `calls` calls (two records each)."""
    program = tmp_path / "loop.py"
    program.write_text(BIG_PROGRAM)
    spool = tmp_path / "spool"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORION_")}
    subprocess.run([sys.executable, "-m", "orion.agent", "--mode", "dev", "--spool",
                    str(spool), str(program), str(calls)], env=env, check=True, timeout=120)
    return spool


def test_a_big_trace_is_listed_in_bounded_memory(tmp_path):
    """2.2 M records, past the 2 M that list used to load whole (~250 MB here) or leave
    without a fingerprint: the table lists it with its fingerprint, computed streaming,
    within 128 MB."""
    spool = dev_trace(tmp_path, 1_100_000)
    result = list_with_memory_cap(spool, 128)
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()
    calls, fingerprint, entry = row.split()[6:9]  # CALLS, FINGERPRINT, ENTRY
    assert (calls, fingerprint[:3], entry) == ("1100001", "s1:", "<module>")
    filtered = list_with_memory_cap(spool, 128, "--fingerprint", fingerprint)
    assert filtered.returncode == 0 and filtered.stdout.splitlines()[1] == row


def test_running_out_of_memory_is_an_error_naming_the_file(tmp_path):
    """Not `no traces match`, not a corrupt file: a trace fingerprinted in list, in a
    process given too little memory to read it (the reader stops with 32 MB left)."""
    spool = dev_trace(tmp_path, 900_000)
    result = list_with_memory_cap(spool, 56)
    assert result.returncode == 2
    (path,) = spool.glob("*.otrace")
    assert result.stderr == (f"orion: error: {path}: ran out of memory reading it (no sign of "
                             f"a bad file: retry with more memory)\n")
