"""What `orion status` and `orion doctor` report: capture state, spool figures, and checks of
the installation that each come with the fix for what they find wrong.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .query import Listed, TraceFilter, select
from .spool import Entry, Spool

OK, WARN, FAIL = "ok", "warn", "fail"
NEWEST_FAILURES = 5


# -- status ----------------------------------------------------------------------------

def capture_state() -> dict:
    """Whether capture is on for new processes, and what turned it on."""
    from .agent.launch import status

    state = dict(status())
    mode = os.environ.get("ORION_MODE")
    if mode and mode != "off":
        state.update(on=True, mode=mode, how=f"ORION_MODE={mode} in this shell's environment")
    elif mode == "off":
        state.update(on=False, how="ORION_MODE=off in this shell's environment")
    elif state["on"]:
        where = state["spool"] or "each process's default spool"
        ring = f", {state['ring']} ring" if state.get("ring") else ""
        state["how"] = (f"orion start: {state['mode']} mode{ring}, traces to {where}; "
                        f"hook {state['pth']}")
    else:
        state["how"] = "`orion start` turns it on"
    return state


@dataclass
class SpoolStats:
    path: str
    total: int = 0
    failed: int = 0
    incomplete: int = 0
    bytes: int = 0
    newest_failures: list[Listed] = field(default_factory=list)


def spool_stats(spool: Spool, entries: Iterable[Entry] | None = None) -> SpoolStats:
    """Counts by status, disk used and the newest failures (of `entries`, default all)."""
    stats = SpoolStats(str(spool.path))
    for item in select(spool.entries() if entries is None else entries, TraceFilter()):
        stats.total += 1
        try:
            stats.bytes += item.entry.path.stat().st_size
        except OSError:
            pass
        status = item.summary.get("status")
        if status == "incomplete":
            stats.incomplete += 1
        elif status in ("failed", "crashed"):
            stats.failed += 1
        if status != "ok" and len(stats.newest_failures) < NEWEST_FAILURES:
            stats.newest_failures.append(item)
    return stats


def serve_processes() -> list[int] | None:
    """Pids of running `orion serve` processes; None when there is no serve command."""
    from .cli import COMMANDS

    if "serve" not in COMMANDS:
        return None
    pids = []
    for name in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            argv = Path(f"/proc/{name}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [os.path.basename(a.decode(errors="replace")) for a in argv if a]
        if "serve" in words and any(w in ("orion", "orion.cli") for w in words):
            pids.append(int(name))
    return pids


# -- doctor ----------------------------------------------------------------------------

@dataclass
class Check:
    name: str
    level: str  # ok, warn, fail
    detail: str
    fix: str | None = None

    def json(self) -> dict:
        return {"check": self.name, "level": self.level, "detail": self.detail, "fix": self.fix}


def check_spool(spool: Spool) -> Check:
    try:
        spool.path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=spool.path, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Check("spool", FAIL, f"{spool.path} is not writable ({exc.strerror or exc})",
                     f"fix the permissions of {spool.path}, or pass --spool / set ORION_SPOOL")
    return Check("spool", OK, f"{spool.path} is writable")


def check_zero_config() -> Check:
    state = capture_state()
    if not state.get("installed"):
        return Check("zero-config hook", WARN, f"not installed ({state['pth']})",
                     "`orion start` installs it (`orion stop` keeps it, capture off)")
    return Check("zero-config hook", OK, f"{state['pth']}: capture {'on' if state['on'] else 'off'}")


def check_watchdog() -> Check:
    try:
        import watchdog  # noqa: F401
    except ImportError:
        return Check("watchdog", WARN, "not installed (needed by `orion watch`)",
                     "pip install watchdog")
    return Check("watchdog", OK, "installed (orion watch)")


def check_trace_index() -> Check:
    from .analysis.trace_index import _index

    if _index is None:
        return Check("trace index", WARN, "built in Python (orion.analysis._index was not "
                     "compiled): big traces open ~10x slower in replay, show --json and serve",
                     "reinstall with a C compiler present: pip install --force-reinstall -e .")
    return Check("trace index", OK, "built in C (orion.analysis._index)")


def check_git_hooks(root: Path) -> Check:
    from .errors import OrionError
    from .hooks import git, installed_hooks

    if git(root, "rev-parse", "--show-toplevel") is None:
        return Check("git hooks", OK, "not in a git repository")
    try:
        hooks = installed_hooks(root)
    except OrionError as exc:
        return Check("git hooks", WARN, str(exc))
    present = [name for name, ours in hooks.items() if ours]
    if present:
        return Check("git hooks", OK, "installed: " + ", ".join(present))
    return Check("git hooks", WARN, "none installed",
                 "`orion hook install pre-commit` runs the tests under capture on commit")


def run_checks(spool: Spool, root: Path) -> list[Check]:
    """The installation's checks, then each runtime's (its agent, its toolchains)."""
    from .runtimes import detect_languages, runtimes

    used = set(detect_languages(root))
    return [check_spool(spool), check_zero_config(), check_watchdog(), check_trace_index(),
            *(check for runtime in runtimes() for check in runtime.doctor_checks(used)),
            check_git_hooks(root)]
