"""Running a command with capture on for every runtime, as `orion run`, `test`, `watch`, the
git hooks and `demo` do: the child gets the environment the runtimes give it and the
signal dispositions it would get from a shell, and afterwards we know which traces it wrote
and can end this process the way the child ended.
"""

from __future__ import annotations

import _signal as signal  # not `signal`: its enums cost every `orion run` their creation
import errno
import os
import sys
from collections import namedtuple

from .errors import OrionError
from .runtimes import Capture, capture_environ, recorded, recover, runtimes
from .spooldir import TRACE_SUFFIX, trace_id_of

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: every `orion run` would pay typing's import
    from typing import Callable, NoReturn

RUN_MODE = "dev"  # `orion run`'s mode when neither the option, ORION_MODE nor a config sets one


class Ran(namedtuple("Ran", ["status", "written", "statuses"])):
    """A command run with capture on: its status as subprocess reports it (-N when signal
    N killed it), the traces it wrote (paths), and the statuses (ok, failed, crashed) the
    agents reported with theirs, by path."""

    __slots__ = ()

# Signals sent to `orion` alone (a CI runner's SIGTERM, `kill -USR1`) are passed on to the
# child. SIGINT and SIGQUIT come from the terminal to the whole foreground process group,
# the child included, so passing them on would deliver them twice: we only outlive them.
_FORWARDED = (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)
_OUTLIVED = (signal.SIGINT, signal.SIGQUIT)
# Ignored by the Python interpreter (not by whoever started us): a shell's child gets them
# at their defaults, as subprocess's restore_signals gives them.
_RESTORED = (signal.SIGPIPE, signal.SIGXFSZ)


def traced_run(command: list[str], *, mode: str | None, spool: str, say: Callable[[str], None],
               include: tuple[str, ...] = (), exclude: tuple[str, ...] = (),
               include_funcs: tuple[str, ...] = (), exclude_funcs: tuple[str, ...] = (),
               sample: str | None = None, verbose: bool = False) -> int:
    """`orion run`'s whole work, shared by its click command and its click-free fast path
    (orion.entry): run `command` traced, `say` (one line each, for stderr) which traces it
    wrote or why none, and return its status as run_with_capture does. `spool` is the
    spool directory's path."""
    from .agent.config import parse_sample
    from .config import agent_environ
    from .render.safe import terminal

    environ = agent_environ()
    mode = mode or environ.get("ORION_MODE") or RUN_MODE
    if sample is None and mode == "safe" and "ORION_SAMPLE" not in environ:
        sample = "off"  # a run asked for by hand is recorded, unless a rate is configured
    rate = parse_sample(sample) if sample else None
    capture = Capture(mode=mode, spool=os.path.realpath(spool), include=include,
                      exclude=exclude, include_funcs=include_funcs, exclude_funcs=exclude_funcs,
                      sample=rate, base=environ)
    if verbose:
        how = ", ".join(filter(None, (runtime.describe() for runtime in runtimes())))
        say(f"orion: {mode} mode, {how}, spool {capture.spool}")
    status, written, statuses = run_with_capture(command, capture)
    for line in _written_lines(written, statuses):
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


def _written_lines(paths: list[str], statuses: dict[str, str]) -> list[str]:
    """One line per trace written: its id and status, as its agent reported them, else as
    the trace says (incomplete: the process was killed before it could finish it; still
    readable)."""
    lines = []
    for path in paths:
        trace_id = trace_id_of(os.path.basename(path))
        if trace_id and statuses.get(path):
            lines.append(f"orion: trace {trace_id} {statuses[path]}")
            continue
        from .format.summary import read_summary

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


def run_with_capture(command: list[str], capture: Capture) -> Ran:
    """Run `command` with capture on and collect the traces it wrote, including those of
    processes that died before they could close them (a fault in C code, SIGKILL). Each
    line of the report file names one (an agent may add a tab and the trace's status)."""
    if not command:
        raise OrionError("give the command to run after --, e.g. orion run -- python app.py")
    before = _names(capture.spool)
    capture.report = report = _new_report_file()
    try:
        status = _run_child(command, capture_environ(capture))
        with open(report) as f:
            lines = [_report_line(line) for line in f if line.strip()]
    finally:
        os.unlink(report)
    reported = [path for path, _ in lines]
    statuses = {path: status for path, status in lines if status}
    written = recover(reported)
    known = {os.path.realpath(path) for path in written}
    unreported = {name for name in _names(capture.spool) - before
                  if name.endswith(TRACE_SUFFIX)
                  and os.path.realpath(os.path.join(capture.spool, name)) not in known}
    if unreported:  # traces of agents killed before they could report them, oldest first
        from .spool import Spool

        written += [str(entry.path) for entry in reversed(Spool(capture.spool).entries(
            among=unreported))]
    return Ran(status, list(dict.fromkeys(written)), statuses)


