"""Orionis Python agent vs VizTracer: medians of several runs, as ratios to untraced.

    python benchmarks/python_agent/bench.py [--runs 5] [--hook auto|c|python]
        [--workload fib|render]
    python benchmarks/python_agent/bench.py --instructions [--fib 20]

Run it with each interpreter to compare (`~/.pyenv/versions/3.13.0/bin/python bench.py`):
the ratios are to the untraced run of that interpreter, in the same run.

Each configuration runs the workload in a fresh process; the workload times only its own
work (not interpreter start or trace saving) and reports its peak RSS. Configurations are
interleaved run by run, so that a slow spell of the shared machine hits them all alike.
"Events" are the calls, returns and unwinds each tracer recorded (VizTracer: two per
complete event); "ns/event" is the time added over untraced divided by them.
"nothing traced" installs the agent's hook with every function filtered out: the cost of
having the hook at all (on CPython 3.11 a profile function, which slows every call down
once set; on 3.12+ sys.monitoring callbacks, which disable filtered code at its first
event).
"sampled ring" is error mode without a call hook (a thread samples stacks every ~1 ms).
Each table gives wall time and CPU time (the workload process's, every thread: a tracer's
writer thread counts too); ratios and ns/event are taken from CPU time, which a busy
machine distorts less than wall time.

--instructions settles calls-only cost where even CPU time is too noisy (a shared
machine): fib(N) runs under `valgrind --tool=callgrind` in each configuration (untraced,
orion safe with sampling off, VizTracer with its defaults), which counts the instructions
executed between the workload's start and end markers (math.lcm() and math.isqrt(0);
--zero-before/--dump-before), twice: in every thread of the process (the writer threads'
compression included), and in the program's thread alone (what the traced code waits
for). Interpreter start-up, the tracer's set-up and its saving at exit are left out
(VizTracer writes its JSON there). Under callgrind a program runs ~50x slower, so the
agent's 50 ms flush timer writes many more, smaller frames than it would natively: the
writer threads' count is inflated by their per-frame costs. So the frames a native run
of fib(N) wrote (as many and as big as the flush timer and batch size made them) are
also compressed again as the writer does it (zstd at its level, crc32) under callgrind:
"program thread + native writer" is the agent's whole cost at native speed. The CPU-time
tables (all threads, native speed) are the check on it.
Untraced and VizTracer count the same in every run (PYTHONHASHSEED=0); orion's program
thread moves by a few percent (which thread hands a chunk to the writer, and when, follows
the timer). callgrind counts a `rep movsb` copy per byte, so copies weigh more than they
cost natively. "instr/event" is the
instructions over untraced divided by the events of the measured part: fib(N)'s calls and
returns, which every configuration records in full (each must have recorded at least
that many: checked).
"""

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
WORKLOAD = str(HERE / "workloads.py")
PY = sys.executable


def configs(tmp):
    def agent(name, *options):
        return [PY, "-m", "orion.agent", "--spool", str(Path(tmp) / name), *options]

    viz = [PY, "-m", "viztracer", "--quiet", "-o", str(Path(tmp) / "viz.json")]
    return {
        "untraced": [PY],
        "orion error, nothing traced (hook floor)": agent("floor", "--mode", "error",
                                                          "--exclude", "__main__"),
        "orion safe, sampling off": agent("safe", "--mode", "safe", "--sample", "off"),
        "orion safe, default 1% sampling": agent("sampled", "--mode", "safe"),
        "orion dev (args + returns)": agent("dev", "--mode", "dev"),
        "orion error": agent("error", "--mode", "error"),
        "orion error, sampled ring": agent("errsampled", "--mode", "error", "--ring", "sampled"),
        "viztracer (default)": viz,
        "viztracer --log_func_args --log_func_retval": [*viz, "--log_func_args",
                                                        "--log_func_retval"],
    }


