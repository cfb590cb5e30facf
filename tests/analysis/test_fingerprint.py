"""Fingerprints: same path with other values or repetition counts -> same; other path ->
different; same bug with other data -> same failure fingerprint."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from orion.analysis.fingerprint import (FingerprintCache, explain_structure, fingerprints,
                                        fold_repeats, streamed_fingerprints, structure)
from orion.model import load_trace
from orion.spool import Spool

from ..sample_traces import write_large_trace
from .trees import PROGRAM, node, write_program, write_tree


def countdown(n: int, last: dict | None = None) -> dict:
    """countdown(n) -> countdown(n-1) -> ... -> countdown(0), each calling tick first."""
    inner = node("countdown", node("tick", args={"n": 0}), *([last] if last else []),
                 args={"n": 0})
    for k in range(1, n + 1):
        inner = node("countdown", node("tick", args={"n": k}), inner, args={"n": k})
    return inner


def program(n: int, items: int, value: int = 1) -> list[dict]:
    loop = [node("process", node("validate", args={"i": i}, value=value), args={"i": i})
            for i in range(items)]
    return [node("main", node("load", value=value), *loop, countdown(n), args={"n": n})]


def fp(tmp_path, roots, **options):
    return fingerprints(load_trace(write_tree(Spool(tmp_path / "spool"), roots, **options)))


def test_same_path_with_other_values_loop_counts_and_recursion_depths(tmp_path):
    a = fp(tmp_path, program(n=2, items=3, value=1))
    b = fp(tmp_path, program(n=9, items=7, value=42))
    assert a.structural == b.structural and a.structural.startswith("s1:")
    assert a.failure is None


def parity(n: int, fails: bool = False) -> list[dict]:
    """is_even(n) -> is_odd(n-1) -> is_even(n-2) ... -> base(), mutual recursion."""
    inner = node("base", raises=("ValueError", "bad")) if fails else node("base", value=True)
    for k in range(n + 1):
        inner = node("is_even" if k % 2 == 0 else "is_odd", inner, args={"n": k},
                     unwinds=fails)
    return [node("main", inner, unwinds=fails)]


def test_mutual_recursion_depth_is_folded_too(tmp_path):
    shallow, deep = fp(tmp_path, parity(2)), fp(tmp_path, parity(8))
    assert shallow.structural == deep.structural
    assert fp(tmp_path, parity(4, fails=True)).failure == fp(tmp_path, parity(8, fails=True)).failure
    explained = "\n".join(explain_structure(structure(load_trace(write_tree(
        Spool(tmp_path / "spool"), parity(8))))))
    assert explained.count("app:is_odd") == 1 and explained.count("app:is_even") == 1


def test_different_paths_differ(tmp_path):
    base = fp(tmp_path, program(2, 3))
    other = [node("main", node("load"), node("save"), countdown(2))]
    assert fp(tmp_path, other).structural != base.structural
    reordered = [node("main", countdown(2), node("load"))]
    assert fp(tmp_path, reordered).structural != base.structural


def test_lanes_are_a_set(tmp_path):
    worker = [node("job", node("fetch"))]
    three = fp(tmp_path, [node("main")], lanes={f"w{i}": worker for i in range(3)})
    eight = fp(tmp_path, [node("main")], lanes={f"pool-{i}": worker for i in range(8)})
    assert three.structural == eight.structural


def failing_checkout(sku: str, depth: int) -> list[dict]:
    """The same bug (a KeyError in lookup) reached through a recursion of some depth."""
    inner = node("lookup", args={"sku": sku}, raises=("KeyError", repr(sku)))
    for _ in range(depth):
        inner = node("walk", inner, unwinds=True)
    return [node("main", node("load", value=sku), inner, unwinds=True)]


def test_failure_fingerprint_groups_the_same_bug(tmp_path):
    a = fp(tmp_path, failing_checkout("pen", 2))
    b = fp(tmp_path, failing_checkout("book", 5))
    assert a.failure == b.failure and a.failure.startswith("f1:")
    other_type = [node("main", node("lookup", raises=("ValueError", "x")), unwinds=True)]
    other_place = [node("main", node("save", raises=("KeyError", "x")), unwinds=True)]
    assert fp(tmp_path, other_type).failure != a.failure
    assert fp(tmp_path, other_place).failure != a.failure


def test_library_frames_do_not_change_the_failure_fingerprint(tmp_path):
    plain = [node("main", node("lookup", raises=("KeyError", "x")), unwinds=True)]
    via_lib = [node("main", node("json.loads", node("lookup", raises=("KeyError", "y")),
                                 unwinds=True), unwinds=True)]
    spool = Spool(tmp_path / "spool")
    a = fingerprints(load_trace(write_tree(spool, plain)))
    trace = load_trace(write_tree(spool, via_lib))
    for fn in trace.functions.values():
        if fn.name == "loads":
            fn.file = "/usr/lib/python3.11/json/__init__.py"
    assert fingerprints(trace).failure == a.failure


def test_fold_repeats():
    assert fold_repeats([1, 1, 1, 2]) == [1, 2]
    assert fold_repeats([1, 2, 1, 2, 1, 2, 3]) == [1, 2, 3]
    assert fold_repeats([1, 2, 3, 1, 2, 3]) == [1, 2, 3]
    assert fold_repeats([1, 2, 3]) == [1, 2, 3]


def test_explain_lists_the_folded_tree(tmp_path):
    trace = load_trace(write_tree(Spool(tmp_path / "spool"), program(3, 4)))
    text = "\n".join(explain_structure(structure(trace)))
    assert fingerprints(trace).structural in text
    assert text.count("app:validate") == 1 and text.count("app:countdown") == 1


def test_cache_is_hidden_and_reused(tmp_path):
    spool = Spool(tmp_path / "spool")
    path = write_tree(spool, program(1, 1))
    entry = spool.entries()[0]
    cache = FingerprintCache(spool.path)
    first = cache.get(entry.trace_id, entry.path, {})
    cache.save()
    assert (spool.path / ".cache").is_dir() and len(spool.entries()) == 1
    again = FingerprintCache(spool.path)
    assert again.entries[entry.trace_id][2] == first.structural
    again.entries[entry.trace_id][2] = "s1:cached"  # proves the cache is what is read
    assert again.get(entry.trace_id, entry.path, {}).structural == "s1:cached"
    agent_wrote = {"fingerprint": {"structural": "s1:agent", "failure": None}, "status": "ok"}
    assert again.get(entry.trace_id, entry.path, agent_wrote).structural == "s1:agent"
    assert path


@settings(max_examples=300, deadline=None)
@given(PROGRAM, st.booleans(), st.booleans())
def test_streamed_fingerprints_are_the_whole_trees(tmp_path_factory, steps, native, ring):
    path = tmp_path_factory.mktemp("t") / "t.otrace"
    write_program(path, steps, native, ring)
    whole = load_trace(path)
    streamed = streamed_fingerprints(path)
    if streamed is None:  # frames from before a ring window reshape the tree
        assert any(root.fn is None for lane in whole.lanes.values() for root in lane.roots)
    else:
        assert streamed == fingerprints(whole)


def test_list_fingerprints_a_big_trace_without_loading_it(tmp_path):
    # The structure folds the loop, so 10,000 calls fingerprint as 30,000 do; streamed,
    # the bigger one is never held whole.
    small = write_large_trace(Spool(tmp_path / "small"), 10_000)
    big = write_large_trace(Spool(tmp_path / "big"), 30_000)
    assert streamed_fingerprints(big) == fingerprints(load_trace(small))
    cache = FingerprintCache(tmp_path / "big")
    summary = {"counts": {"records": 10 ** 9}}  # far above what list would load
    assert cache.get("big", Path(big), summary, max_records=1000) == fingerprints(
        load_trace(big))
