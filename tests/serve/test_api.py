"""Every JSON route of `orion serve`, against the CLI's own JSON where there is one."""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from orion.analysis.fingerprint import streamed_fingerprints
from orion.serve import api as serve_api
from orion.serve.catalog import Catalog
from orion.spool import Spool
from tests.conftest import invoke, run_orion, write_trace
from tests.sample_traces import write_large_trace
from tests.serve.conftest import get, start_server, trace_id_of


def cli_json(*args: str):
    result = invoke(*args)
    assert result.exit_code in (0, 1), result.stderr
    return json.loads(result.stdout)


def without_volatile(listed: list[dict]) -> list[dict]:
    """Fingerprints are filled in by the server in the background: compare the rest."""
    return [{k: v for k, v in item.items() if k != "fingerprints"} for item in listed]


def test_traces_has_the_shape_of_list_json(served, monkeypatch):
    monkeypatch.setenv("ORION_SPOOL", str(served.spool.path))
    answer = served.get("/api/traces")
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("application/json")
    expected = cli_json("list", "--json")
    assert without_volatile(answer.json()) == without_volatile(expected)
    assert set(answer.json()[0]) == set(expected[0])


@pytest.mark.parametrize("query, expect", [
    ("status=failed", {"failed", "hostile"}),
    ("failed=1", {"failed", "hostile"}),
    ("status=ok", {"ok"}),
    ("grep=parse_percent", {"failed"}),
    ("lang=c", set()),
    ("grep=ValueError&limit=1", {"hostile"}),  # newest first
    ("grep=ValueError&limit=1&offset=1", {"failed"}),
])
def test_traces_filters(served, query, expect):
    names = {served.failed_id: "failed", served.ok_id: "ok", served.hostile_id: "hostile"}
    answer = served.get("/api/traces?" + query)
    assert answer.status == 200
    assert {names[t["id"]] for t in answer.json()} == expect


@pytest.mark.parametrize("query", ["status=bogus", "grep=(", "limit=0", "limit=x",
                                   "since=yesterdayish"])
def test_bad_filters_are_400_with_a_json_error(served, query):
    answer = served.get("/api/traces?" + query)
    assert answer.status == 400
    assert answer.json()["error"]


def test_trace_summary_and_header_by_id_or_prefix(served):
    for ref in (served.failed_id, served.failed_id[:10]):
        answer = served.get(f"/api/trace/{ref}")
        assert answer.status == 200
        data = answer.json()
        assert data["id"] == served.failed_id
        assert data["summary"]["exception"]["type"] == "ValueError"
        assert data["header"]["env"]["vars"]["SHOP_API_TOKEN"] == {"t": "str", "redacted": True}


def test_replay_info_lanes_and_failing_path(served):
    data = served.get(f"/api/trace/{served.failed_id}/replay").json()
    assert data["lanes"][0]["name"] == "MainThread"
    assert [c["name"] for c in data["failing_path"]] == [
        "main", "process_order", "compute_total", "apply_discount", "parse_percentage"]
    assert data["exception_index"] == 7


@pytest.mark.parametrize("query, cli", [
    ("exception=1", ["--exception"]), ("at=3", ["--at", "3"]), ("at=-1", ["--at", "-1"]),
    ("time=52000", ["--time", "52000"])])
def test_state_is_replay_json(served, monkeypatch, query, cli):
    monkeypatch.setenv("ORION_SPOOL", str(served.spool.path))
    answer = served.get(f"/api/trace/{served.failed_id}/state?{query}")
    assert answer.status == 200
    data = answer.json()
    assert data.pop("move_error") is None
    assert data == cli_json("replay", served.failed_id, "--json", *cli)


def test_state_moves_like_the_replay_commands(served):
    base = f"/api/trace/{served.failed_id}/state?exception=1"
    out = served.get(base + "&move=back_out").json()
    assert out["event"] == {"kind": "call", "depth": 4, "function": "parse_percentage"}
    out = served.get(base + "&move=out").json()
    assert out["event"]["kind"] == "unwind" and out["event"]["function"] == "parse_percentage"
    first = served.get(f"/api/trace/{served.failed_id}/state?at=0&move=backward").json()
    assert first["index"] == 0 and "first event" in first["move_error"]
    assert served.get(base + "&move=teleport").status == 400


