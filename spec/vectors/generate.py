"""Write the golden .otrace vectors and their expected decoded JSON.

Run by hand after a deliberate format change: `python spec/vectors/generate.py [OUTDIR]`
(default: this directory), then review the diff of the .json files and commit both.
Everything is fixed (trace ids, start times, timestamps, process, environment), so the
decoded JSON is reproducible; the compressed bytes may differ between zstd versions.

Agents in other languages reproduce a vector by writing the same records and comparing
their decoded form (`orion cat --json` or their own decoder) with NAME.json.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Callable

from orion.format.constants import PRELUDE_SIZE
from orion.format.decode import decode_records
from orion.format.frames import iter_frames
from orion.format.reader import TraceReader
from orion.format.summary import read_summary
from orion.format.writer import TraceWriter

HERE = Path(__file__).resolve().parent
START_NS = 1_700_000_000_000_000_000  # 2023-11-14T22:13:20Z
ENV = {  # the environment snapshot; argv and cwd are in "process"
    "os": "Linux 6.1.0 x86_64",
    "runtime": "CPython 3.11.7",
    "vars": {"LANG": "C.UTF-8", "APP_ENV": "test", "APP_API_TOKEN": {"t": "str", "redacted": True}},
}


def process(argv: list[str], pid: int = 4242) -> dict:
    return {"pid": pid, "argv": argv, "cwd": "/home/dev/app",
            "executable": "/usr/bin/python3", "host": "build-01"}


def new_writer(sink: io.BufferedIOBase, number: int, **options) -> TraceWriter:
    """A writer with everything fixed; `number` makes each vector's trace id distinct."""
    options.setdefault("language", "python")
    options.setdefault("process", process(["python", "app.py", "--verbose"]))
    options.setdefault("env", ENV)
    return TraceWriter(sink, agent="orion-vectors", agent_version="1.0",
                       trace_id=f"{number:02x}" * 16, start_ns=START_NS + number, **options)


def normal(sink) -> None:
    """Nested calls and returns with arguments and values."""
    w = new_writer(sink, 1, name="checkout")
    lane = w.lane("MainThread", "thread", native_id=4242)
    main = w.function("main", "app", "app.py", 30)
    load = w.function("load_cart", "app.cart", "app/cart.py", 8)
    total = w.function("total", "app.cart", "app/cart.py", 20)
    log = w.function("log", "app.util", "app/util.py", 3)
    w.call(1_000, lane, main, w.encode_pairs({"argv": {"t": "list", "items": ["--verbose"]}}))
    w.call(2_000, lane, load, w.encode_pairs({"path": "cart.json", "strict": True}))
    w.ret(9_500, lane, w.encode_value({"t": "list", "items": [12.5, 1.25]}))
    w.call(10_000, lane, total, w.encode_pairs({"prices": {"t": "list", "items": [12.5, 1.25]},
                                                  "tax": 0.2}))
    w.ret(11_000, lane, 16.5)
    w.call(12_000, lane, log, w.encode_pairs({"msg": "total 16.5"}))
    w.ret(12_400, lane)  # value not captured: no value column
    w.ret(13_000, lane, None)  # main returned None
    w.close(exit_code=0)


def exception(sink) -> None:
    """An exception raised and caught, then one that escapes: unwinds, stack, failed status."""
    w = new_writer(sink, 2)
    lane = w.lane("MainThread", "thread", native_id=4242)
    main = w.function("main", "app", "app.py", 40)
    parse = w.function("parse_qty", "app", "app.py", 10)
    pay = w.function("pay", "app.billing", "app/billing.py", 22)
    w.call(1_000, lane, main, [])
    w.call(2_000, lane, parse, w.encode_pairs({"text": "two"}))
    w.exception(2_500, lane, "ValueError", "invalid literal for int() with base 10: 'two'",
                "raised", line=11)
    w.unwind(3_000, lane, 11, w.encode_pairs({"text": "two"}))
    w.exception(3_500, lane, "ValueError", "invalid literal for int() with base 10: 'two'",
                "caught", line=42)
    w.call(4_000, lane, pay, w.encode_pairs({"amount": 16.5, "card": {"t": "str",
                                                                       "redacted": True}}))
    w.exception(4_800, lane, "KeyError", "'EUR'", "raised", line=25)
    w.stack(4_900, lane, "uncaught", [
        [main, 45, w.encode_pairs({"qty": 1})],
        [pay, 25, w.encode_pairs({"amount": 16.5, "currency": "EUR"})],
    ])
    w.unwind(5_000, lane, 25, w.encode_pairs({"amount": 16.5, "currency": "EUR"}))
    w.unwind(5_200, lane, 45, w.encode_pairs({"qty": 1}))
    w.crash(5_300, lane, "uncaught", "KeyError", "'EUR'")
    w.close(status="failed", exit_code=1)


