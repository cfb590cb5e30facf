"""Traces with threads, tasks, exceptions and events, written with the real writer."""

from __future__ import annotations

from orion.spool import Spool


def write_rich_trace(spool: Spool, *, start_ns: int = 1_700_000_000_000_000_000,
                     service: str | None = "shop", fail: bool = True) -> str:
    """main -> handle -> (parse, save) on the main thread; a worker thread started from
    `handle` runs work -> helper; `parse` raises and is caught, `save` fails if asked."""
    w = spool.open_writer(language="python", start_ns=start_ns, service=service,
                          process={"pid": 77, "argv": ["shop", "serve"], "cwd": "/srv",
                                   "executable": "/usr/bin/python3", "host": "box"})
    main_lane = w.lane("MainThread", "thread", native_id=1000)
    main = w.function("main", "shop.app", "shop/app.py", 1)
    handle = w.function("handle", "shop.app", "shop/app.py", 10)
    parse = w.function("parse", "shop.parse", "shop/parse.py", 3)
    save = w.function("save", "shop.db", "shop/db.py", 7)
    work = w.function("work", "shop.jobs", "shop/jobs.py", 5)
    helper = w.function("helper", "shop.jobs", "shop/jobs.py", 9)
    w.call(100, main_lane, main)
    w.call(200, main_lane, handle, w.encode_pairs({"req": 1}))
    worker = w.lane("worker-1", "thread", native_id=1001, parent=main_lane)
    w.call(250, worker, work)
    w.call(300, main_lane, parse)
    w.exception(350, main_lane, "ValueError", "bad number 'x'", kind="raised", line=4)
    w.unwind(400, main_lane, 4)
    w.exception(410, main_lane, "ValueError", "bad number 'x'", kind="caught", line=12)
    w.call(420, worker, helper)
    w.event(430, worker, "log", {"level": "info", "msg": "working"})
    w.ret(500, worker, 1)
    w.ret(600, worker)
    w.call(700, main_lane, save)
    if fail:
        w.exception(750, main_lane, "IOError", "disk full", line=8)
        w.unwind(800, main_lane, 8)
        w.unwind(850, main_lane, 15)
        w.unwind(900, main_lane, 2)
        w.close(status="failed", exception={"type": "IOError", "message": "disk full"})
    else:
        w.ret(800, main_lane)
        w.ret(850, main_lane)
        w.ret(900, main_lane)
        w.close(status="ok")
    return str(w.path)
