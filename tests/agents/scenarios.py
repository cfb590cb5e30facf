"""The shared scenarios (DESIGN.md, "Seven agents, one contract"): what the trace of each
scenario program must hold, in terms of decoded records only, so that one check serves
every agent. An agent joins by writing the programs below in its language (Go's are in
tests/agents/go/scenarios/) and calling these checks from its tests.

The programs, run as `<program> <scenario>` under `orion run --mode dev`:

- `nested`: `outer(1)` calls `middle(2)`, which calls `inner(3)`; they return 8, 7 and 6.
- `error`: `catcher()` calls `relay(2)`, which calls `thrower(3)`; `thrower` raises an
  error (a panic, an exception) "too deep: 3", which `catcher` catches (returning -1).
- `crash`: the entry point calls `relay(2)` directly: the same error, uncaught, ends the
  process with a non-zero status.
- `threads`: the entry point starts two threads (goroutines, tasks), each calling
  `work(id)` with id 1 and 2, and waits for them.
- `secret`: `login("ada", password)`, where `password` comes from $SCENARIO_PASSWORD,
  reads a local `token` from $SCENARIO_TOKEN and raises "login failed for ada" when the two
  differ; uncaught.
- a test suite with a test that passes (`Passes`, however the language names tests) and
  one that fails (`Fails`: it expects outer(1) to be 9), run under `orion test`.
"""

from __future__ import annotations

from pathlib import Path

from ..trace_records import by_type, decoded


def _short(name: str) -> str:
    """A function's own name, without its module or class."""
    return name.rsplit(".", 1)[-1]


def _within(name: str, function: str) -> bool:
    """Whether a function's full name is `function` or one nested in it (a Go closure
    `catcher.func1`, where Go recovers) or a method of a class (`Scenarios.catcher`)."""
    return function in name.split(".")


def _functions(records: list[dict]) -> dict[int, str]:
    return {r["id"]: _short(r["name"]) for r in by_type(records, "function")}


def _calls(records: list[dict]) -> list[tuple[str, dict | None, int]]:
    names = _functions(records)
    return [(names[c["fn"]], c.get("args"), c["lane"]) for c in by_type(records, "call")]


def check_nested(trace: Path) -> None:
    records = decoded(trace)
    calls = [(name, args) for name, args, _ in _calls(records)
             if name in ("outer", "middle", "inner")]
    assert [(name, list((args or {}).values())) for name, args in calls] == [
        ("outer", [1]), ("middle", [2]), ("inner", [3])]
    timed = [r for r in records if r["type"] in ("call", "return")]
    names = _functions(records)
    opened, returned = [], []
    for record in timed:  # returns close calls in bracket order, with their values
        if record["type"] == "call":
            opened.append(names[record["fn"]])
        else:
            returned.append((opened.pop(), record.get("value")))
    assert [r for r in returned if r[0] in ("outer", "middle", "inner")] == [
        ("inner", 6), ("middle", 7), ("outer", 8)]
    [end] = by_type(records, "end")
    assert end["status"] == "ok" and end["exit_code"] == 0


def check_error(trace: Path) -> None:
    records = decoded(trace)
    names = {r["id"]: r["name"] for r in by_type(records, "function")}
    raised, caught = by_type(records, "exception")
    assert (raised["kind"], caught["kind"]) == ("raised", "caught")
    assert "too deep: 3" in raised["message"]
    order = []  # the frame each exception record and unwind happened in
    stack: list[str] = []
    for record in records:
        if record["type"] == "call":
            stack.append(names[record["fn"]])
        elif record["type"] in ("return", "unwind"):
            if record["type"] == "unwind":
                order.append(("unwind", stack[-1]))
            stack.pop()
        elif record["type"] == "exception":
            order.append((record["kind"], stack[-1]))
    expected = [("raised", "thrower"), ("unwind", "thrower"), ("unwind", "relay"),
                ("caught", "catcher")]
    assert len(order) == len(expected) and all(
        kind == want_kind and _within(name, function)
        for (kind, name), (want_kind, function) in zip(order, expected)), order
    [end] = by_type(records, "end")
    assert end["status"] == "ok" and end["exit_code"] == 0 and not by_type(records, "crash")


def check_crash(trace: Path, exit_code: int) -> None:
    records = decoded(trace)
    names = _functions(records)
    [stack] = by_type(records, "stack")
    frames = [names[f["fn"]] for f in stack["frames"]]
    assert frames[-2:] == ["relay", "thrower"]
    assert stack["frames"][-1]["locals"]["depth"] == 3
    [end] = by_type(records, "end")
    assert end["status"] in ("failed", "crashed") and end["exit_code"] == exit_code != 0
    assert "too deep: 3" in end["exception"]["message"]


def check_threads(trace: Path) -> None:
    records = decoded(trace)
    calls = _calls(records)
    workers = {lane for name, _, lane in calls if name == "work"}
    assert len(workers) == 2
    lanes = {lane["id"]: lane for lane in by_type(records, "lane")}
    [starter] = {lanes[w]["parent"] for w in workers}  # the lane that started both
    assert starter in lanes.keys() - workers
    assert sorted(args["id"] for name, args, _ in calls if name == "work") == [1, 2]


def check_secret(trace: Path, raw: bytes, password: str, token: str) -> None:
    """`raw`: every byte of the trace as a reader sees it (all frames decompressed)."""
    assert password.encode() not in raw and token.encode() not in raw
    records = decoded(trace)
    names = _functions(records)
    [stack] = by_type(records, "stack")
    login = next(f for f in stack["frames"] if names[f["fn"]] == "login")
    assert login["locals"]["user"] == "ada"
    assert login["locals"]["password"]["redacted"] is True
    assert login["locals"]["token"]["redacted"] is True


def check_failing_test(summary: dict, fails: str) -> None:
    """`summary`: `orion test --json`'s output; `fails`: the failing test's name as the
    language's test runner gives it."""
    [row] = summary["traces"]
    assert row["test"] == fails and row["outcome"] == "failed"
