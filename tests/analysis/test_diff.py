"""Tree diff: identity, one injected change reported once at its place, real-world shapes."""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orion.analysis.diff import (ARGS, CALLS, EVENTFUL, EXCEPTION, ONLY_A, ONLY_B, OUTCOME,
                                 RETURN, TIMING, DiffOptions, EventfulTrace, align, diff_files,
                                 diff_traces, function_times, result_json)
from orion.model import load_trace
from orion.spool import Spool

from .trees import node, write_tree

NO_TIMING = DiffOptions(timing=False)

names = st.sampled_from(["parse", "load", "save", "check", "emit"])


def trees(max_depth: int = 3):
    leaf = st.builds(lambda fn, x, v: node(fn, args={"x": x}, value=v),
                     names, st.integers(0, 3), st.integers(0, 2))
    return st.recursive(
        leaf,
        lambda kids: st.builds(lambda fn, x, calls: node(fn, *calls, args={"x": x}),
                               names, st.integers(0, 3), st.lists(kids, max_size=4)),
        max_leaves=12,
    )


def paths(root: dict) -> list[list[int]]:
    """Every node's index path from the root ([] is the root)."""
    out, stack = [], [[]]
    while stack:
        path = stack.pop()
        out.append(path)
        target = at(root, path)
        stack.extend(path + [k] for k in range(len(target["calls"])))
    return out


def at(root: dict, path: list[int]) -> dict:
    for k in path:
        root = root["calls"][k]
    return root


def labels(root: dict, path: list[int]) -> list[str]:
    out = [root["fn"]]
    for k in path:
        root = root["calls"][k]
        out.append(root["fn"])
    return out


def run_diff(tmp_path, a_roots, b_roots, options=NO_TIMING):
    spool = Spool(tmp_path / "spool")
    a = load_trace(write_tree(spool, a_roots))
    b = load_trace(write_tree(spool, b_roots))
    return diff_traces(a, b, options)


SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(root=trees())
def test_a_trace_diffed_with_itself_has_no_differences(tmp_path, root):
    spool = Spool(tmp_path / "spool")
    trace = load_trace(write_tree(spool, [root]))
    result = diff_traces(trace, load_trace(trace.path))
    assert result.same and result.differences == []
    assert result_json(result)["first_divergence"] is None


@SETTINGS
@given(root=trees(), data=st.data())
def test_one_extra_call_is_reported_once_where_it_was_made(tmp_path, root, data):
    path = data.draw(st.sampled_from(paths(root)))
    changed = copy.deepcopy(root)
    parent = at(changed, path)
    position = data.draw(st.integers(0, len(parent["calls"])))
    parent["calls"].insert(position, node("injected", args={"x": 1}, value=0))
    result = run_diff(tmp_path, [root], [changed])
    assert [d.kind for d in result.differences] == [ONLY_B]
    difference = result.differences[0]
    assert [c.label for c in difference.b_path] == labels(root, path) + ["injected"]
    assert result.first_divergence is difference


@SETTINGS
@given(root=trees(), data=st.data())
def test_one_different_argument_is_reported_once_at_that_call(tmp_path, root, data):
    path = data.draw(st.sampled_from(paths(root)))
    changed = copy.deepcopy(root)
    at(changed, path)["args"] = {"x": 999}
    result = run_diff(tmp_path, [root], [changed])
    assert [d.kind for d in result.differences] == [ARGS]
    difference = result.differences[0]
    assert [c.label for c in difference.a_path] == labels(root, path)
    assert difference.detail["changed"]["x"][1] == 999


def failing(root: dict, path: list[int], error: tuple[str, str]) -> dict:
    """`root` where the node at `path` raises `error` and its callers unwind."""
    root = copy.deepcopy(root)
    current = root
    for k in path:
        current["unwinds"] = True
        del current["calls"][k + 1:]  # nothing after the failing call runs
        current = current["calls"][k]
    current["raises"] = error
    current.pop("value", None)
    return root


