"""The Java agent's cost, by hand (never a timed test): `python benchmarks/java/bench.py`.

Compiles benchmarks/java/Workload.java, builds the agent jar (as `orion run` does), and runs
each workload plain and under the agent in each mode several times. The workload times its
own rounds of work in its main thread's CPU time (start-up excluded; the shared machine's
load would drown wall times): the first round pays for loading and instrumenting classes,
later rounds are warm. The setups take turns, run by run. The table gives medians, the
ratio to the plain run, the cost per call, and bytes per event of the dev trace; a
hello-world JVM's start-up (wall and CPU, whole process) is measured too. `--otel JAR` adds the OpenTelemetry Java agent with
method instrumentation of the same methods and no exporter.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

from orion.format.summary import read_summary
from orion.runtimes.java import agent_jar, tool_options

HERE = Path(__file__).resolve().parent
HELLO = 'public class Hello { public static void main(String[] a) { System.out.println("hi"); } }\n'


def java_env(options: str | None, mode: str, spool: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ORION_") and k != "JAVA_TOOL_OPTIONS"}
    if options:
        env.update(JAVA_TOOL_OPTIONS=options, ORION_MODE=mode, ORION_SPOOL=str(spool))
    return env


def work_ns(classes: Path, args: list[str], env: dict[str, str]) -> list[int]:
    """Each round's nanoseconds, as the workload measured them."""
    done = subprocess.run(["java", "-cp", str(classes), "Workload", *args], env=env,
                          capture_output=True, text=True, check=True)
    return [int(word) for word in done.stdout.split()]


def process_time(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of a whole process, by /usr/bin/time."""
    with tempfile.NamedTemporaryFile("r") as out:
        subprocess.run(["/usr/bin/time", "-f", "%e %U %S", "-o", out.name, *command], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        wall, user, system = out.read().split()[-3:]
    return float(wall), float(user) + float(system)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dense", type=int, default=27, help="fib(N) for the call-dense run")
    parser.add_argument("--records", type=int, default=5000, help="order lines to process")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of work in each JVM")
    parser.add_argument("--otel", type=Path, help="an opentelemetry-javaagent.jar to compare")
    ns = parser.parse_args()
    jar = agent_jar()
    work = Path(tempfile.mkdtemp(prefix="orion-java-bench-"))
    classes = work / "classes"
    subprocess.run(["javac", "-g", "-d", str(classes), str(HERE / "Workload.java")], check=True)
    (work / "Hello.java").write_text(HELLO)
    subprocess.run(["javac", "-d", str(classes), str(work / "Hello.java")], check=True)
    ours = tool_options("", jar)
    setups = [("plain", None, "off"), ("agent, error mode (nothing written)", ours, "error"),
              ("agent, dev mode", ours, "dev")]
    if ns.otel:
        methods = "Workload[fib,parse,valid,total,format,report,totals,records,makeText]"
        setups.append(("OpenTelemetry agent, same methods, no exporter",
                       f"-javaagent:{ns.otel} -Dotel.traces.exporter=none -Dotel.metrics.exporter=none "
                       f"-Dotel.logs.exporter=none -Dotel.instrumentation.methods.include={methods}",
                       "off"))
    rows = []
    cases = [("dense", ns.dense, "first round"), ("records", ns.records, "first round (loads classes)"),
             ("records", ns.records, f"warm: median of rounds 2-{ns.rounds}")]
    for workload, size, which in cases:
        calls = 0
        times: dict[str, list[int]] = {label: [] for label, _, _ in setups}
        sizes: dict[str, list[float]] = {label: [] for label, _, _ in setups}
        for i in range(ns.runs):  # the setups take turns, so that the machine's load drifts alike for each
            for label, options, mode in setups:
                spool = work / f"{workload}-{mode}-{i}"
                rounds = work_ns(classes, [workload, str(size), str(ns.rounds)],
                                 java_env(options, mode, spool))
                times[label].append(rounds[0] if which.startswith("first") else statistics.median(rounds[1:]))
                for trace in spool.glob("*.otrace"):
                    counts = read_summary(trace)["counts"]
                    calls = counts["calls"] // ns.rounds
                    events = counts["calls"] + counts["returns"] + counts["unwinds"]
                    sizes[label].append(trace.stat().st_size / max(events, 1))
        results = [(label, statistics.median(times[label]), sizes[label]) for label, _, _ in setups]
        plain = results[0][1]
        for label, median, sizes_of_setup in results:
            per_call = f"{(median - plain) / calls:.0f}" if calls and median is not plain else "-"
            rows.append(f"| {workload} ({size}, {calls:,} calls), {which} | {label} | "
                        f"{median / 1e6:.1f} ms | {median / plain:.2f}x | {per_call} | "
                        f"{f'{statistics.median(sizes_of_setup):.2f}' if sizes_of_setup else '-'} |")
    print("| workload | setup | median work CPU time | ratio to plain | ns per call | bytes per event |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    print()
    print("| hello world JVM | median wall | median CPU |")
    print("|---|---|---|")
    hello: dict[str, list[tuple[float, float]]] = {label: [] for label, _, _ in setups}
    for _ in range(ns.runs):
        for label, options, mode in setups:
            hello[label].append(process_time(["java", "-cp", str(classes), "Hello"],
                                             java_env(options, mode, work / "hello")))
    for label, runs in hello.items():
        print(f"| {label} | {statistics.median(w for w, _ in runs):.2f} s | "
              f"{statistics.median(c for _, c in runs):.2f} s |")


if __name__ == "__main__":
    main()