def test_state_bad_positions_are_400(served):
    for query in ("at=999", "at=x", "time=99999999"):
        answer = served.get(f"/api/trace/{served.failed_id}/state?{query}")
        assert answer.status == 400, query
        assert answer.json()["error"]


def test_timeline_windows_the_calls(served):
    whole = served.get(f"/api/trace/{served.failed_id}/timeline").json()
    assert [s["function"] for s in whole["spans"]][:3] == ["main", "load_cart", "process_order"]
    assert all(s["depth"] < 4 for s in whole["spans"])
    late = served.get(f"/api/trace/{served.failed_id}/timeline?start=50000&end=63000").json()
    assert "load_cart" not in {s["function"] for s in late["spans"]}


def test_graph_and_flame(served, monkeypatch):
    monkeypatch.setenv("ORION_SPOOL", str(served.spool.path))
    graph = served.get(f"/api/trace/{served.failed_id}/graph").json()
    expected = cli_json("graph", served.failed_id, "--json")
    assert {n["id"] for n in graph["nodes"]} == {n["id"] for n in expected["nodes"]}
    assert set(graph["layout"]) == {n["id"] for n in graph["nodes"]}
    modules = served.get(f"/api/trace/{served.failed_id}/graph?kind=module").json()
    assert [n["id"] for n in modules["nodes"]] == ["checkout"]
    assert served.get(f"/api/trace/{served.failed_id}/graph?kind=planet").status == 400
    flame = served.get(f"/api/trace/{served.failed_id}/flame").json()
    assert flame["value"] == 61_000
    assert flame["children"][0]["name"] == "checkout:main"


def test_graph_of_the_listed_traces_is_graph_json_of_them(served, monkeypatch):
    monkeypatch.setenv("ORION_SPOOL", str(served.spool.path))
    failed = served.get("/api/graph?status=failed").json()
    expected = cli_json("graph", served.failed_id, served.hostile_id, "--json")
    assert sorted(failed["traces"]) == sorted(expected["traces"])
    assert failed["nodes"] == expected["nodes"]
    assert failed["edges"] == expected["edges"]
    assert set(failed["layout"]) == {n["id"] for n in failed["nodes"]}
    every = served.get("/api/graph").json()  # no filter: the whole spool, merged
    whole = cli_json("graph", served.failed_id, served.ok_id, served.hostile_id, "--json")
    assert len(every["traces"]) == 3
    assert (every["nodes"], every["edges"]) == (whole["nodes"], whole["edges"])
    assert {"checkout:main", "app:main"} <= {n["id"] for n in every["nodes"]}
    assert served.get("/api/graph?grep=parse_percent&limit=1").json()["traces"] == [
        served.failed_id]
    assert served.get("/api/graph?lang=c").status == 404
    assert served.get("/api/graph?kind=planet").status == 400


@pytest.mark.parametrize("route", ["/api/trace/{failed}/graph", "/api/trace/{failed}/flame",
                                   "/api/diff?a={failed}&b={ok}"])
def test_whole_trace_answers_are_kept_until_the_file_changes(served, route):
    route = route.format(failed=served.failed_id, ok=served.ok_id)
    first = served.get(route)
    assert first.status == 200
    path = next(served.spool.path.glob(f"*{served.failed_id}.otrace"))
    stat = path.stat()
    path.write_bytes(b"\0" * stat.st_size)  # other bytes, same size and mtime:
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert served.get(route).body == first.body  # the kept answer (nothing read again)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a new mtime:
    assert served.get(route).status == 422  # read again, and now unreadable


def test_a_trace_still_being_written_is_replayed_as_it_grows(served):
    w = served.spool.open_writer(language="python", mode="dev")
    lane = w.lane("MainThread")
    step = w.function("step", "app", "app.py", 1)
    w.call(10, lane, step, w.encode_pairs({"n": 1}))
    w.flush()
    trace_id = w.trace_id
    first = served.get(f"/api/trace/{trace_id}/replay").json()
    assert first["events"] == 1
    w.ret(20, lane, 1)
    w.call(30, lane, step, w.encode_pairs({"n": 2}))
    w.flush()
    os.utime(w.path, ns=(0, os.stat(w.path).st_mtime_ns + 1_000_000))  # a coarse clock
    grown = served.get(f"/api/trace/{trace_id}/replay").json()
    assert grown["events"] == 3
    last = served.get(f"/api/trace/{trace_id}/state?at=2").json()
    assert last["stack"][-1]["args"] == {"n": 2}
    w.close(status="ok")


