"""Thread lanes of C programs under `orion run`: named by the name a thread gives itself
(even after its first traced call), with the lane of the thread that created it as their
parent, and a crash on a thread that was never traced lands on a lane named like it."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from .conftest import COMPILERS, assert_valid, compile_program, orion, run_traced

NAMED = r"""
#define _GNU_SOURCE
#include <pthread.h>
int step(int x) { return x + 1; }
void *worker(void *name) {                   /* traced: the lane starts here, unnamed */
    pthread_setname_np(pthread_self(), (const char *)name);
    int v = 0;
    for (int i = 0; i < 3; i++) v = step(v);
    return 0;
}
void *spawner(void *arg) {                   /* a thread that starts another */
    pthread_t t;
    pthread_create(&t, 0, worker, "grandchild");
    pthread_join(t, 0);
    return arg;
}
int main(void) {
    pthread_t a, b, c;
    pthread_create(&a, 0, worker, "fetcher");
    pthread_join(a, 0);
    pthread_create(&b, 0, worker, "parser");
    pthread_join(b, 0);
    pthread_create(&c, 0, spawner, 0);
    pthread_join(c, 0);
    return step(0) - 1;
}
"""

CRASH_ON_THREAD = r"""
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>
int deref(int *p) { return *p; }            /* line 5 */
void *worker(void *name) {
    if (name) pthread_setname_np(pthread_self(), (const char *)name);
    return (void *)(long)deref(0);           /* line 8 */
}
int main(int argc, char **argv) {
    pthread_t t;
    pthread_create(&t, 0, worker, argc > 1 ? argv[1] : 0);
    pthread_join(t, 0);
    return 0;
}
"""


def lanes(trace: Path) -> list[dict]:
    result = orion("cat", "-t", "lane", str(trace))
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.mark.parametrize("compiler", COMPILERS)
def test_threads_named_by_themselves_nest_under_their_creator(tmp_path: Path,
                                                               compiler: str) -> None:
    exe = compile_program(tmp_path, compiler, NAMED)
    status, (trace,) = run_traced(exe, spool=tmp_path / "spool")
    assert status == 0
    assert_valid(trace)
    found = {lane["name"]: lane for lane in lanes(trace)}
    assert set(found) == {"main", "fetcher", "parser", "thread 3", "grandchild"}
    main = found["main"]["id"]
    assert found["main"]["parent"] is None
    assert found["fetcher"]["parent"] == main and found["parser"]["parent"] == main
    assert found["thread 3"]["parent"] == main
    assert found["grandchild"]["parent"] == found["thread 3"]["id"]
    show = orion("show", "--json", str(trace))
    assert show.returncode == 0, show.stderr
    shown = {lane["name"]: lane["parent"] for lane in json.loads(show.stdout)["lanes"]}
    assert shown["grandchild"] == found["thread 3"]["id"]
    # exports nest a thread's calls under the call that was running in its creator
    otlp = tmp_path / "otlp.json"
    assert orion("export", str(trace), "--format", "otlp", "-o", str(otlp)).returncode == 0
    spans = [span for resource in json.loads(otlp.read_text())["resourceSpans"]
             for scope in resource["scopeSpans"] for span in scope["spans"]]
    names = {span["spanId"]: span["name"] for span in spans}
    thread_of = {span["spanId"]: attribute(span, "thread.name") for span in spans}
    parents = {(thread_of[s["spanId"]], s["name"]): names.get(s.get("parentSpanId", ""))
               for s in spans if s["name"] in ("worker", "spawner")}
    assert parents == {("fetcher", "worker"): "main", ("parser", "worker"): "main",
                       ("thread 3", "spawner"): "main", ("grandchild", "worker"): "spawner"}


def attribute(span: dict, key: str) -> str | None:
    return next((a["value"].get("stringValue") for a in span.get("attributes", ())
                 if a["key"] == key), None)


@pytest.mark.parametrize("name", ["loader", None], ids=["named", "unnamed"])
@pytest.mark.parametrize("compiler", COMPILERS)
@pytest.mark.usefixtures("every_program")  # not instrumented: only its crash is recorded
def test_crash_on_an_untraced_thread_has_its_lane(tmp_path: Path, compiler: str,
                                                   name: str | None) -> None:
    src = tmp_path / "threads.c"
    src.write_text(CRASH_ON_THREAD)
    exe = tmp_path / "threads"
    subprocess.run([compiler, "-g", "-O0", "-pthread", str(src), "-o", str(exe)], check=True)
    status, (trace,) = run_traced(exe, *([name] if name else []), spool=tmp_path / "spool")
    assert status == -signal.SIGSEGV
    assert_valid(trace)
    (lane,) = lanes(trace)
    assert lane["name"] == (name or "thread 1")
    show = orion("show", "--json", str(trace))
    assert show.returncode == 0, show.stderr
    path = json.loads(show.stdout)["failing_path"]
    # from the thread's start function: not the C library's thread start-up beyond it
    assert [(f["name"], f["line"]) for f in path] == [("worker", 8), ("deref", 5)]