def events(command, tmp, since: float) -> int | None:
    """Events the run of `command` that started at `since` recorded (None: no trace; a
    sampled-out run of `safe` writes none)."""
    if "viztracer" in command:  # in a child: loading the JSON would raise our peak RSS,
        script = ("import json,sys; print(2 * sum(e.get('ph') == 'X' for e in "  # which
                  "json.load(open(sys.argv[1]))['traceEvents']))")  # children inherit
        return int(subprocess.run([PY, "-c", script, str(Path(tmp) / "viz.json")],
                                  capture_output=True, text=True, check=True).stdout)
    if "--spool" not in command:
        return None
    from orion.format.summary import read_summary

    spool = Path(command[command.index("--spool") + 1])
    paths = sorted((p for p in spool.glob("*.otrace") if p.stat().st_mtime >= since),
                   key=lambda p: p.stat().st_mtime)
    if not paths:
        return None
    counts = read_summary(paths[-1])["counts"]
    return counts["calls"] + counts["returns"] + counts["unwinds"]


def run(command, workload, hook):
    """(wall seconds, CPU seconds, peak RSS KB) of the workload's measured part."""
    env = dict(os.environ, ORION_HOOK=hook)
    out = subprocess.run([*command, WORKLOAD, workload], capture_output=True, text=True,
                         env=env, check=True).stdout.strip().splitlines()[-1]
    elapsed, cpu, peak = out.split()
    return float(elapsed), float(cpu), int(peak)


def timings(opts):
    with tempfile.TemporaryDirectory() as tmp:
        for workload in opts.workload or ("fib", "render"):
            table = configs(tmp)
            walls = {name: [] for name in table}
            cpus = {name: [] for name in table}
            peaks = {name: 0 for name in table}
            counted = {}
            for _ in range(opts.runs):
                for name, command in table.items():
                    since = time.time() - 0.01
                    wall, cpu, peak = run(command, workload, opts.hook)
                    walls[name].append(wall)
                    cpus[name].append(cpu)
                    peaks[name] = max(peaks[name], peak)
                    counted.setdefault(name, []).append(events(command, tmp, since))
            print(f"\n{workload} (median of {opts.runs}, hook={opts.hook}, "
                  f"CPython {platform.python_version()})")
            print("| configuration | wall s | CPU s | ratio (CPU) | events | ns/event (CPU) "
                  "| peak RSS MB |")
            print("|---|---:|---:|---:|---:|---:|---:|")
            base = statistics.median(cpus["untraced"])
            for name in table:
                cpu = statistics.median(cpus[name])
                n = counted[name][-1] if None not in counted[name] else None  # every run
                per = f"{(cpu - base) / n * 1e9:.0f}" if n else "-"
                print(f"| {name} | {statistics.median(walls[name]):.4f} | {cpu:.4f} "
                      f"| {cpu / base:.2f} | {n or '-'} | {per} | {peaks[name] / 1024:.1f} |")


def fib_calls(n: int) -> int:
    """How many calls fib(n) makes (itself included)."""
    calls = [1, 1]
    for _ in range(2, n + 1):
        calls.append(calls[-1] + calls[-2] + 1)
    return calls[n]


def counted_instructions(command, n: int, out: Path, program_thread: bool) -> int:
    """Instructions callgrind counts between the workload's markers in one run of fib(n):
    in every thread, or in the program's thread only (`out`: an empty directory;
    children are followed: the agent execs the program)."""
    subprocess.run(["valgrind", "--tool=callgrind", "--trace-children=yes",
                    f"--separate-threads={'yes' if program_thread else 'no'}",
                    f"--callgrind-out-file={out}/cg.%p", "--zero-before=math_lcm",
                    "--dump-before=math_isqrt", "--dump-instr=no",
                    *command, WORKLOAD, "fib", str(n)],
                   env=dict(os.environ, PYTHONHASHSEED="0"), capture_output=True, check=True)
    # the dump at the end marker (with separate threads, only the thread that reached it)
    parts = list(out.glob("cg.*.1-01" if program_thread else "cg.*.1"))
    if len(parts) != 1:
        sys.exit(f"error: expected one callgrind dump at the end marker, found {len(parts)}")
    summary = [line for line in parts[0].read_text().splitlines()
               if line.startswith("summary:")]
    return int(summary[0].split()[1])


# Compresses the frames given as files as the trace writer does, between the markers.
WRITER = """\
import math, sys, zlib, zstandard
from orion.format.writer import DEFAULT_LEVEL
frames = [open(path, "rb").read() for path in sys.argv[1:]]
compressor = zstandard.ZstdCompressor(level=DEFAULT_LEVEL, write_checksum=True,
                                      write_content_size=True)
crc = 0
math.lcm()
for data in frames:
    crc = zlib.crc32(data, crc)
    compressor.compress(data)
math.isqrt(0)
"""