def _report_line(line: str) -> tuple[str, str | None]:
    """A report file's line: a path, and the status its agent gave the trace, if any."""
    path, _, status = line.rstrip("\n").rpartition("\t")
    if status in ("ok", "failed", "crashed"):
        return path, status
    return line.rstrip("\n"), None


def _names(directory: str) -> set[str]:
    """The names in a spool directory, nothing looked at (a stat per trace would cost
    every run that much); none when it does not exist yet."""
    try:
        return set(os.listdir(directory))
    except FileNotFoundError:
        return set()
    except OSError as exc:  # a file where the spool should be, no permission...
        raise OrionError(f"cannot read the spool {directory}: {exc.strerror or exc}") from None


def _new_report_file() -> str:
    """A new empty file, private to this user, for the agents to report their traces in
    (tempfile.mkstemp's, without the cost of importing tempfile into every run)."""
    directory = os.environ.get("TMPDIR") or "/tmp"
    for _ in range(100):
        path = os.path.join(directory, f"orion-run-{os.urandom(8).hex()}.txt")
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            return path
        except FileExistsError:
            continue
        except OSError:
            break  # no such or no writable directory: let tempfile find one
    import tempfile

    fd, path = tempfile.mkstemp(prefix="orion-run-", suffix=".txt")
    os.close(fd)
    return path


def _run_child(command: list[str], env: dict[str, str]) -> int:
    """Start the child with the signal dispositions a shell gives it, pass on what is sent
    to us alone, and wait for it; its status as subprocess reports it (-N: signal N)."""
    running: list[int] = []  # the child's pid while it has not been waited for
    previous: dict[int, object] = {}

    def forward(signum: int, frame) -> None:
        if running:
            try:
                os.kill(running[0], signum)
            except ProcessLookupError:  # it has just ended
                pass
        chained = previous.get(signum)
        if callable(chained):  # a caller's own handler (the git hooks unwind on SIGTERM)
            chained(signum, frame)

    try:
        for signum in _FORWARDED + _OUTLIVED:
            if signal.getsignal(signum) == signal.SIG_IGN:
                continue  # ignored by whoever started us (`nohup`, `&`): the child inherits it
            previous[signum] = signal.signal(
                signum, forward if signum in _FORWARDED else lambda *_: None)
    except ValueError:
        pass  # not the main thread, where only signal handlers can be set: none set
    try:
        running.append(_spawn(command, env))
        try:
            _pid, wait_status = os.waitpid(running[0], 0)
        except BaseException:  # a handler of the caller's raised: the child goes too
            os.kill(running[0], signal.SIGKILL)
            os.waitpid(running.pop(), 0)
            raise
        running.clear()
        return os.waitstatus_to_exitcode(wait_status)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _spawn(command: list[str], env: dict[str, str]) -> int:
    """fork and exec `command` (found on env's PATH) and return its pid, or raise what
    `_cannot_run` says. Not subprocess: its import costs every `orion run` several ms, and
    it closes the file descriptors we inherited, which a shell passes on (a make jobserver)."""
    errors, error_pipe = os.pipe()  # closed on exec: the child writes to it only when exec fails
    pid = os.fork()
    if pid == 0:  # the child: nothing but exec, or a report of why it could not
        try:
            os.close(errors)
            for signum in _RESTORED:
                signal.signal(signum, signal.SIG_DFL)
            os.execvpe(command[0], command, env)
        except BaseException as exc:  # noqa: B036 (whatever it is, exec did not happen)
            os.write(error_pipe, str(getattr(exc, "errno", None) or 0).encode())
        finally:
            os._exit(127)
    os.close(error_pipe)
    try:
        failure = b""
        while chunk := os.read(errors, 64):
            failure += chunk
    finally:
        os.close(errors)
    if failure:
        os.waitpid(pid, 0)
        code = int(failure)
        raise _cannot_run(command[0], OSError(code, os.strerror(code)) if code
                          else OSError("cannot execute it"))
    return pid


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