def truncated(sink) -> None:
    """A crashed dev-mode trace whose last frame was cut by the kill: complete is false."""
    buffer = io.BytesIO()
    w = new_writer(buffer, 3, batch_bytes=256)
    lane = w.lane("MainThread", "thread", native_id=4242)
    loop = w.function("loop", "app", "app.py", 5)
    step = w.function("step", "app", "app.py", 12)
    t = 1_000
    w.call(t, lane, loop, w.encode_pairs({"n": 40}))
    for i in range(30):
        w.call(t := t + 100, lane, step, w.encode_pairs({"i": i, "label": f"item-{i:03d}"}))
        w.ret(t := t + 50, lane, i * i)
        if i == 12:
            w.crash(t := t + 10, lane, "signal", "SIGTERM", "terminated by signal 15",
                    {"signal": 15})
    w.flush()
    data = buffer.getvalue()
    last = list(iter_frames(data, PRELUDE_SIZE))[-1]
    sink.write(data[: last.offset + last.size // 2])  # killed while writing the last frame


def multithread(sink) -> None:
    """Several lanes (threads and an asyncio task) whose events interleave in the file."""
    w = new_writer(sink, 4, service="worker")
    main = w.lane("MainThread", "thread", native_id=100)
    worker = w.lane("worker-1", "thread", native_id=101)
    task = w.lane("fetch(url='/a')", "task", parent=main)
    run = w.function("run", "svc", "svc.py", 1)
    job = w.function("job", "svc", "svc.py", 10)
    fetch = w.function("fetch", "svc.net", "svc/net.py", 4)
    w.call(1_000, main, run, [])
    w.call(1_500, worker, job, w.encode_pairs({"n": 1}))
    w.call(1_200, task, fetch, w.encode_pairs({"url": "/a"}))  # earlier than the last: dt < 0
    w.event(1_300, task, "log", {"level": "info", "msg": "GET /a"})
    w.ret(2_000, worker, 1)
    w.ret(1_900, task, w.encode_value({"t": "bytes", "text": "ok", "cut": 1024}))
    w.call(2_100, worker, job, w.encode_pairs({"n": 2}))
    w.ret(2_050, main, None)
    w.ret(2_600, worker, 2)
    w.close()


def values(sink) -> None:
    """Every captured value node kind, with cuts, redactions and depth elision."""
    w = new_writer(sink, 5)
    lane = w.lane("MainThread", "thread", native_id=4242)
    show = w.function("show", "app", "app.py", 1)
    args = {
        "none": None, "yes": True, "int": -7, "big": 2**63 - 1, "float": 2.5,
        "text": "héllo", "blob": b"\x00\xff",
        "long": {"t": "str", "text": "x" * 200, "cut": 1000},
        "items": {"t": "list", "items": list(range(50)), "cut": 120},
        "tuple": {"t": "tuple", "items": [1, "a", None]},
        "entries": {"t": "dict", "entries": [["a", 1], [2, {"t": "list", "items": []}],
                                             [None, False]]},
        "obj": {"t": "Point", "fields": {"x": 1, "y": 2, "label": "p"}},
        "password": {"t": "str", "redacted": True},
        "deep": {"t": "list", "items": [{"t": "list", "items": [
            {"t": "list", "elided": True, "len": 3}, {"t": "dict", "elided": True}]}]},
        "weird": {"t": "Weird", "error": "RuntimeError: repr exploded"},
        "repr": {"t": "Decimal", "text": "Decimal('1.10')"},
        "nan": {"t": "float", "text": "nan"},
        "untyped": {"t": None, "text": "?"},
    }
    w.call(1_000, lane, show, w.encode_pairs(args))
    w.ret(2_000, lane, w.encode_value({"t": "Point", "fields": {"x": 1}, "cut": 5}))
    w.close()


def ring(sink) -> None:
    """An error-mode window: the lane starts with returns whose calls lie before it."""
    w = new_writer(sink, 6, mode="error", window="ring",
                   process=process(["python", "server.py"]))
    lane = w.lane("MainThread", "thread", native_id=4242)
    handle = w.function("handle", "server", "server.py", 50)
    query = w.function("query", "server.db", "server/db.py", 7)
    w.ret(90_000, lane, 3)
    w.unwind(90_100, lane, 61, None)
    w.call(90_200, lane, handle, w.encode_pairs({"path": "/orders"}))
    w.call(90_300, lane, query, w.encode_pairs({"sql": "select * from orders"}))
    w.exception(90_900, lane, "TimeoutError", "query took too long", "raised", line=9)
    w.stack(90_950, lane, "exception", [[handle, 55, w.encode_pairs({"path": "/orders"})],
                                         [query, 9, w.encode_pairs({"timeout": 0.5})]])
    w.unwind(91_000, lane, 9, w.encode_pairs({"timeout": 0.5}))
    w.unwind(91_100, lane, 55, w.encode_pairs({"path": "/orders"}))
    w.ret(91_200, lane)
    w.close(status="failed", exit_code=None)


def native(sink) -> None:
    """A C program: modules, functions known by address only, a SIGSEGV crash."""
    w = new_writer(sink, 7, language="c", process={
        "pid": 777, "argv": ["./server", "-p", "8080"], "cwd": "/srv",
        "executable": "/srv/server", "host": "build-01"}, env={
        "os": "Linux 6.1.0 x86_64", "runtime": "glibc 2.36",
        "vars": {"PORT": "8080", "DB_PASSWORD": {"t": "str", "redacted": True}}})
    w.module("/srv/server", 0x555555554000, bytes.fromhex("8f1c2d3e4b5a69788796a5b4c3d2e1f0"),
             size=18216, mtime=1_699_999_000_123_456_789)
    w.module("/lib/x86_64-linux-gnu/libc.so.6", 0x7FFFF7DC0000, None)
    lane = w.lane("main", "thread", native_id=777)
    main = w.function("main", "/srv/server", "server.c", 88, addr=0x555555555189)
    anon = w.function(None, None, None, None, addr=0x5555555552A0)
    memcpy = w.function(None, None, None, None, addr=0x7FFFF7F1B8C0)
    w.call(500, lane, main)
    w.call(800, lane, anon, site=0x555555555201 - 0x5555555552A0)  # returns into main
    w.call(900, lane, memcpy, site=0x5555555552D3 - 0x7FFFF7F1B8C0)
    w.stack(1_000, lane, "signal", [[main, 97, None], [anon, None, None], [memcpy, None, None]])
    w.crash(1_000, lane, "signal", "SIGSEGV", "segmentation fault",
            {"signal": 11, "address": 0x10})
    w.close(exit_code=-11)


VECTORS: dict[str, Callable] = {f.__name__: f for f in (
    normal, exception, truncated, multithread, values, ring, native)}


def expected(path: Path) -> dict:
    """The decoded form a reader must produce for the file at `path`."""
    with TraceReader(path) as reader:
        records = list(decode_records(reader.records()))
        complete, cut = reader.complete, reader.truncated
    return {"file": path.name, "complete": complete, "truncated": cut, "records": records,
            "summary": read_summary(path)}


def golden_text(doc: dict) -> str:
    """JSON with one record per line, so a format change shows as a readable diff."""
    dump = lambda obj: json.dumps(obj, ensure_ascii=False)  # noqa: E731
    head = ",\n ".join(f"{dump(k)}: {dump(v)}" for k, v in doc.items() if k != "records")
    records = ",\n  ".join(dump(r) for r in doc["records"])
    return f'{{{head},\n "records": [\n  {records}\n ]}}\n'


def write_all(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, build in VECTORS.items():
        path = out / f"{name}.otrace"
        with open(path, "wb") as sink:
            build(sink)
        golden = out / f"{name}.json"
        golden.write_text(golden_text(expected(path)), encoding="utf-8")
        written += [path, golden]
    return written


if __name__ == "__main__":
    for written in write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE):
        print(written)
