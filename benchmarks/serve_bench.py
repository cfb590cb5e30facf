"""`orion serve`: time to first render of a 1,000,000-event trace and of a 10,000-trace
list (headless chromium), /api/traces latency under 50 concurrent clients, and the server
process's memory. Targets: first render < 2 s; p99 list latency < 200 ms.

Run by hand: python benchmarks/serve_bench.py [big|list|all] [--events 1000000]
[--traces 10000] [--rounds 3]
(needs Debian's chromium and Playwright, as scripts/test installs them).
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orion.spool import Spool  # noqa: E402
from format_bench import write_many  # noqa: E402 (a sibling: the script's directory)
from tests.sample_traces import write_large_trace  # noqa: E402

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def start_server(spool: Spool, cache: Path | None = None, index_pass: str | None = None
                 ) -> tuple[subprocess.Popen, str]:
    """A real `orion serve`; with `cache`, its trace indexes kept there (an empty
    directory: every trace's index is built on its first load); with `index_pass`
    "python", the index built in Python (ORION_INDEX_PASS) rather than in C."""
    env = dict(os.environ)
    if cache is not None:
        env["XDG_CACHE_HOME"] = str(cache)
    if index_pass is not None:
        env["ORION_INDEX_PASS"] = index_pass
    process = subprocess.Popen([sys.executable, "-m", "orion", "serve", "--port", "0",
                                "--spool", str(spool.path)], stderr=subprocess.PIPE, text=True,
                               env=env)
    url = re.search(r"(http://\S+)", process.stderr.readline()).group(1)
    return process, url


def memory_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process, in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text()
                  .splitlines() if ":" in line)
    return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)


def _stat(pid: int | str) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (steadier than wall time on a busy
    machine)."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds(pid: int) -> float:
    """CPU time of a process's children: those running (the server's fingerprinting
    child) and those it has waited for."""
    fields = _stat(pid)
    ticks = int(fields[13]) + int(fields[14])
    for proc in Path("/proc").iterdir():
        try:
            child = _stat(proc.name) if proc.name.isdigit() else None
        except OSError:
            continue
        if child is not None and int(child[1]) == pid:
            ticks += int(child[11]) + int(child[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def fetch(url: str, path: str) -> tuple[float, bytes]:
    host, port = url.split("//")[1].rstrip("/").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    start = time.perf_counter()
    conn.request("GET", path)
    body = conn.getresponse().read()
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed, body


def first_render(url: str, path: str, selectors: list[str]) -> list[float]:
    """Seconds from navigation until each selector is visible, in headless chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(300_000)
        start = time.perf_counter()
        page.goto(url.rstrip("/") + path)
        times = []
        for selector in selectors:
            page.wait_for_selector(selector)
            times.append(time.perf_counter() - start)
        browser.close()
    return times


