"""docs/json.md stays honest: every `<!-- keys: NAME -->` table in it lists exactly the keys
the command prints with --json, checked on real traces (recorded with `orion run` and
`orion test`, and written with the real writer).

For each table: every object checked has only documented keys, has every key documented
as present "always", and together the objects show every documented key, so a key added
to or removed from an output without updating the doc fails here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from orion.spool import Spool

from .conftest import invoke, run_orion, write_trace

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "json.md"
DOCUMENTED_ELSEWHERE = {"diff", "export"}  # docs/diff.md, docs/interchange.md

OK_PROGRAM = '''
def square(n):
    return n * n

def main():
    print(sum(square(i) for i in range(3)))

main()
'''

FAILING_PROGRAM = '''
def parse(line):
    key, value = line.split("=")
    return key, int(value)

def load(lines):
    return dict(parse(l) for l in lines)

load(["a=1", "b=two"])
'''

TESTS = '''
def total(prices):
    return sum(p["amount"] for p in prices)

def test_total():
    assert total([{"amount": 2}]) == 2

def test_missing_amount():
    assert total([{"price": 3}]) == 3
'''


# -- the doc ---------------------------------------------------------------------------

def _cells(line: str) -> list[str]:
    """The cells of a Markdown table row (`\\|` inside a cell is not a separator)."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def documented_keys(text: str) -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    """NAME -> (every key, the keys present "always") of each `<!-- keys: NAME -->` table:
    the backquoted names in a row's first cell (rows without any, like "every key of the
    summary", are prose)."""
    tables: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
    lines = text.splitlines()
    for index, line in enumerate(lines):
        found = re.fullmatch(r"\s*<!--\s*keys:\s*([\w.-]+)\s*-->\s*", line)
        if not found:
            continue
        name = found.group(1)
        assert name not in tables, f"two keys tables named {name!r} in {DOC.name}"
        rows = []
        for row in lines[index + 1:]:
            if not row.strip().startswith("|"):
                break
            rows.append(_cells(row))
        assert len(rows) > 2, f"no table after <!-- keys: {name} -->"
        header = [h.lower() for h in rows[0]]
        present = header.index("present") if "present" in header else None
        every, always = set(), set()
        for cells in rows[2:]:
            keys = re.findall(r"`([^`]+)`", cells[0])
            every.update(keys)
            if present is None or cells[present].lower() == "always":
                always.update(keys)
        assert every, f"keys table {name!r} lists no key"
        tables[name] = (frozenset(every), frozenset(always))
    return tables


DOCUMENTED = documented_keys(DOC.read_text(encoding="utf-8"))


def check(name: str, objects: list) -> None:
    every, always = DOCUMENTED[name]
    assert objects, f"nothing printed to check the {name!r} keys against"
    seen: set[str] = set()
    for obj in objects:
        assert isinstance(obj, dict), f"{name}: expected objects, got {obj!r}"
        got = set(obj)
        assert got <= every, (f"{name}: keys missing from docs/json.md: "
                              f"{sorted(got - every)}")
        assert always <= got, (f"{name}: docs/json.md says these are always present, "
                               f"but they are not: {sorted(always - got)}")
        seen |= got
    assert seen == every, (f"{name}: docs/json.md lists keys no output has: "
                           f"{sorted(every - seen)}")


# -- real traces -----------------------------------------------------------------------

