"""Call graph aggregation: counts, total/self time, errors, percentiles, views, focus."""

from __future__ import annotations

from pathlib import Path

from orion.analysis.callgraph import build_graph, percentile

from ..export.sample import write_rich_trace


def recursive_trace(spool, start_ns: int, fail: bool) -> Path:
    """main -> fib -> fib -> fib (recursion) and main -> log (another module)."""
    w = spool.open_writer(language="python", start_ns=start_ns, service="calc")
    lane = w.lane("MainThread")
    main = w.function("main", "calc", "calc.py", 1)
    fib = w.function("fib", "calc", "calc.py", 5)
    log = w.function("log", "util", "util.py", 1)
    w.call(0, lane, main)
    w.call(10, lane, fib)
    w.call(20, lane, fib)
    w.call(30, lane, fib)
    w.ret(40, lane)
    w.ret(50, lane)
    w.ret(60, lane)
    w.call(70, lane, log)
    if fail:
        w.exception(75, lane, "OSError", "no space")
        w.unwind(80, lane, 2)
        w.unwind(100, lane, 3)
    else:
        w.ret(80, lane)
        w.ret(100, lane)
    w.close(status="failed" if fail else "ok")
    return Path(w.path)


def test_function_graph_counts_times_and_errors(spool):
    paths = [recursive_trace(spool, 10**18 + i, fail=i == 1) for i in range(3)]
    graph = build_graph(paths)
    fib, main, log = graph.nodes["calc:fib"], graph.nodes["calc:main"], graph.nodes["util:log"]
    assert (fib.calls, fib.total_ns, fib.self_ns) == (9, 3 * 50, 3 * 50)  # recursion once
    assert sorted(fib.durations) == [10] * 3 + [30] * 3 + [50] * 3
    assert (main.calls, main.total_ns, main.self_ns) == (3, 300, 3 * (100 - 50 - 10))
    assert (log.calls, log.errors) == (3, 1)
    assert log.recent_failures() == [paths[1].stem.split("-")[1]]
    edges = {key: (e.calls, e.errors, e.total_ns) for key, e in graph.edges.items()}
    assert edges == {("calc:main", "calc:fib"): (3, 0, 150),
                     ("calc:fib", "calc:fib"): (6, 0, 120),
                     ("calc:main", "util:log"): (3, 1, 30)}
    data = graph.to_json()
    node = next(n for n in data["nodes"] if n["id"] == "calc:fib")
    assert node["p50_ns"] == 30 and node["p95_ns"] == 50
    assert data["traces"] == [p.stem.split("-")[1] for p in paths]


def test_module_and_service_graphs_collapse_at_boundaries(spool):
    paths = [recursive_trace(spool, 10**18, fail=True)]
    modules = build_graph(paths, "module")
    assert set(modules.nodes) == {"calc", "util"}
    assert modules.nodes["calc"].calls == 1 and modules.nodes["calc"].total_ns == 100
    assert modules.nodes["calc"].self_ns == 90
    assert {k: e.calls for k, e in modules.edges.items()} == {("calc", "util"): 1}
    services = build_graph(paths, "service")
    assert set(services.nodes) == {"calc"} and not services.edges


def test_threads_link_to_the_call_that_started_them(spool):
    graph = build_graph([Path(write_rich_trace(spool))])
    assert ("shop.app:handle", "shop.jobs:work") in graph.edges
    assert graph.nodes["shop.app:handle"].self_ns == 650 - 100 - 100  # not minus the thread


def test_focus_and_depth(spool):
    graph = build_graph([Path(write_rich_trace(spool))])
    near = graph.focused(graph.find("handle"), depth=1)
    assert set(near.nodes) == {"shop.app:main", "shop.app:handle", "shop.parse:parse",
                               "shop.db:save", "shop.jobs:work"}
    assert set(graph.focused(graph.find("work")).nodes) == {
        "shop.app:main", "shop.app:handle", "shop.jobs:work", "shop.jobs:helper"}
    assert set(graph.shallow(2).nodes) == {"shop.app:main", "shop.app:handle",
                                           "shop.jobs:work", "shop.jobs:helper"}


def test_percentile_is_nearest_rank():
    assert percentile([], 50) is None
    assert percentile([1, 2, 3, 4], 50) == 2 and percentile(list(range(1, 101)), 95) == 95


def test_service_graph_of_an_imported_multi_service_trace(spool, tmp_path):
    import json

    from click.testing import CliRunner

    from orion.cli import cli

    trace = "0af7651916cd43dd8448eb211c80319c"

    def resource(service, spans):
        return {"resource": {"attributes": [{"key": "service.name",
                                             "value": {"stringValue": service}}]},
                "scopeSpans": [{"scope": {"name": "otel"}, "spans": [
                    {"traceId": trace, "spanId": sid, "parentSpanId": parent, "name": name,
                     "kind": kind, "startTimeUnixNano": str(start),
                     "endTimeUnixNano": str(end), "status": {"code": status}}
                    for sid, parent, name, kind, start, end, status in spans]}]}

    doc = {"resourceSpans": [
        resource("frontend", [("00000000000000f1", "", "GET /checkout", 2, 0, 1000, 2),
                              ("00000000000000f2", "00000000000000f1", "call billing", 3,
                               100, 900, 2)]),
        resource("billing", [("00000000000000b1", "00000000000000f2", "POST /charge", 2,
                              200, 800, 2)])]}
    source = tmp_path / "otlp.json"
    source.write_text(json.dumps(doc))
    assert CliRunner().invoke(cli, ["import", str(source)]).exit_code == 0
    graph = build_graph([spool.entries()[0].path], "service")
    assert set(graph.nodes) == {"frontend", "billing"}
    assert {k: (e.calls, e.errors) for k, e in graph.edges.items()} == {
        ("frontend", "billing"): (1, 1)}
    assert graph.nodes["billing"].recent_failures() == [trace]
    functions = build_graph([spool.entries()[0].path])
    assert ("call billing", "POST /charge") in functions.edges


def test_service_graph_links_a_process_to_the_child_it_started(spool):
    """The child's header names its parent's trace: frontend -> backend, with its time."""
    parent_id = "ab" * 16
    for service, trace_id, parent, fails in (
            ("frontend", parent_id, None, False), ("backend", "cd" * 16,
                                                   {"trace_id": parent_id, "span_id": "1" * 16},
                                                   True)):
        w = spool.open_writer(language="python", service=service, trace_id=trace_id,
                              parent=parent)
        lane = w.lane("MainThread")
        w.call(0, lane, w.function("main", service, f"{service}.py", 1))
        if fails:
            w.unwind(40, lane, 2)
        else:
            w.ret(40, lane)
        w.close(status="failed" if fails else "ok")
    graph = build_graph([entry.path for entry in spool.entries()], "service")
    [edge] = graph.edges.values()
    assert (edge.caller, edge.callee, edge.calls, edge.errors, edge.total_ns) == (
        "frontend", "backend", 1, 1, 40)
    assert build_graph([spool.entries()[0].path], "service").edges == {}  # parent missing
