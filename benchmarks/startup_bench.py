"""`orion run`'s fixed cost: the time it adds to a command, measured from outside.

    python benchmarks/startup_bench.py [--runs 31] [--orion PATH] [--python PATH]

Each pair runs a command bare and under `orion run` (dev mode, a fresh spool), alternated
run by run so that a slow spell of a shared machine hits both alike; the figure is the
difference of the medians of wall time (and of the children's CPU time, steadier on a busy
machine). Two commands: `true` (orion's own start-up and the agents it prepares) and
`python -c pass` (plus the Python agent's boot in the child and writing its trace).

`--orion` and `--python` choose the installation measured: by default the `orion` and the
interpreter on PATH. To measure a plain install (no editable-install finder, no site
.pth files of the machine), make a venv and pass its binaries:

    python -m venv /tmp/v && /tmp/v/bin/pip install . && \\
        python benchmarks/startup_bench.py --orion /tmp/v/bin/orion --python /tmp/v/bin/python

What the figure leaves out: the command's own run time (it is the same both ways) and
anything the program does after the agent starts (that is per-call overhead, measured by
benchmarks/python_agent/bench.py).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall ms, children's CPU ms) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall * 1000, cpu * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=31)
    parser.add_argument("--orion", default=shutil.which("orion") or "orion")
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as spool:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORION_")}
        env["ORION_SPOOL"] = spool
        print(f"orion {args.orion}, python {args.python}, {args.runs} runs each, "
              f"medians in ms (wall / children's CPU)")
        for label, bare in (("true", ["true"]), ("python -c pass", [args.python, "-c", "pass"])):
            traced = [args.orion, "run", "--mode", "dev", "--", *bare]
            timed(traced, env)  # warm the caches orion keeps (agent build, distributions)
            runs: dict[str, list[tuple[float, float]]] = {"bare": [], "orion": []}
            for _ in range(args.runs):
                runs["bare"].append(timed(bare, env))
                runs["orion"].append(timed(traced, env))
            wall = {k: statistics.median(w for w, _ in v) for k, v in runs.items()}
            cpu = {k: statistics.median(c for _, c in v) for k, v in runs.items()}
            print(f"  {label:16s} bare {wall['bare']:6.1f} / {cpu['bare']:6.1f}   "
                  f"under orion run {wall['orion']:6.1f} / {cpu['orion']:6.1f}   "
                  f"added {wall['orion'] - wall['bare']:6.1f} / "
                  f"{cpu['orion'] - cpu['bare']:6.1f}")


if __name__ == "__main__":
    main()