def writer_at_native_speed(command, n: int, tmp: str) -> tuple[int, int]:
    """(instructions, events): the compression of the frames a native run of fib(n) wrote
    (their number and sizes as the flush timer and batch size made them), counted under
    callgrind; the events are the trace's calls and returns."""
    import zstandard

    from orion.format.frames import iter_frames
    from orion.format.summary import read_summary

    since = time.time() - 0.01
    subprocess.run([*command, WORKLOAD, "fib", str(n)], capture_output=True, check=True)
    spool = Path(command[command.index("--spool") + 1])
    (trace,) = (p for p in spool.glob("*.otrace") if p.stat().st_mtime >= since)
    data = trace.read_bytes()
    frames = Path(tempfile.mkdtemp(dir=tmp))
    for i, frame in enumerate(f for f in iter_frames(data, 0) if not f.skippable):
        raw = zstandard.ZstdDecompressor().decompress(data[frame.offset:frame.offset + frame.size])
        (frames / f"{i:05d}").write_bytes(raw)
    out = Path(tempfile.mkdtemp(dir=tmp))
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/cg.%p",
                    "--zero-before=math_lcm", "--dump-before=math_isqrt", "--dump-instr=no",
                    PY, "-c", WRITER, *sorted(str(p) for p in frames.iterdir())],
                   capture_output=True, check=True)
    (part,) = out.glob("cg.*.1")
    summary = [line for line in part.read_text().splitlines() if line.startswith("summary:")]
    counts = read_summary(trace)["counts"]
    return int(summary[0].split()[1]), counts["calls"] + counts["returns"]


def instructions(opts):
    if shutil.which("valgrind") is None:
        sys.exit("error: --instructions needs valgrind (apt-get install valgrind)")
    wanted = ("untraced", "orion safe, sampling off", "viztracer (default)")
    region_events = 2 * fib_calls(opts.fib)
    counts = {}
    with tempfile.TemporaryDirectory() as tmp:
        table = {name: command for name, command in configs(tmp).items() if name in wanted}
        for name, command in table.items():
            for scope in ("all threads", "program thread"):
                since = time.time() - 0.01
                out = Path(tempfile.mkdtemp(dir=tmp))
                counts[name, scope] = counted_instructions(command, opts.fib, out,
                                                           scope == "program thread")
                recorded = events(command, tmp, since)
                if recorded is not None and recorded < region_events:
                    sys.exit(f"error: {name} recorded {recorded} events, fewer than fib's "
                             f"{region_events}")
        writer, writer_events = writer_at_native_speed(table["orion safe, sampling off"],
                                                       opts.fib, tmp)
    print(f"\nfib({opts.fib}) under callgrind: instructions between the markers "
          f"({region_events} events; CPython {platform.python_version()})")
    print("| configuration | threads | instructions | instr/event over untraced "
          "| ratio to viztracer |")
    print("|---|---|---:|---:|---:|")
    for (name, scope), count in counts.items():
        per = (count - counts["untraced", scope]) / region_events
        viz = (counts["viztracer (default)", scope] - counts["untraced", scope]) / region_events
        ratio = f"{per / viz:.2f}" if name != "untraced" else "-"
        print(f"| {name} | {scope} | {count} | {per:.0f} | {ratio} |")
    per = writer / writer_events
    viz = (counts["viztracer (default)", "all threads"] - counts["untraced", "all threads"])
    program = counts["orion safe, sampling off", "program thread"] - counts["untraced",
                                                                           "program thread"]
    print(f"| orion's writer, the frames of a native run | compression | {writer} | {per:.0f} "
          f"| {per * region_events / viz:.2f} |")
    print(f"| orion safe: program thread + native writer | | | "
          f"{program / region_events + per:.0f} | {(program + per * region_events) / viz:.2f} |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--hook", default="auto", choices=("auto", "c", "python"))
    parser.add_argument("--workload", action="append", choices=("fib", "render"),
                        help="run only this workload (repeatable; default: both)")
    parser.add_argument("--instructions", action="store_true",
                        help="count instructions of calls-only tracing under callgrind")
    parser.add_argument("--fib", type=int, default=20, help="fib(N) for --instructions")
    opts = parser.parse_args()
    instructions(opts) if opts.instructions else timings(opts)


if __name__ == "__main__":
    main()
