"""`orion run -- java ...` on the sample: the call tree with arguments and return values,
named thread lanes with their parent, an exception several calls deep with the failing
frames' arguments, secrets kept out of the file, error mode's ring, and the program's own
stdout, stderr and exit status unchanged."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ...vector_shapes import assert_matches_vectors
from .conftest import (Project, by_type, decoded, line_of, orion, plain_env, requires_jdk,
                       without_jvm_notice)

pytestmark = requires_jdk

PASSWORD = "s3cret-Pa55word"  # the sample's default, and what APP_PASSWORD replaces


def run_traced(project: Project, spool: Path, mode: str, *args: str,
               **env: str) -> tuple[subprocess.CompletedProcess, list[Path]]:
    done = orion("run", "--spool", str(spool), "--mode", mode, "--", *project.java(*args),
                 cwd=project.root, env=plain_env(**env))
    return done, sorted(spool.glob("*.otrace"))


def names(records: list[dict]) -> dict[int, str]:
    return {f["id"]: f["name"] for f in by_type(records, "function")}


def test_dev_run_records_calls_threads_and_an_exception_deep_down(project: Project,
                                                                   tmp_path: Path) -> None:
    plain = subprocess.run(project.java("fail"), capture_output=True, text=True,
                           env=plain_env(), cwd=project.root)
    done, [trace] = run_traced(project, tmp_path / "spool", "dev", "fail")
    assert plain.returncode == done.returncode == 1
    assert done.stdout == plain.stdout and "refused: not enough pear" in plain.stdout
    assert plain.stderr.startswith('Exception in thread "main" java.lang.IllegalStateException')
    assert without_jvm_notice(done.stderr) == plain.stderr
    assert orion("validate", str(trace), cwd=tmp_path).returncode == 0
    assert_matches_vectors(trace)

    records = decoded(trace)
    fns = names(records)
    functions = {f["name"]: f for f in by_type(records, "function")}
    assert functions["Inventory.remove"]["module"] == "com.example.inventory"
    assert functions["Inventory.remove"]["file"] == "Inventory.java"
    calls = [(fns[c["fn"]], c.get("args", {})) for c in by_type(records, "call")]
    assert ("Orders.reserve", {"this": calls[[n for n, _ in calls].index("Orders.reserve")][1]["this"],
                               "item": "apple", "quantity": 2}) in calls
    assert any(n == "Inventory.available" and a.get("item") == "fig" for n, a in calls)
    assert 3 in [r.get("value") for r in by_type(records, "return")]  # available("apple")

    lanes = {lane["name"]: lane for lane in by_type(records, "lane")}
    assert {"main", "restock-apple", "restock-pear"} <= set(lanes)
    for worker in ("restock-apple", "restock-pear"):
        assert lanes[worker]["parent"] == lanes["main"]["id"]
        assert any(fns[c["fn"]] == "Inventory.add" and c["lane"] == lanes[worker]["id"]
                   for c in by_type(records, "call"))

    raised = [e for e in by_type(records, "exception") if e["kind"] == "raised"]
    assert [e["message"] for e in raised] == ["not enough pear: short by 1",
                                              "not enough fig: short by 2"]
    assert raised[1]["line"] == line_of("throw new IllegalStateException",
                                        "main/java/com/example/inventory/Inventory.java")
    caught = [e for e in by_type(records, "exception") if e["kind"] == "caught"]
    assert [e["message"] for e in caught] == ["not enough pear: short by 1"]
    [stack] = by_type(records, "stack")
    frames = [(fns[f["fn"]], f["line"], f["locals"]) for f in stack["frames"]]
    assert [name for name, _, _ in frames] == ["App.main", "Orders.place", "Orders.reserve",
                                               "Inventory.remove"]
    assert frames[-1][2]["item"] == "fig" and frames[-1][2]["quantity"] == 2
    assert frames[1][2]["customer"] == "carl"
    [crash] = by_type(records, "crash")
    assert (crash["kind"], crash["reason"]) == ("uncaught", "java.lang.IllegalStateException")
    [end] = by_type(records, "end")
    assert (end["status"], end["exit_code"], end["root"]) == ("failed", 1, "App.main")
    assert end["exception"]["message"] == "not enough fig: short by 2"

    shown = orion("show", str(trace), cwd=tmp_path).stdout
    assert "Inventory.remove(" in shown and "restock-apple" in shown
    listed = orion("list", "--spool", str(tmp_path / "spool"), "--json", cwd=tmp_path)
    assert records[0]["trace_id"] in listed.stdout


def test_secrets_never_reach_the_file(project: Project, tmp_path: Path) -> None:
    """A secret-named argument is a redacted node, and neither its value nor a token given
    on the command line (captured in main's arguments and the header's argv) is anywhere in
    the decompressed trace."""
    token = "ghp_" + "A1b2C3d4" * 4
    secret = PASSWORD + "-env"
    done, [trace] = run_traced(project, tmp_path / "spool", "dev", "fail", token,
                               APP_PASSWORD=secret)
    assert done.returncode == 1
    records = decoded(trace)
    fns = names(records)
    [login] = [c for c in by_type(records, "call") if fns[c["fn"]] == "Orders.login"]
    assert login["args"]["password"] == {"t": "String", "redacted": True}
    assert login["args"]["user"] == "ann"
    main = next(c for c in by_type(records, "call") if fns[c["fn"]] == "App.main")
    assert main["args"]["args"]["items"] == ["fail", "<redacted>"]
    assert records[0]["process"]["argv"][-1] == "<redacted>"
    raw = subprocess.run(["zstd", "-dc", str(trace)], capture_output=True).stdout
    assert b"otrace" in raw[:200]  # the plain msgpack stream, header first
    assert secret.encode() not in raw and token.encode() not in raw


def test_error_mode_writes_only_a_failing_run_from_its_ring(project: Project,
                                                            tmp_path: Path) -> None:
    done, traces = run_traced(project, tmp_path / "quiet", "error")
    assert done.returncode == 0 and traces == []
    done, [trace] = run_traced(project, tmp_path / "spool", "error", "fail")
    assert done.returncode == 1
    assert orion("validate", str(trace), cwd=tmp_path).returncode == 0
    assert_matches_vectors(trace)
    records = decoded(trace)
    assert records[0]["window"] == "ring" and records[0]["mode"] == "error"
    fns = names(records)
    assert "args" not in by_type(records, "call")[0]  # values only for the failing stack
    [stack] = by_type(records, "stack")
    assert stack["frames"][-1]["locals"]["item"] == "fig"
    assert [fns[f["fn"]] for f in stack["frames"]][-1] == "Inventory.remove"
