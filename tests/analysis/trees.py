"""Writing traces from small call-tree specs, to simulate a program's execution.

A node is a dict: {"fn": name, "args": {...}, "calls": [nodes], "value": v} for a call
that returns, with "raises": (type, message) for one that raises, or "unwinds": True
for one that an exception from its last callee passes through.
"""

from __future__ import annotations

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
