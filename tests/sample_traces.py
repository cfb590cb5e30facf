"""A hand-written trace of the bundled checkout example failing, for tests that need a fixed,
rich trace (values, redactions, unwinds with locals) without running the agent.
"""

from __future__ import annotations

import platform
import sys

from orion import __version__
from orion.spool import Spool

PROGRAM = "examples/checkout.py"


def write_demo_trace(spool: Spool) -> str:
    """Write the example trace into `spool`; return its path."""
    argv = ["python", PROGRAM, "--coupon", "SAVE15%X"]
    writer = spool.open_writer(
        language="python", agent="orion-demo", agent_version=__version__, mode="dev",
        process={"pid": 4242, "argv": argv, "cwd": "/home/user/shop",
                 "executable": "/usr/bin/python3", "host": platform.node()},
        env={"os": platform.system(), "runtime": f"CPython {sys.version.split()[0]}",
             "vars": {"LANG": "C.UTF-8", "SHOP_API_TOKEN": {"t": "str", "redacted": True}}},
    )
    w = writer
    lane = w.lane("MainThread", "thread", native_id=4242)
    main = w.function("main", "checkout", PROGRAM, 40)
    load = w.function("load_cart", "checkout", PROGRAM, 8)
    process = w.function("process_order", "checkout", PROGRAM, 30)
    total = w.function("compute_total", "checkout", PROGRAM, 20)
    discount = w.function("apply_discount", "checkout", PROGRAM, 14)
    parse = w.function("parse_percentage", "checkout", PROGRAM, 3)
    items = {"t": "list", "items": [
        {"t": "dict", "entries": [["sku", "book"], ["price", 12.5], ["qty", 2]]},
        {"t": "dict", "entries": [["sku", "pen"], ["price", 1.25], ["qty", 4]]},
    ]}
    t = 1_000
    w.call(t, lane, main, w.encode_pairs({}))
    w.call(t + 2_000, lane, load, w.encode_pairs({"path": "cart.json"}))
    w.ret(t + 48_000, lane, w.encode_value(items))
    w.call(t + 50_000, lane, process, w.encode_pairs({"cart": items, "coupon": "SAVE15%X"}))
    w.call(t + 51_000, lane, total, w.encode_pairs({"items": items, "coupon": "SAVE15%X"}))
    w.call(t + 53_000, lane, discount, w.encode_pairs({"total": 30.0, "coupon": "SAVE15%X"}))
    w.call(t + 54_000, lane, parse, w.encode_pairs({"text": "15%X"}))
    message = "could not convert string to float: '15%X'"
    w.exception(t + 56_000, lane, "ValueError", message, line=5)
    w.unwind(t + 57_000, lane, 5, w.encode_pairs({"text": "15%X", "digits": "15%X"}))
    w.unwind(t + 58_000, lane, 17, w.encode_pairs({"total": 30.0, "coupon": "SAVE15%X"}))
    w.unwind(t + 59_000, lane, 25, w.encode_pairs({"items": items, "subtotal": 30.0}))
    w.unwind(t + 60_000, lane, 33, w.encode_pairs({"cart": items, "password": {
        "t": "str", "redacted": True}}))
    w.unwind(t + 61_000, lane, 44, w.encode_pairs({}))
    w.crash(t + 62_000, lane, "uncaught", "ValueError", message)
    w.close(status="failed", exit_code=1,
            exception={"type": "ValueError", "message": message, "function": "parse_percentage"})
    return str(writer.path)


def write_large_trace(spool: Spool, calls: int) -> str:
    """A dev-mode trace of about `calls` calls, shaped like a real program: `main` runs
    `handle(i)` in a loop, each handle calls `parse` and `store` with arguments and return
    values, every 1000th parse raises a caught ValueError, and the last handle fails
    three calls deep (`validate` raises KeyError, uncaught) with locals on every frame."""
    w = spool.open_writer(language="python", agent="orion-large", mode="dev")
    lane = w.lane("MainThread", "thread")
    main = w.function("main", "app", "app.py", 1)
    handle = w.function("handle", "app", "app.py", 10)
    parse = w.function("parse", "app", "app.py", 20)
    store = w.function("store", "app", "app.py", 30)
    validate = w.function("validate", "app", "app.py", 40)
    t = 0
    w.call(t, lane, main, w.encode_pairs({}))
    for i in range(max(calls - 4, 3) // 3):
        w.call(t + 1, lane, handle, w.encode_pairs({"i": i}))
        w.call(t + 2, lane, parse, w.encode_pairs({"text": f"row {i}"}))
        if i % 1000 == 999:
            w.exception(t + 3, lane, "ValueError", f"bad row {i}", line=22)
            w.unwind(t + 4, lane, 22, w.encode_pairs({"text": f"row {i}"}))
            w.exception(t + 5, lane, "ValueError", f"bad row {i}", kind="caught", line=12)
        else:
            w.ret(t + 4, lane, i)
        w.call(t + 6, lane, store, w.encode_pairs({"value": i}))
        w.ret(t + 7, lane, None)
        w.ret(t + 8, lane, True)
        t += 10
    w.call(t + 1, lane, handle, w.encode_pairs({"i": -1}))
    w.call(t + 2, lane, validate, w.encode_pairs({"row": "last"}))
    w.exception(t + 3, lane, "KeyError", "'id'", line=42)
    w.unwind(t + 4, lane, 42, w.encode_pairs({"row": "last", "fields": {"t": "tuple",
                                                                       "items": [7.0]}}))
    w.unwind(t + 5, lane, 14, w.encode_pairs({"i": -1}))
    w.unwind(t + 6, lane, 5, w.encode_pairs({"handled": calls}))
    w.crash(t + 7, lane, "uncaught", "KeyError", "'id'")
    w.close(status="failed", exit_code=1, exception={"type": "KeyError", "message": "'id'"})
    return str(w.path)
