"""Running a command with capture on for every runtime, as `orion run`, `test`, `watch`, the
git hooks and `demo` do: the child gets the environment the runtimes give it and the
signal dispositions it would get from a shell, and afterwards we know which traces it wrote
and can end this process the way the child ended.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import tempfile
import threading

from .errors import OrionError
from .runtimes import Capture, capture_environ, recorded, recover, runtimes
from .spool import Spool

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: every `orion run` would pay typing's import
    from typing import Callable, NoReturn

RUN_MODE = "dev"  # `orion run`'s mode when neither the option, ORION_MODE nor a config sets one

# Signals sent to `orion` alone (a CI runner's SIGTERM, `kill -USR1`) are passed on to the
# child. SIGINT and SIGQUIT come from the terminal to the whole foreground process group,
# the child included, so passing them on would deliver them twice: we only outlive them.
_FORWARDED = (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)
_OUTLIVED = (signal.SIGINT, signal.SIGQUIT)


def traced_run(command: list[str], *, mode: str | None, spool: Spool, say: Callable[[str], None],
               include: tuple[str, ...] = (), exclude: tuple[str, ...] = (),
               include_funcs: tuple[str, ...] = (), exclude_funcs: tuple[str, ...] = (),
               sample: str | None = None, verbose: bool = False) -> int:
    """`orion run`'s whole work, shared by its click command and its click-free fast path
    (orion.entry): run `command` traced, `say` (one line each, for stderr) which traces it
    wrote or why none, and return its status as run_with_capture does."""
    from .agent.config import parse_sample
    from .config import agent_environ
    from .render.safe import terminal

    environ = agent_environ()
    mode = mode or environ.get("ORION_MODE") or RUN_MODE
    if sample is None and mode == "safe" and "ORION_SAMPLE" not in environ:
        sample = "off"  # a run asked for by hand is recorded, unless a rate is configured
    rate = parse_sample(sample) if sample else None
    capture = Capture(mode=mode, spool=str(spool.path.resolve()), include=include,
                      exclude=exclude, include_funcs=include_funcs, exclude_funcs=exclude_funcs,
                      sample=rate, base=environ)
    if verbose:
        how = ", ".join(filter(None, (runtime.describe() for runtime in runtimes())))
        say(f"orion: {mode} mode, {how}, spool {capture.spool}")
    status, written = run_with_capture(command, capture)
    for line in _written_lines(written):
        say(terminal(line))
    if not written and mode == "error":
        say("orion: no trace written (error mode: nothing failed)")
    elif not written and mode == "safe" and _effective_rate(rate, environ) < 1.0:
        say(f"orion: no trace written (safe mode: this run was not among the "
            f"{_effective_rate(rate, environ):.0%} sampled)")
    elif not written:
        say(f"orion: no trace written: no agent ran in this command ({recorded()} "
            f"are recorded)")
    return status


def _written_lines(paths: list[str]) -> list[str]:
    """One line per trace written: its id and status (incomplete: the process was killed
    before it could finish it; still readable)."""
    if not paths:
        return []
    from .format.summary import read_summary

    lines = []
    for path in paths:
        try:
            summary = read_summary(path)
            lines.append(f"orion: trace {summary['trace_id']} {summary.get('status')}")
        except Exception:
            lines.append(f"orion: trace {path}")
    return lines


def _effective_rate(rate: float | None, environ: dict[str, str]) -> float:
    """The safe-mode rate the agents used: --sample, else the configured one."""
    from .agent.config import DEFAULT_SAMPLE, parse_sample

    if rate is not None:
        return rate
    return parse_sample(environ["ORION_SAMPLE"]) if environ.get("ORION_SAMPLE") else DEFAULT_SAMPLE


def run_with_capture(command: list[str], capture: Capture) -> tuple[int, list[str]]:
    """Run `command` with capture on; return its status as subprocess reports it (-N when
    signal N killed it) and the traces it wrote, including those of processes that died
    before they could close them (a fault in C code, SIGKILL)."""
    if not command:
        raise OrionError("give the command to run after --, e.g. orion run -- python app.py")
    spool = Spool(capture.spool)
    before = spool.names()
    fd, report = tempfile.mkstemp(prefix="orion-run-", suffix=".txt")
    os.close(fd)
    capture.report = report
    try:
        status = _run_child(command, capture_environ(capture))
        with open(report) as f:
            reported = [line.strip() for line in f if line.strip()]
    finally:
        os.unlink(report)
    written = recover(reported)
    known = {os.path.realpath(path) for path in written}
    # Oldest first: traces of agents killed before they could report them.
    for entry in reversed(spool.entries(among=spool.names() - before)):
        if os.path.realpath(entry.path) not in known:
            written.append(str(entry.path))
    return status, list(dict.fromkeys(written))


def _run_child(command: list[str], env: dict[str, str]) -> int:
    """Start the child with default signal dispositions (a handler, unlike SIG_IGN, is reset
    by exec), pass on what is sent to us alone, and wait for it."""
    child: subprocess.Popen | None = None
    previous: dict[int, object] = {}

    def forward(signum: int, frame) -> None:
        if child is not None and child.returncode is None:
            child.send_signal(signum)
        chained = previous.get(signum)
        if callable(chained):  # a caller's own handler (the git hooks unwind on SIGTERM)
            chained(signum, frame)

    in_main_thread = threading.current_thread() is threading.main_thread()
    for signum in _FORWARDED + _OUTLIVED if in_main_thread else ():
        if signal.getsignal(signum) == signal.SIG_IGN:
            continue  # ignored by whoever started us (`nohup`, `&`): the child inherits that
        previous[signum] = signal.signal(
            signum, forward if signum in _FORWARDED else lambda *_: None)
    try:
        try:
            child = subprocess.Popen(command, env=env)
        except OSError as exc:
            raise _cannot_run(command[0], exc) from None
        try:
            return child.wait()
        except BaseException:  # a handler of the caller's raised: the child goes too
            child.kill()
            child.wait()
            raise
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _cannot_run(program: str, exc: OSError) -> OrionError:
    """The shell's words and status for a command that cannot be started: 127 when it is
    not found, 126 when it cannot be executed."""
    if exc.errno == errno.ENOENT:
        return OrionError(f"{program}: command not found", exit_code=127)
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    if exc.errno == errno.ENOEXEC:
        reason = "cannot execute binary file: Exec format error"
    return OrionError(f"{program}: {reason}", exit_code=126)


def shell_status(status: int) -> int:
    """The status a shell shows for a child: 128+N when signal N killed it."""
    return 128 - status if status < 0 else status


def exit_like(status: int, finalize: bool = True) -> NoReturn:
    """End this process the way the child ended, so that whoever waits for us (a shell, a
    CI runner, a test harness calling waitpid) cannot tell `orion run` from the program:
    the same exit code, or death by the same signal (without a second core dump).
    `finalize=False` skips the interpreter's teardown (a tenth of `orion run`'s start-up
    cost), for a caller that leaves nothing to clean up but its output."""
    if status >= 0 and not finalize:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a closed pipe or stream: nothing more to say
                pass
        os._exit(shell_status(status))
    if status < 0:
        sys.stdout.flush()
        sys.stderr.flush()
        signum = -status
        try:
            import resource

            resource.setrlimit(resource.RLIMIT_CORE,
                               (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
        except (ImportError, ValueError, OSError):
            pass
        if signum not in (signal.SIGKILL, signal.SIGSTOP):  # these cannot be caught or blocked
            signal.signal(signum, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [signum])
        os.kill(os.getpid(), signum)
    sys.exit(shell_status(status))