def test_diff_is_diff_json(served, monkeypatch):
    monkeypatch.setenv("ORION_SPOOL", str(served.spool.path))
    answer = served.get(f"/api/diff?a={served.failed_id}&b={served.ok_id[:8]}")
    assert answer.status == 200
    data = answer.json()
    side_by_side = data.pop("side_by_side")
    data.pop("tree")
    assert data == cli_json("diff", served.failed_id, served.ok_id, "--json")
    printed = run_orion("diff", "-y", served.failed_id, served.ok_id,
                        env={"COLUMNS": str(serve_api.SIDE_BY_SIDE_WIDTH)})
    assert side_by_side == printed.stdout.splitlines()
    assert served.get(f"/api/diff?a={served.failed_id}").status == 400


def test_diff_tree_opens_only_what_leads_to_a_difference(served, monkeypatch):
    """Two runs of one program, the second with ten more loop turns: the tree shows
    the first thousand turns as one folded row, then each extra turn (B only)."""
    monkeypatch.setenv("ORION_SPOOL", str(served.spool.path))
    a = trace_id_of(write_large_trace(served.spool, 3000))
    b = trace_id_of(write_large_trace(served.spool, 3030))
    answer = served.get(f"/api/diff?a={a}&b={b}").json()
    expected = cli_json("diff", a, b, "--json")
    rows = answer["tree"]["rows"]
    only_b = [r for r in rows if r["mark"] == "only_b"]
    assert len(only_b) == expected["counts"]["only_b"] == 10
    assert [r["b"]["args"] for r in only_b] == [d["b"]["args"] for d in expected["differences"]]
    firsts = [r for r in rows if r.get("first")]
    assert firsts == [only_b[0]]  # the row of `orion diff`'s first divergence
    assert firsts[0]["b"]["function"] == expected["first_divergence"]["function"]
    folded = [r for r in rows if r["mark"] == "folded"]
    assert folded and sum(r["calls"] for r in folded) > 2_900  # the same turns, one row
    assert len(rows) < 20
    assert rows[0]["mark"] == "leads" and rows[0]["a"]["function"] == "main"


@pytest.mark.parametrize("ref", ["0123456789abcdef", "zzz", "@", "%40~1", "x" * 300])
def test_unknown_ids_are_404_with_a_json_error(served, ref):
    for route in ("", "/state", "/graph", "/flame", "/timeline", "/replay"):
        answer = served.get(f"/api/trace/{ref}{route}")
        assert answer.status == 404, (ref, route)
        assert answer.headers["content-type"].startswith("application/json")
        assert "error" in answer.json()


def test_ambiguous_prefix_is_404(served):
    for _ in range(16):  # 19 traces: two ids surely share their first hex digit
        write_trace(served.spool)
    first = Counter(e.trace_id[0] for e in served.spool.entries()).most_common(1)[0][0]
    answer = served.get(f"/api/trace/{first}")
    assert answer.status == 404
    assert "ambiguous" in answer.json()["error"]


@pytest.mark.parametrize("path", [
    "/../../../etc/passwd", "/static/../../../etc/passwd", "/static/..%2f..%2fserver.py",
    "/static/%2e%2e/server.py", "/api/trace/..%2F..%2F..%2Fetc%2Fpasswd",
    "/api/trace/%2Fetc%2Fpasswd", "/api/trace//etc/passwd", "/trace/../../etc/passwd",
    "/static//etc/passwd", "/static/app.js/..", "/api/diff?a=/etc/passwd&b=..",
])
def test_traversal_is_refused(served, path):
    answer = served.get(path)
    assert 400 <= answer.status < 500, path
    assert b"root:" not in answer.body
    assert b"import" not in answer.body