def clean_env(spool: Path, xdg: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORION_")}
    env.update(ORION_SPOOL=str(spool), ORION_MODE="dev", XDG_CONFIG_HOME=str(xdg))
    return env


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """A spool with an ok and a failing run, a failing pytest test, an incomplete trace and
    a written trace with every optional header key; computed once for the module."""
    base = tmp_path_factory.mktemp("jsondocs")
    spool, xdg, work = base / "spool", base / "xdg", base / "work"
    work.mkdir()
    env = clean_env(spool, xdg)
    (work / "ok.py").write_text(OK_PROGRAM)
    (work / "fail.py").write_text(FAILING_PROGRAM)
    (work / "test_cart.py").write_text(TESTS)

    ok = run_orion("run", "--", sys.executable, str(work / "ok.py"), env=env)
    assert ok.returncode == 0, ok.stderr
    failed = run_orion("run", "--", sys.executable, str(work / "fail.py"), env=env)
    assert failed.returncode == 1, failed.stderr
    report = base / "test.json"
    tested = subprocess.run(
        [sys.executable, "-m", "orion", "test", "--mode", "error", "--json", "-o", str(report),
         "--", sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_cart.py"],
        cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert tested.returncode == 1, tested.stdout + tested.stderr

    store = Spool(spool)
    w = store.open_writer(language="python")  # killed before its end record
    lane = w.lane("MainThread")
    w.call(10, lane, w.function("main", "app", "app.py", 1))
    w.flush()
    w.sink.close()
    write_trace(store, status="failed", exception=("KeyError", "'sku'"), service="shop",
                name="checkout", parent={"trace_id": "ab" * 16, "span_id": "cd" * 8},
                window="ring")

    ids = [e.trace_id for e in store.entries()]
    assert len(ids) == 5
    return {"base": base, "spool": spool, "work": work, "ids": ids,
            "failed_id": failed.stderr.split("orion: trace ")[-1].split()[0],
            "test_report": json.loads(report.read_text())}


def orion_json(world: dict, *args: str, jsonl: bool = False):
    result = invoke(*args, "--spool", str(world["spool"]))
    assert result.exit_code in (0, 1, 2), result.output
    if jsonl:
        return [json.loads(line) for line in result.stdout.splitlines()]
    return json.loads(result.stdout)


def shown(world: dict) -> list[dict]:
    return [orion_json(world, "show", trace_id, "--json") for trace_id in world["ids"]]


# -- the checks ------------------------------------------------------------------------

CHECKED = {"summary", "header", "list", "list-group", "show", "show-lane", "replay",
           "fingerprint", "graph", "graph-node", "graph-edge", "validate",
           "validate-problem", "import", "clean", "status", "doctor", "config", "test",
           "test-trace"}


def test_every_keys_table_is_checked():
    assert set(DOCUMENTED) == CHECKED


def test_every_command_with_json_output_is_documented():
    from orion.cli import cli

    text = DOC.read_text(encoding="utf-8")
    ctx = click.Context(cli)

    def walk(group: click.Group, prefix: str):
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if isinstance(command, click.Group):
                yield from walk(command, f"{prefix}{name} ")
            else:
                yield prefix + name, command

    for path, command in walk(cli, ""):
        json_output = any(
            p.name == "as_json" or (p.name == "output_format"
                                    and isinstance(p.type, click.Choice)
                                    and "json" in p.type.choices)
            for p in command.params)
        if json_output and path not in DOCUMENTED_ELSEWHERE:
            assert f"## `orion {path}`" in text, f"orion {path} --json is not in docs/json.md"


def test_show_summary_and_header(world):
    documents = shown(world)
    check("show", documents)
    check("summary", [d["summary"] for d in documents])
    check("header", [d["header"] for d in documents])
    check("show-lane", [lane for d in documents for lane in d["lanes"]])


def test_list(world):
    summaries = {d["summary"]["trace_id"]: set(d["summary"]) for d in shown(world)}
    every, _ = DOCUMENTED["list"]
    rows = orion_json(world, "list", "--json")
    lines = orion_json(world, "list", "--format", "jsonl", jsonl=True)
    assert len(rows) == len(lines) == len(world["ids"])
    for row in rows + lines:
        assert set(row) == every | summaries[row["id"]], \
            "orion list: keys differ from docs/json.md (its own keys plus the summary's)"
    check("list-group", orion_json(world, "list", "--group-by", "fingerprint", "--json"))


def test_replay(world):
    trace_id = world["failed_id"]
    check("replay", [orion_json(world, "replay", trace_id, *where, "--json")
                     for where in ((), ("--exception",), ("--at", "-1"))])


def test_fingerprint_and_graph(world):
    check("fingerprint", orion_json(world, "fingerprint", *world["ids"], "--json"))
    graph = orion_json(world, "graph", *world["ids"], "--json")
    check("graph", [graph])
    check("graph-node", graph["nodes"])
    check("graph-edge", graph["edges"])


def test_validate_and_import(world, tmp_path):
    bad = tmp_path / "bad.otrace"
    bad.write_bytes(b"garbage")
    report = orion_json(world, "validate", *world["ids"], str(bad), "--json")
    check("validate", report)
    check("validate-problem", [p for item in report for p in item["problems"]])

    other = tmp_path / "other"
    files = [str(p) for p in sorted(world["spool"].glob("*.otrace"))]
    first = invoke("import", files[0], "--spool", str(other))
    assert first.exit_code == 0, first.output
    result = invoke("import", *files, str(bad), "--json", "--spool", str(other))
    outcomes = json.loads(result.stdout)
    assert {o["outcome"] for o in outcomes} == {"imported", "refused", "unreadable"}
    check("import", outcomes)


def test_clean(world, tmp_path):
    dry = orion_json(world, "clean", "--all", "--dry-run", "--json")
    copy = tmp_path / "copy"
    shutil.copytree(world["spool"], copy)
    deleted = json.loads(invoke("clean", "--failed", "--yes", "--json",
                                "--spool", str(copy)).stdout)
    assert deleted["dry_run"] is False and deleted["count"] > 0
    check("clean", [dry, deleted])


def test_status_doctor_config(world, home):
    check("status", [orion_json(world, "status", "--json")])
    check("doctor", orion_json(world, "doctor", "--json"))
    result = invoke("config", "list", "--json")
    assert result.exit_code == 0, result.output
    check("config", json.loads(result.stdout))


def test_test(world):
    report = world["test_report"]
    check("test", [report])
    check("test-trace", report["traces"])
