"""Benchmark workloads; each prints `elapsed_s cpu_s peak_rss_kb` for its measured part
(cpu_s: CPU time of the whole process, every thread, the tracer's own included).

    python workloads.py fib|render [n]

fib: recursive fib(n), n = 25 unless given: about 243k calls (call-dense).
render: stdlib-heavy parsing and rendering: CSV -> records -> JSON round trip ->
HTML via string.Template, with a few helper functions of its own per row.

The measured part lies between a call of math.lcm() and one of math.isqrt(0), C functions
nothing else here calls: bench.py --instructions counts the instructions between them
(callgrind's --zero-before and --dump-before).
"""

import csv
import html
import io
import json
import math
import resource
import string
import sys
import time


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


ROW = string.Template("<tr><td>$sku</td><td>$name</td><td>$price</td><td>$qty</td></tr>")


def make_csv(rows):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["sku", "name", "price", "qty"])
    for i in range(rows):
        writer.writerow([f"SKU{i:05d}", f"item <{i}> & co", f"{i * 1.37:.2f}", i % 7])
    return out.getvalue()


def parse(text):
    return [normalize(row) for row in csv.DictReader(io.StringIO(text))]


def normalize(row):
    return {"sku": row["sku"], "name": row["name"].strip(), "price": float(row["price"]),
            "qty": int(row["qty"])}


def render(records):
    body = "".join(ROW.substitute(sku=r["sku"], name=html.escape(r["name"]),
                                  price=f"{r['price']:.2f}", qty=r["qty"]) for r in records)
    return f"<table>{body}</table>"


def workload_render():
    text = make_csv(20000)
    records = json.loads(json.dumps(parse(text)))
    return len(render(records))


def peak_rss_kb():
    """This process's peak RSS. Linux: VmHWM, which starts afresh at exec (ru_maxrss keeps
    the peak of the process that forked us)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main():
    which = sys.argv[1]
    math.lcm()  # the measured part starts
    start, cpu = time.perf_counter(), time.process_time()
    if which == "fib":
        fib(int(sys.argv[2]) if len(sys.argv) > 2 else 25)
    else:
        workload_render()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    math.isqrt(0)  # and ends
    print(f"{elapsed:.6f} {cpu:.6f} {peak_rss_kb()}")


if __name__ == "__main__":
    main()