def test_a_trace_path_is_no_id(served):
    """Ids are looked up: the path of a trace file, even inside the spool, names nothing."""
    path = next(served.spool.path.iterdir())
    answer = served.get("/api/trace/" + str(path).replace("/", "%2F"))
    assert answer.status == 404


def test_read_only_and_security_headers(served):
    for method in ("POST", "PUT", "DELETE"):
        assert served.get("/api/traces", method=method).status == 405
    for path in ("/", "/api/traces", "/static/app.js", f"/trace/{served.failed_id}"):
        answer = served.get(path)
        assert answer.status == 200, path
        csp = answer.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert answer.headers["x-content-type-options"] == "nosniff"
    page = served.get("/").body.decode()
    assert "<script>" not in page and "onclick" not in page  # no inline script at all


def test_loopback_refuses_other_host_names(served):
    """DNS rebinding: a page of another site resolving to 127.0.0.1 gets nothing."""
    assert served.get("/api/traces", headers={"Host": "evil.example"}).status == 403
    assert served.get("/api/traces", headers={"Host": "localhost:1"}).status == 200


def test_token_is_required_off_loopback(served):
    server = start_server(Catalog(served.spool), host="0.0.0.0", token="s3cret-token")
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        assert get(base, "/api/traces").status == 403
        assert get(base, "/").status == 403
        assert get(base, "/api/traces?token=wrong").status == 403
        assert get(base, "/api/traces", headers={"Authorization": "Bearer nope"}).status == 403
        first = get(base, "/?token=s3cret-token")
        assert first.status == 200
        cookie = first.headers["set-cookie"].split(";")[0]
        assert "HttpOnly" in first.headers["set-cookie"]
        assert get(base, "/api/traces", headers={"Cookie": cookie}).status == 200
        assert get(base, "/api/traces",
                   headers={"Authorization": "Bearer s3cret-token"}).status == 200
    finally:
        server.shutdown()
        server.server_close()


def test_given_paths_are_served_and_nothing_else(served, tmp_path):
    elsewhere = Spool(tmp_path / "elsewhere")
    outside = write_trace(elsewhere, root="outside_main")
    server = start_server(Catalog(Spool(tmp_path / "empty"), [Path(outside)]))
    try:
        listed = get(server.url, "/api/traces").json()
        assert [t["root"] for t in listed] == ["outside_main"]
        assert get(server.url, f"/api/trace/{listed[0]['id']}/state?at=0").status == 200
        assert get(server.url, f"/api/trace/{served.failed_id}").status == 404
    finally:
        server.shutdown()
        server.server_close()


def test_fingerprint_groups_filter_the_list(served, monkeypatch):
    monkeypatch.setenv("ORION_SPOOL", str(served.spool.path))
    expected = {t["id"]: t["fingerprints"] for t in cli_json("list", "--json")}
    for _ in range(100):  # computed in the background after the first listing
        listed = served.get("/api/traces").json()
        if all(t["fingerprints"] for t in listed):
            break
        time.sleep(0.1)
    assert {t["id"]: t["fingerprints"] for t in listed} == expected
    failure = expected[served.failed_id]["failure"]
    grouped = served.get(f"/api/traces?fingerprint={failure[:10]}").json()
    assert [t["id"] for t in grouped] == [served.failed_id]


def test_fingerprinting_a_big_trace_takes_no_cpu_from_the_server(tmp_path, monkeypatch):
    """Fingerprints are computed in a child process: a page opening a big trace while
    the list is fingerprinted does not share the server's GIL with that work."""
    spool = Spool(tmp_path / "spool")
    path = write_large_trace(spool, 150_000)
    alone = time.process_time()
    expected = streamed_fingerprints(path)
    alone = time.process_time() - alone
    server = start_server(Catalog(spool))  # in this process: its CPU time is ours
    try:
        spent = time.process_time()
        for _ in range(600):
            listed = get(server.url, "/api/traces").json()
            if listed[0]["fingerprints"]:
                break
            time.sleep(0.05)
        spent = time.process_time() - spent
    finally:
        server.shutdown()
        server.server_close()
    assert listed[0]["fingerprints"] == {"structural": expected.structural,
                                         "failure": expected.failure}
    assert spent < alone / 3, (spent, alone)