@SETTINGS
@given(root=trees(), data=st.data())
def test_one_different_exception_is_reported_once_where_it_was_raised(tmp_path, root, data):
    path = data.draw(st.sampled_from(paths(root)))
    a = failing(root, path, ("KeyError", "'sku'"))
    b = failing(root, path, ("IndexError", "list index out of range"))
    result = run_diff(tmp_path, [a], [b])
    assert [d.kind for d in result.differences] == [EXCEPTION]
    difference = result.differences[0]
    assert [c.label for c in difference.a_path] == labels(a, path)
    assert difference.detail["a"]["type"] == "KeyError"
    assert difference.detail["b"]["type"] == "IndexError"


def test_passing_versus_failing_run_diverges_where_the_exception_starts(tmp_path):
    ok = [node("test_total", node("load", value=1), node("total", node("parse", value=1.5),
                                                            value=3))]
    bad = [node("test_total", node("load", value=1),
                node("total", node("parse", raises=("ValueError", "bad")), unwinds=True),
                unwinds=True)]
    result = run_diff(tmp_path, ok, bad)
    first = result.first_divergence
    assert first.kind == OUTCOME and first.function == "parse"
    assert [c.label for c in first.b_path] == ["test_total", "total", "parse"]
    assert [d.kind for d in result.differences] == [OUTCOME]


def test_return_values_and_calls_on_one_side(tmp_path):
    a = [node("main", node("f", value=1), node("g", node("h", value=0), value=2))]
    b = [node("main", node("f", value=5), node("k", value=2))]
    result = run_diff(tmp_path, a, b)
    kinds = [(d.kind, d.function) for d in result.differences]
    assert kinds == [(RETURN, "f"), (ONLY_A, "g"), (ONLY_B, "k")]
    assert result.differences[1].detail["calls"] == 1  # g's subtree
    assert result.first_divergence.function == "g"
    shape = result_json(result)
    assert shape["first_divergence"]["parent"] == "main"
    assert shape["counts"] == {"return": 1, "only_a": 1, "only_b": 1}


def test_addresses_in_reprs_are_not_differences(tmp_path):
    a = [node("main", args={"o": {"t": "Foo", "text": "<Foo object at 0x7f13b0208190>"}})]
    b = [node("main", args={"o": {"t": "Foo", "text": "<Foo object at 0x7f2fe7c70190>"}})]
    assert run_diff(tmp_path, a, b).same


def test_mock_ids_in_reprs_are_not_differences(tmp_path):
    # unittest.mock writes the address in decimal: two runs of one suite differed there.
    def mocked(id_: str, name: str = "groupby") -> list[dict]:
        return [node("test_calls", args={"m": f"<MagicMock name='{name}' id='{id_}'>"})]
    assert run_diff(tmp_path, mocked("140100298356560"), mocked("139753739105296")).same
    assert not run_diff(tmp_path, mocked("140100298356560"),
                        mocked("140100298356560", "chain")).same


def test_timing_changes_above_the_threshold(tmp_path):
    roots = [node("main", node("slow", value=1), node("fast", value=1))]
    spool = Spool(tmp_path / "spool")
    a = load_trace(write_tree(spool, roots, durations={"slow": 2_000_000, "fast": 10}))
    b = load_trace(write_tree(spool, roots, durations={"slow": 9_000_000, "fast": 30}))
    result = diff_traces(a, b, DiffOptions(time_threshold=0.5, time_min_ns=1_000_000))
    timing = [d for d in result.differences if d.kind == TIMING]
    assert {d.detail["function"] for d in timing} == {"slow", "main"}  # fast: under 1 ms
    assert diff_traces(a, b, DiffOptions(time_threshold=10, time_min_ns=1)).same


def test_lanes_pair_by_name(tmp_path):
    a = write_tree(Spool(tmp_path / "s"), [node("main")], lanes={"worker": [node("job")]})
    b = write_tree(Spool(tmp_path / "s"), [node("main")], lanes={"worker": [node("job2")]})
    result = diff_traces(load_trace(a), load_trace(b), NO_TIMING)
    assert [(d.kind, d.lane) for d in result.differences] == [(ONLY_A, "worker"),
                                                               (ONLY_B, "worker")]


