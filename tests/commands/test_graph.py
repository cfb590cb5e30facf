"""`orion graph`: DOT read back through Graphviz, images, JSON, flame graph SVG."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections import Counter

import pytest

from ..conftest import invoke as orion
from ..export.sample import write_rich_trace

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot not installed")
SVG = "{http://www.w3.org/2000/svg}"


def expected_graph(spool) -> tuple[set, set]:
    """Nodes and edges of the sample traces, straight from the model."""
    from orion.model import load_trace
    nodes, edges = set(), set()
    for entry in spool.entries():
        trace = load_trace(entry.path)
        pending = [(root, None, lane) for lane in trace.lanes.values() for root in lane.roots]
        while pending:
            call, parent, lane = pending.pop()
            name = f"{call.fn.module}:{call.fn.name}"
            nodes.add(name)
            if parent is not None:
                edges.add((parent, name))
            pending.extend((child, name, lane) for child in call.children)
    edges.add(("shop.app:handle", "shop.jobs:work"))  # the worker thread started in handle
    return nodes, edges


@needs_dot
def test_dot_output_read_back_by_graphviz_matches_the_traces(spool):
    failed = write_rich_trace(spool, start_ns=10**18)
    write_rich_trace(spool, start_ns=10**18 + 1, fail=False)
    ids = "".join(e.trace_id + "\n" for e in spool.entries())
    result = orion("graph", "-", "--format", "dot", input=ids)
    assert result.exit_code == 0, result.output
    layout = subprocess.run(["dot", "-Tjson"], input=result.stdout, capture_output=True,
                            text=True, check=True)
    doc = json.loads(layout.stdout)
    objects = doc["objects"]
    clusters = {o["name"] for o in objects if "nodes" in o}
    assert clusters == {"cluster_shop.app", "cluster_shop.db", "cluster_shop.parse",
                        "cluster_shop.jobs"}
    names = {o["name"] for o in objects} - clusters
    edges = {(objects[e["tail"]]["name"], objects[e["head"]]["name"]) for e in doc["edges"]}
    assert (names, edges) == expected_graph(spool)
    labels = {o["name"]: o["label"] for o in objects}
    assert "2 calls" in labels["shop.db:save"] and "errors 1 (50%)" in labels["shop.db:save"]
    failing = failed.rsplit("-", 1)[1].split(".")[0]
    assert f"failing: {failing[:12]}" in labels["shop.db:save"]
    assert "p50" in labels["shop.app:main"] and "p95" in labels["shop.app:main"]


@needs_dot
def test_images_by_suffix_and_module_graph(spool, tmp_path):
    write_rich_trace(spool)
    target = tmp_path / "modules.svg"
    result = orion("graph", "@", "--kind", "module", "-o", str(target))
    assert result.exit_code == 0, result.output
    root = ET.parse(target).getroot()
    titles = {t.text for t in root.iter(SVG + "title")}
    assert {"shop.app", "shop.db", "shop.parse", "shop.jobs"} <= titles
    png = tmp_path / "g.png"
    assert orion("graph", "@", "-o", str(png)).exit_code == 0
    assert png.read_bytes().startswith(b"\x89PNG")


def test_json_aggregate_and_service_graph(spool):
    write_rich_trace(spool)
    data = json.loads(orion("graph", "@", "--json").stdout)
    assert {n["id"] for n in data["nodes"]} >= {"shop.app:main", "shop.db:save"}
    services = json.loads(orion("graph", "@", "--kind", "service", "--json").stdout)
    assert [n["id"] for n in services["nodes"]] == ["shop"]


def test_focus_on_an_unknown_function_is_a_usage_error(spool):
    write_rich_trace(spool)
    result = orion("graph", "@", "--focus", "nope")
    assert result.exit_code == 2 and "nope" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--flame", "--json"], "does not take --json"),
    (["--flame", "--focus", "main", "--depth", "1"], "does not take --focus, --depth"),
    (["--flame", "--kind", "service"], "does not take --kind"),
    (["--flame", "--format", "pdf"], "does not take --format"),
    (["--json", "--format", "png"], "alternatives"),
    (["--json", "-o", "graph.png"], "the name says png but the output is JSON"),
    (["--format", "pdf", "-o", "graph.svg"], "the name says svg but the output is pdf"),
])
def test_options_that_cannot_all_be_honoured_are_refused(spool, tmp_path, args, message):
    write_rich_trace(spool)
    args = [str(tmp_path / arg) if arg.startswith("graph.") else arg for arg in args]
    result = orion("graph", "@", *args)
    assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert list(tmp_path.glob("graph.*")) == []


def folded_totals(text: str) -> Counter:
    """Inclusive weight of every stack prefix, from `orion export --format folded`."""
    totals: Counter = Counter()
    for line in text.splitlines():
        stack, weight = line.rsplit(" ", 1)
        frames = stack.split(";")
        for depth in range(1, len(frames) + 1):
            totals[";".join(frames[:depth])] += int(weight)
    return totals


def test_flame_graph_svg_widths_match_the_folded_totals(spool, tmp_path):
    write_rich_trace(spool)
    folded = orion("export", "@", "--format", "folded")
    assert folded.exit_code == 0
    totals = folded_totals(folded.stdout)
    target = tmp_path / "flame.svg"
    result = orion("graph", "@", "--flame", "-o", str(target))
    assert result.exit_code == 0, result.output
    root = ET.parse(target).getroot()  # well-formed XML, or this raises
    assert root.tag == SVG + "svg"
    scale = float(root.get("data-scale"))
    frames = {r.get("data-stack"): r for r in root.iter(SVG + "rect") if r.get("data-stack")}
    assert set(frames) == set(totals)
    for stack, rect in frames.items():
        assert int(rect.get("data-value")) == totals[stack]
        assert float(rect.get("width")) == pytest.approx(totals[stack] * scale)
    assert float(root.get("data-total")) == sum(
        int(line.rsplit(" ", 1)[1]) for line in folded.stdout.splitlines())


def replay_evented(profile: dict, frames: list[str]) -> tuple[Counter, list[tuple]]:
    """Self time per stack, and (frame, open, close) per call, from an evented profile's
    O/C events, checking they nest and run forward in time."""
    stack: list[tuple[int, int]] = []
    self_ns, calls, last = Counter(), [], profile["startValue"]
    for event in profile["events"]:
        assert event["at"] >= last
        if stack:
            self_ns[";".join(frames[f] for f, _ in stack)] += event["at"] - last
        last = event["at"]
        if event["type"] == "O":
            stack.append((event["frame"], event["at"]))
        else:
            frame, opened = stack.pop()
            assert frame == event["frame"]
            calls.append((frames[frame], opened, event["at"]))
    assert not stack and last <= profile["endValue"]
    return self_ns, calls


def test_speedscope_export_is_evented_per_lane(spool):
    """Each call opens and closes its frame at its own times (the time-order view shows
    calls when they ran), and the self times add up to the folded export's."""
    from orion.model import load_trace
    trace = load_trace(write_rich_trace(spool))
    doc = json.loads(orion("export", "@", "--format", "speedscope").stdout)
    assert doc["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    assert isinstance(doc["version"], str)  # required by speedscope's file format spec
    frames = [f["name"] for f in doc["shared"]["frames"]]
    assert {"name": "shop.db:save", "file": "shop/db.py", "line": 7} in doc["shared"]["frames"]
    weights, calls = Counter(), []
    for profile in doc["profiles"]:
        assert profile["type"] == "evented" and profile["unit"] == "nanoseconds"
        lane_weights, lane_calls = replay_evented(profile, frames)
        weights += lane_weights
        calls += lane_calls
    folded = orion("export", "@", "--format", "folded").stdout
    assert weights == Counter({line.rsplit(" ", 1)[0]: int(line.rsplit(" ", 1)[1])
                               for line in folded.splitlines()})
    expected, pending = [], [r for lane in trace.lanes.values() for r in lane.roots]
    while pending:
        call = pending.pop()
        expected.append((f"{call.fn.module}:{call.fn.name}", call.start, call.end))
        pending.extend(call.children)
    assert sorted(calls) == sorted(expected)
    assert sorted(p["name"] for p in doc["profiles"]) == ["MainThread", "worker-1"]


def test_speedscope_spills_a_large_trace_to_disk(spool):
    """Past SPILL_EVENTS held events, lanes go to temporary files and come back in order."""
    from orion.export.speedscope import SPILL_EVENTS
    w = spool.open_writer(language="python")
    lanes = [w.lane("MainThread"), w.lane("worker", parent=0)]
    fns = [w.function(f"f{i}", "app", "app.py", i) for i in range(3)]
    rounds = SPILL_EVENTS // 6 + 1  # 8 events a round over the two lanes
    t = 0
    for round_ in range(rounds):
        for lane in lanes:
            t += 10
            w.call(t, lane, fns[round_ % 3])
            w.call(t + 1, lane, fns[(round_ + 1) % 3])
            w.ret(t + 2, lane)
            w.ret(t + 3, lane)
    w.close(status="ok")
    doc = json.loads(orion("export", "@", "--format", "speedscope").stdout)
    frames = [f["name"] for f in doc["shared"]["frames"]]
    for profile in doc["profiles"]:
        assert len(replay_evented(profile, frames)[1]) == 2 * rounds


def test_flame_frames_name_the_module(spool):
    """Two `main`s in different modules stay two frames (they were merged by name)."""
    w = spool.open_writer(language="python")
    lane = w.lane("MainThread")
    for t, module in ((0, "tool.cli"), (100, "tool.server")):
        w.call(t, lane, w.function("main", module, module.replace(".", "/") + ".py", 1))
        w.ret(t + 50, lane)
    w.close(status="ok")
    folded = orion("export", "@", "--format", "folded").stdout.splitlines()
    assert folded == ["tool.cli:main 50", "tool.server:main 50"]
