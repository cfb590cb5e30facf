"""Writing traces from small call-tree specs, to simulate a program's execution.

A node is a dict: {"fn": name, "args": {...}, "calls": [nodes], "value": v} for a call
that returns, with "raises": (type, message) for one that raises, or "unwinds": True
for one that an exception from its last callee passes through.
"""

from __future__ import annotations

from hypothesis import strategies as st

from orion.format.writer import TraceWriter
from orion.spool import Spool


def write_tree(spool: Spool, roots: list[dict], lanes: dict[str, list[dict]] | None = None,
               step: int = 10, durations: dict[str, int] | None = None, **options) -> str:
    """Write roots (on lane MainThread, plus any other `lanes`) and return the path."""
    w = spool.open_writer(language=options.pop("language", "python"), **options)
    fns: dict[str, int] = {}
    failed = None
    t = 0
    for lane_name, lane_roots in {"MainThread": roots, **(lanes or {})}.items():
        lane = w.lane(lane_name)
        stack = [(node, False) for node in reversed(lane_roots)]
        while stack:
            node, leaving = stack.pop()
            t += step
            if not leaving:
                name = node["fn"]
                if name not in fns:
                    module, _, short = name.rpartition(".")
                    fns[name] = w.function(short, module or "app", f"{module or 'app'}.py", 1)
                w.call(t, lane, fns[name], w.encode_pairs(node.get("args", {})))
                t += (durations or {}).get(name, 0)
                stack.append((node, True))
                stack.extend((child, False) for child in reversed(node.get("calls", [])))
            elif "raises" in node:
                w.exception(t, lane, node["raises"][0], node["raises"][1], line=7)
                failed = failed or node["raises"]
                w.unwind(t + 1, lane, 7, w.encode_pairs(node.get("locals", {})))
            elif node.get("unwinds"):
                w.unwind(t, lane, 3, w.encode_pairs(node.get("locals", {})))
            else:
                w.ret(t, lane, w.encode_value(node.get("value")))
    w.close(status="failed" if failed else "ok",
            exception={"type": failed[0], "message": failed[1]} if failed else None)
    return str(w.path)


def node(fn: str, *calls: dict, **fields) -> dict:
    return {"fn": fn, "args": fields.pop("args", {}), "calls": list(calls), **fields}


# One step of a random program on one of two lanes: open a call, return, raise and unwind,
# raise or catch, log an event, write a stack record, crash; `same time` keeps the clock
# still for the next step (ties the tree walk may order differently from the file).
PROGRAM = st.lists(st.tuples(st.integers(0, 1), st.sampled_from(
    ["call f", "call f", "call g", "call h", "return", "return", "return", "unwind", "raise",
     "catch", "event", "stack", "crash", "same time"])), max_size=80)


def write_program(path, steps, native: bool, ring: bool = False) -> None:
    """Write the program; a return with no call open is left out unless `ring`."""
    open_calls = [0, 0]
    with open(path, "wb") as sink:
        w = TraceWriter(sink, language="c" if native else "python", batch_bytes=64)
        lanes = [w.lane("MainThread"), w.lane("worker")]
        fns = {name: w.function(name if not native else None, "app", "app.py", 1,
                                addr=0x1000 * (n + 1) if native else None)
               for n, name in enumerate("fgh")}
        t = 0
        for lane, step in steps:
            if step == "same time":
                t -= 10
            t += 10
            kind, _, name = step.partition(" ")
            if kind in ("return", "unwind"):
                if not open_calls[lane] and not ring:
                    continue
                open_calls[lane] = max(open_calls[lane] - 1, 0)
            if kind == "call":
                open_calls[lane] += 1
                w.call(t, lanes[lane], fns[name], w.encode_pairs({"t": t % 3}),
                       **({"site": t % 7} if native else {}))
            elif kind == "return":  # with no call open: as a ring window starts
                w.ret(t, lanes[lane], t % 2)
            elif kind == "unwind":
                w.unwind(t, lanes[lane], 3, w.encode_pairs({"x": t} if t % 2 else {}))
            elif kind in ("raise", "catch"):
                w.exception(t, lanes[lane], "E", f"e{t % 2}",
                            kind="raised" if kind == "raise" else "caught", line=2)
            elif kind == "event":
                w.event(t, lanes[lane], "log", {"n": t})
            elif kind == "stack":
                w.stack(t, lanes[lane], "sample", [(fns["f"], 4, None)])
            elif kind == "crash":
                w.crash(t, lanes[lane], "uncaught", "E", "boom")
        w.close()
