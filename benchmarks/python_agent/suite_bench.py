"""Dev mode on a real test suite from PyPI: `python -m pytest` plain vs under
`orion run --mode dev`, medians of several runs, wall time and trace size.

    python benchmarks/python_agent/suite_bench.py [--package more-itertools==10.5.0]
        [--runs 3] [--adaptive 10/1000/20000000]

The package's sdist is fetched with `pip download --no-binary :all:` into a temporary
directory (its tests are in the sdist) and its suite run from there, so the library under
test is the program's own code, as it is for its maintainers (a `src/` layout is put on
PYTHONPATH, so its tests import the sdist's library, not an installed one). Plain and traced runs are
interleaved, so that a slow spell of the shared machine hits both alike. The whole
process is timed (interpreter start, `orion run`'s own start-up and the trace's closing
included), wall clock and CPU (user + system of the whole process tree, steadier than
wall time on a shared machine). `--adaptive off` measures dev mode without adaptive
capture.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

PY = sys.executable


def fetch(package: str, into: Path) -> Path:
    """The unpacked sdist of `package` (a pip requirement) and its tests directory."""
    subprocess.run([PY, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary",
                    ":all:", package, "-d", str(into)], check=True)
    (archive,) = into.glob("*.tar.gz")
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    (source,) = (p for p in into.iterdir() if p.is_dir())
    return source


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], cwd: Path, env: dict) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, pytest's last line) of one run of `command`."""
    start, cpu = time.perf_counter(), cpu_seconds()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    tail = (result.stdout.strip().splitlines() or [""])[-1]
    if result.returncode not in (0, 1):
        sys.exit(f"{command[0]} failed ({result.returncode}): {result.stderr[-2000:]}")
    return elapsed, cpu, tail


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", default="more-itertools==10.5.0")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--adaptive", default=None,
                        help="ORION_ADAPTIVE for the traced runs (default: the agent's)")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORION_")}
    if args.adaptive:
        env["ORION_ADAPTIVE"] = args.adaptive
    with tempfile.TemporaryDirectory() as tmp:
        source = fetch(args.package, Path(tmp) / "sdist")
        if (source / "src").is_dir():
            env["PYTHONPATH"] = str(source / "src")
        pytest = [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]
        plain, traced, sizes = [], [], []
        for run in range(args.runs):
            plain.append(timed(pytest, source, env))
            print(f"plain  run {run + 1}: {plain[-1][0]:6.2f} s  CPU {plain[-1][1]:6.2f} s   "
                  f"{plain[-1][2]}", flush=True)
            spool = Path(tmp) / f"spool{run}"
            traced.append(timed([PY, "-m", "orion", "run", "--mode", "dev", "--spool",
                                 str(spool), "--", *pytest], source, env))
            sizes.append(sum(p.stat().st_size for p in spool.glob("*.otrace")))
            print(f"dev    run {run + 1}: {traced[-1][0]:6.2f} s  CPU {traced[-1][1]:6.2f} s   "
                  f"{traced[-1][2]}   {sizes[-1] / 1e6:.1f} MB", flush=True)
        from orion.format.summary import read_summary

        # the run's trace: the biggest (each failing test has a small one of its own)
        last = max((Path(tmp) / f"spool{args.runs - 1}").glob("*.otrace"),
                   key=lambda path: path.stat().st_size)
        summary = read_summary(last)
    print(f"\n{args.package}, medians of {args.runs}:")
    for column, what in ((0, "wall"), (1, "CPU")):
        p = statistics.median(run[column] for run in plain)
        d = statistics.median(run[column] for run in traced)
        print(f"  {what:4}: plain {p:6.2f} s, dev {d:6.2f} s ({d / p:.1f}x)")
    print(f"  trace {statistics.median(sizes) / 1e6:.1f} MB")
    print(f"counts {summary.get('counts')}")
    print(f"capture {summary.get('capture')}")


if __name__ == "__main__":
    main()