def test_lanes_of_one_name_pair_in_order(tmp_path):
    """Two threads a program names alike: the first with the first, the second with the
    second (the second was left unpaired on one side)."""
    spool = Spool(tmp_path / "s")
    paths = []
    for _ in range(2):
        w = spool.open_writer(language="c")
        for k, job in enumerate(("fetch", "store")):
            lane = w.lane("worker")
            w.call(k * 10, lane, w.function(job, "app", "app.c", k + 1))
            w.ret(k * 10 + 5, lane)
        w.close(status="ok")
        paths.append(w.path)
    assert diff_traces(load_trace(paths[0]), load_trace(paths[1]), NO_TIMING).same


def test_large_sibling_lists_align(tmp_path):
    many = [node("step", args={"i": i % 5}, value=0) for i in range(600)]
    changed = copy.deepcopy(many)
    changed.insert(300, node("extra"))
    result = run_diff(tmp_path, [node("main", *many)], [node("main", *changed)])
    assert [d.kind for d in result.differences] == [ONLY_B]


def test_align_is_symmetric_in_size():
    assert align([], []) == []


# -- bounded: eventful calls and per-function counts (what big traces are compared by) -------

def eventful_diff(tmp_path, a_roots, b_roots, options=NO_TIMING):
    spool = Spool(tmp_path / "spool")
    result = diff_files(write_tree(spool, a_roots), write_tree(spool, b_roots), options,
                        tree_max_calls=0)
    assert result.compared == EVENTFUL and result_json(result)["compared"] == EVENTFUL
    return result


@SETTINGS
@given(root=trees(), data=st.data())
def test_eventful_diff_finds_a_different_exception_where_the_tree_diff_does(tmp_path, root,
                                                                           data):
    path = data.draw(st.sampled_from(paths(root)))
    a = failing(root, path, ("KeyError", "'sku'"))
    b = failing(root, path, ("IndexError", "list index out of range"))
    whole, bounded = run_diff(tmp_path, [a], [b]), eventful_diff(tmp_path, [a], [b])
    assert [(d.kind, [c.label for c in d.a_path], d.detail) for d in bounded.differences] == \
        [(d.kind, [c.label for c in d.a_path], d.detail) for d in whole.differences]
    assert eventful_diff(tmp_path, [a], [a]).same


@SETTINGS
@given(root=trees(), data=st.data())
def test_eventful_diff_counts_an_extra_call(tmp_path, root, data):
    changed = copy.deepcopy(root)
    parent = at(changed, data.draw(st.sampled_from(paths(root))))
    parent["calls"].insert(data.draw(st.integers(0, len(parent["calls"]))),
                           node("injected", args={"x": 1}, value=0))
    result = eventful_diff(tmp_path, [root], [changed])
    assert [(d.kind, d.detail) for d in result.differences] == [
        (CALLS, {"function": "injected", "a_calls": 0, "b_calls": 1})]


@SETTINGS
@given(root=trees(), data=st.data())
def test_streamed_function_times_are_the_whole_trees(tmp_path, root, data):
    failed = failing(root, data.draw(st.sampled_from(paths(root))), ("KeyError", "'k'"))
    path = write_tree(Spool(tmp_path / "spool"), [root, failed], step=data.draw(
        st.integers(1, 50)))
    assert EventfulTrace.read(path).times == function_times(load_trace(path))


def test_eventful_calls_keep_the_size_of_what_they_drop(tmp_path):
    quiet = [node("parse", node("split", value=1), value=1) for _ in range(5)]
    a = [node("main", *quiet, node("save", node("write", raises=("OSError", "full")),
                                    unwinds=True), unwinds=True)]
    b = [node("main", *quiet, node("save", value=True), value=0)]
    # B passed: its main and save are kept as the partners of A's failing ones.
    [only_a] = [d for d in eventful_diff(tmp_path, a, b).differences if d.kind != CALLS]
    assert [c.label for c in only_a.a_path] == ["main", "save", "write"]
    assert [d.kind for d in run_diff(tmp_path, a, b).differences] == [only_a.kind] == [ONLY_A]
    whole = load_trace(write_tree(Spool(tmp_path / "s"), a))
    kept = EventfulTrace.read(whole.path).trace
    [main] = kept.lane(next(iter(kept.lanes))).roots
    assert [c.label for c in main.children] == ["save"] and main.dropped == 10