def bench_big_trace(events: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        spool = Spool(Path(tmp) / "spool")
        start = time.perf_counter()
        path = write_large_trace(spool, events // 2)  # a call and its return: two events
        took = time.perf_counter() - start
        print(f"wrote {Path(path).stat().st_size / 1e6:.1f} MB in {took:.1f} s")
        trace_id = Path(path).stem.rsplit("-", 1)[1]
        warm = Path(tmp) / "cache"  # the first server builds the index and keeps it here
        process, url = start_server(spool, warm)
        try:
            summary, _ = fetch(url, f"/api/trace/{trace_id}")
            print(f"1M trace: /api/trace/ID (summary, header): {summary * 1000:.0f} ms")
            cpu = cpu_seconds(process.pid)
            replay, body = fetch(url, f"/api/trace/{trace_id}/replay")
            cpu = cpu_seconds(process.pid) - cpu
            count = re.search(rb'"events": (\d+)', body).group(1).decode()
            now, peak = memory_mb(process.pid)
            print(f"1M trace: /replay (loads it; {count} events): {replay:.2f} s ({cpu:.2f} s "
                  f"of server CPU); server memory now / peak: {now:.0f} / {peak:.0f} MB")
            for route in ("state?exception=1", "state?at=500000&move=out", "timeline",
                          "timeline?start=1000000&end=1100000"):
                took, _ = fetch(url, f"/api/trace/{trace_id}/{route}")
                print(f"1M trace, loaded: /{route}: {took * 1000:.0f} ms")
            process.terminate()
            process.wait()
            # Cold servers for the browser figures, a round of each in turn: the index built
            # in C (a trace never opened before), in Python with no index kept on disk,
            # and in Python from the disk cache the first server filled.
            variants = (("C pass", Path(tmp) / "empty-cache", None),
                        ("Python pass, index built", Path(tmp) / "empty-cache", "python"),
                        ("Python pass, index from the cache", warm, "python"))
            figures: dict[str, list[tuple[float, ...]]] = {label: [] for label, *_ in variants}
            for _ in range(rounds):
                for label, cache, index_pass in variants:
                    if cache.name == "empty-cache":
                        shutil.rmtree(cache, ignore_errors=True)
                    process, url = start_server(spool, cache, index_pass)
                    times = first_render(url, f"/trace/{trace_id}", [
                        "#summary .badge", "#stack li.frame", "#timeline rect.span"])
                    figures[label].append((*times, cpu_seconds(process.pid),
                                           children_cpu_seconds(process.pid),
                                           memory_mb(process.pid)[1]))
                    process.terminate()
                    process.wait()
            print(f"1 M trace in chromium, {rounds} rounds (load average now "
                  f"{os.getloadavg()[0]:.1f}): medians, [min-max]")
            names = ("summary", "stack and values at the exception", "timeline",
                     "server CPU", "its children's CPU", "peak MB")
            for label, rows in figures.items():
                parts = []
                for name, values in zip(names, zip(*rows)):
                    parts.append(f"{name} {statistics.median(values):.2f} "
                                 f"[{min(values):.2f}-{max(values):.2f}]")
                print(f"  {label}: " + "; ".join(parts))
        finally:
            process.terminate()
            process.wait()


def wait_for_fingerprints(url: str, traces: int) -> float:
    start = time.perf_counter()
    while True:
        _, body = fetch(url, f"/api/traces?limit={traces}")
        if b'"fingerprints": null' not in body:
            return time.perf_counter() - start
        time.sleep(0.5)


def bench_list(traces: int, clients: int, requests: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        spool = Spool(Path(tmp) / "spool")
        write_many(spool, traces)
        process, url = start_server(spool)
        try:
            (rendered,) = first_render(url, "/", ["#trace-list li"])
            print(f"{traces:,}-trace list in chromium, cold server: first render {rendered:.2f} s")
            # The first round runs while the server still fingerprints in the background,
            # the next ones once every trace has its fingerprints.
            rounds = ("/api/traces", "wait", "/api/traces", "/api/traces?status=failed&limit=100")
            for query in rounds:
                if query == "wait":
                    waited = wait_for_fingerprints(url, traces)
                    print(f"every trace fingerprinted {waited:.1f} s after the first round")
                    continue
                latencies: list[float] = []
                lock = threading.Lock()

                def client() -> None:
                    for _ in range(requests):
                        took, _ = fetch(url, query)
                        with lock:
                            latencies.append(took)

                threads = [threading.Thread(target=client) for _ in range(clients)]
                start = time.perf_counter()
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                wall = time.perf_counter() - start
                latencies.sort()
                p99 = latencies[int(len(latencies) * 0.99) - 1]
                print(f"{query}: {len(latencies)} requests from {clients} concurrent clients in "
                      f"{wall:.1f} s: p50 {statistics.median(latencies) * 1000:.0f} ms, "
                      f"p99 {p99 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms")
            print(f"server memory now / peak: {memory_mb(process.pid)[0]:.0f} / "
                  f"{memory_mb(process.pid)[1]:.0f} MB")
        finally:
            process.terminate()
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="?", choices=["big", "list", "all"], default="all")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--traces", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=10, help="per client")
    parser.add_argument("--rounds", type=int, default=3, help="of the big trace's page")
    args = parser.parse_args()
    if args.which in ("list", "all"):
        bench_list(args.traces, args.clients, args.requests)
    if args.which in ("big", "all"):
        bench_big_trace(args.events, args.rounds)


if __name__ == "__main__":
    main()
