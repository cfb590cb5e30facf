"""`python -m orion.agent [--mode M] [--spool DIR] app.py args` or `... -m module args`.

The program runs in a fresh interpreter (exec) that starts the agent from the `_boot`
sitecustomize, so its sys.path, __main__, tracebacks and exit status are exactly those of
`python app.py`.
"""

from __future__ import annotations

import argparse
import os
import sys

from .config import AgentConfig
from .launch import agent_env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orion.agent",
                                     description="Run a Python program under the Orionis agent.")
    parser.add_argument("--mode", choices=("dev", "safe", "error"), default=None)
    parser.add_argument("--spool", default=None)
    parser.add_argument("--include", action="append", default=[], metavar="MODULE")
    parser.add_argument("--exclude", action="append", default=[], metavar="MODULE")
    parser.add_argument("--sample", default=None, help="safe mode: rate, e.g. 0.01, or off")
    parser.add_argument("--ring", default=None,
                        help="error mode: events kept (exact call ring), or 'sampled'")
    parser.add_argument("-m", dest="module", default=None, help="run a module as a script")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    opts = parser.parse_args(argv)
    if opts.module is None and not opts.args:
        parser.error("give a script or -m module")
    from .config import parse_ring, parse_sample

    ring, sampled = parse_ring(opts.ring) if opts.ring else (None, None)
    config = AgentConfig.from_env(
        mode=opts.mode or os.environ.get("ORION_MODE") or "dev", spool=opts.spool,
        include_modules=opts.include or None, exclude_modules=opts.exclude or None,
        sample=parse_sample(opts.sample) if opts.sample else None, ring=ring, sampled=sampled)
    if config.spool:
        config.spool = os.path.abspath(config.spool)
    command = [sys.executable, *(["-m", opts.module] if opts.module else []), *opts.args]
    env = agent_env(config)
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        os.execve(sys.executable, command, env)
    import subprocess

    return subprocess.call(command, env=env)


if __name__ == "__main__":
    sys.exit(main())