def _children_running(module: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[1]) == os.getpid() and module in (proc / "cmdline").read_text():
                found.append(int(proc.name))
        except (OSError, ValueError):
            continue
    return found


def _state_and_cpu(pid: int) -> tuple[str, int]:
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return stat[0], int(stat[11]) + int(stat[12])


def test_the_fingerprinting_child_waits_while_a_trace_loads(tmp_path):
    spool = Spool(tmp_path / "spool")
    write_large_trace(spool, 150_000)  # a second or more of fingerprinting
    catalog = Catalog(spool)
    server = start_server(catalog)
    try:
        assert get(server.url, "/api/traces").status == 200  # fingerprinting starts
        for _ in range(200):
            children = _children_running("orion.serve.fingerprinting")
            if children:
                break
            time.sleep(0.02)
        [child] = children
        with catalog.loading:  # what every load of a trace runs in
            for _ in range(100):
                if _state_and_cpu(child)[0] == "T":
                    break
                time.sleep(0.01)
            state, cpu = _state_and_cpu(child)
            time.sleep(0.3)
            assert state == "T" and _state_and_cpu(child) == (state, cpu)  # stopped
        for _ in range(600):  # resumed: the fingerprints come
            if get(server.url, "/api/traces").json()[0]["fingerprints"]:
                break
            time.sleep(0.05)
        assert get(server.url, "/api/traces").json()[0]["fingerprints"]
    finally:
        server.shutdown()
        server.server_close()


def test_a_deep_link_starts_loading_its_trace_before_the_page_asks(served):
    catalog = served.server.api.catalog
    entry = catalog.find(served.failed_id)
    assert catalog.cached(entry) is None
    assert served.get(f"/trace/{served.failed_id}").status == 200  # the page's HTML only
    for _ in range(600):
        if catalog.cached(entry) is not None:
            break
        time.sleep(0.05)
    loaded = catalog.cached(entry)
    assert loaded is not None
    replay = served.get(f"/api/trace/{served.failed_id}/replay")
    assert replay.status == 200 and replay.json()["events"] == len(loaded.replay.steps)
    assert catalog.cached(entry) is loaded  # the page's request took the load made for it
    for ref in ("0" * 32, "not-an-id", "%2e%2e"):  # no trace: the page all the same
        assert served.get(f"/trace/{ref}").status == 200


def test_head_of_live_ends(served):
    answer = served.get("/api/live", method="HEAD")
    assert answer.status == 200 and answer.headers["content-type"] == "text/event-stream"


def test_a_diff_too_big_for_the_server_is_413(served, monkeypatch):
    monkeypatch.setattr(serve_api, "DIFF_MAX_RECORDS", 30)  # the demo trace has 45 records
    answer = served.get(f"/api/diff?a={served.failed_id}&b={served.ok_id}")
    assert answer.status == 413
    assert "orion diff" in answer.json()["error"]


def test_a_corrupt_trace_is_skipped_in_the_list_and_422_when_opened(served):
    good = next(served.spool.path.glob(f"*{served.ok_id}.otrace"))
    bad_id = "f" * 32
    bad = good.with_name(good.name.replace(served.ok_id, bad_id))
    bad.write_bytes(good.read_bytes()[:40] + b"\xff" * 200)
    listed = served.get("/api/traces")
    assert listed.status == 200 and bad_id not in {t["id"] for t in listed.json()}
    for route in ("", "/replay", "/state?at=0", "/graph", "/flame"):
        answer = served.get(f"/api/trace/{bad_id}{route}")
        assert answer.status == 422, route
        assert answer.json()["error"].startswith("cannot read the trace")


def test_a_stopped_server_leaves_no_work_running(tmp_path):
    spool = Spool(tmp_path / "spool")
    for _ in range(1000):  # seconds of fingerprinting
        write_trace(spool, calls=30)
    server = start_server(Catalog(spool))
    assert get(server.url, "/api/traces").status == 200  # fingerprinting starts
    server.shutdown()
    server.server_close()
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline and any(
            t.name in ("orion-fingerprints", "orion-listing") and t.is_alive()
            for t in threading.enumerate()):
        time.sleep(0.05)
    assert not [t.name for t in threading.enumerate()
                if t.name in ("orion-fingerprints", "orion-listing") and t.is_alive()]
