"""The Python agent: trace this process (and its children) into .otrace files.

    import orion.agent
    orion.agent.start(mode="dev")         # or: with orion.agent.tracing(mode="dev"): ...
    ...
    orion.agent.stop()

Without code changes: `orion run -- python app.py`, `python -m orion.agent app.py`,
ORION_MODE=error in the environment, or `orion start` for every new Python process.
"""

from __future__ import annotations

import atexit
import functools
import os
import sys
import threading

from .config import AgentConfig
from .own_memory import hide_agent_allocations

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: typing costs every traced process its import
    from typing import Any, Callable

_session = None
_previous: dict[str, Any] = {}
_hook_kind = "python"
_run_module_wrapped = False
_BOOT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_boot")

__all__ = ["start", "stop", "tracing", "trace", "hook_kind", "current", "AgentConfig"]


def current():
    """The active session, or None."""
    return _session


def hook_kind() -> str:
    """Which hook delivers events: "c" (the compiled extension: sys.monitoring callbacks
    on CPython >= 3.12, else a profile function), "python" (sys.settrace), or "sampled"
    (error mode's sampled ring: no hook)."""
    if _session is not None:
        return _hook_kind
    return "c" if _load_c_hook(AgentConfig(hook="auto")) is not None else "python"


def start(mode: str | None = None, include_modules: list[str] | None = None,
          exclude_modules: list[str] | None = None, *, spool: str | None = None,
          sample: float | None = None, propagate: bool = True, **options: Any):
    """Start tracing this process; settings not given come from ORION_* variables.

    `propagate` exports the settings so that child processes are traced too.
    Returns the session (its `trace_id` names the trace in dev and safe modes).
    """
    global _session
    if _session is not None:
        return _session
    config = AgentConfig.from_env(mode=mode, include_modules=include_modules,
                                  exclude_modules=exclude_modules, spool=spool,
                                  sample=sample, **options)
    if config.mode == "safe" and config.sample < 1.0:
        import random

        if random.random() >= config.sample:
            return None  # sampled out: this process records nothing
    from .session import Session

    session = Session(config)
    _session = session
    _install(session)
    if propagate:
        _export(session)
    return session


def stop() -> str | None:
    """Stop tracing and finish the trace; returns the path written (dev/safe), if any."""
    global _session
    session = _session
    if session is None:
        return None
    _uninstall()
    _session = None
    _unexport()
    return session.close()


def tracing(mode: str | None = "dev", **options: Any) -> _Tracing:
    """Trace the body of a `with` block (and what it calls); `as` gives the session."""
    return _Tracing(mode, options)


class _Tracing:
    """tracing()'s context manager (a class: contextlib costs every traced process)."""

    def __init__(self, mode: str | None, options: dict[str, Any]) -> None:
        self.mode = mode
        self.options = options
        self.session = None

    def __enter__(self):
        self.session = start(mode=self.mode, propagate=False, **self.options)
        return self.session

    def __exit__(self, kind, exc, traceback) -> None:
        if self.session is None:
            return
        if exc is not None and not isinstance(exc, (SystemExit, KeyboardInterrupt,
                                                    GeneratorExit)):
            self.session.fail(exc)
        stop()


def trace(func: Callable | None = None, **options: Any) -> Callable:
    """Decorator: trace every call of `func` (each call is one trace)."""

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if _session is not None:
                return fn(*args, **kwargs)
            with tracing(**options):
                return fn(*args, **kwargs)

        return wrapper

    return decorate(func) if func is not None else decorate


# -- hooks ---------------------------------------------------------------------------


def _load_c_hook(config: AgentConfig):
    if config.hook == "python":
        return None
    try:
        from . import _hook
    except ImportError:
        if config.hook == "c":
            from ..errors import OrionError

            raise OrionError("the compiled hook orion.agent._hook is not built "
                             "(reinstall with a C compiler, or set ORION_HOOK=python)") from None
        return None
    return _hook


def _install(session) -> None:
    global _hook_kind
    hook = _load_c_hook(session.config)
    if session.sampled:  # a sampler thread fills the ring: no call hook at all
        _hook_kind = "sampled"
    elif hook is not None:
        _hook_kind = "c"
        _install_c_tracer(hook, session)
    else:
        _hook_kind = "python"
        sys.settrace(session.trace)
        threading.settrace(session.trace)
    if hook is not None:
        _wrap_run_module(hook)
    _previous.setdefault("excepthook", sys.excepthook)
    _previous.setdefault("threading_excepthook", threading.excepthook)
    sys.excepthook = _excepthook
    threading.excepthook = _threading_excepthook
    atexit.register(_atexit)
    if threading.current_thread() is threading.main_thread():
        _install_signals()
    _install_faulthandler(session)
    _install_thread_start()
    hide_agent_allocations()


_C_MODES = {"safe": 0, "dev": 1, "error": 2}  # orion/agent/_hook.c: calls, values, ring


def _install_c_tracer(hook, session) -> None:
    """A C tracer for `session`, hooked into every thread, running already or new."""
    adaptive = session.config.adaptive
    policy = {} if adaptive is None or session.mode == "error" else dict(
        zip(("full_calls", "value_every", "max_calls"), adaptive))
    tracer = hook.Tracer(session, session.t0, _C_MODES[session.mode], session.config.ring,
                         session.secret_values, **policy)
    session.attach(tracer)
    _previous["c_tracer"] = tracer
    tracer.install(session.own_threads())
    if tracer.hook == "profile":  # sys.monitoring covers every thread by itself
        threading.setprofile(tracer.thread_bootstrap)


def _wrap_run_module(hook) -> None:
    """`python -m pkg` whose __main__ is not traced (`-m unittest`, `-m pip`) exits through
    a SystemExit that no hook sees, and the trace would say exit code 0. CPython looks up
    runpy._run_module_as_main only after site processing, where the agent starts when
    interpreter start starts it (sys.argv is then ["-m"]), so the compiled hook's wrapper
    can stand in for it for the rest of the process. It is C, adding no traceback line; a
    Python one would, so the pure-Python hook goes without (README: Python agent)."""
    global _run_module_wrapped
    if _run_module_wrapped or sys.argv[:1] != ["-m"]:
        return
    import runpy

    runpy._run_module_as_main = hook.wrap_main(runpy._run_module_as_main, _module_exited)
    _run_module_wrapped = True


def _module_exited(exc) -> None:
    """The `python -m` module ended with SystemExit `exc` (or its argument, not yet
    normalized): its status is the process's, which close() writes."""
    session = _session
    if session is not None:
        if not isinstance(exc, BaseException):
            exc = SystemExit(*exc) if isinstance(exc, tuple) else SystemExit(exc)
        from .session import _exit_status

        session.exit_code = _exit_status(exc.code)


def _uninstall() -> None:
    tracer = _previous.pop("c_tracer", None)
    if tracer is not None:
        tracer.uninstall()
    sys.settrace(None)
    threading.settrace(None)  # type: ignore[arg-type]
    threading.setprofile(None)  # type: ignore[arg-type]
    if sys.excepthook is _excepthook:
        sys.excepthook = _previous.pop("excepthook")
    if threading.excepthook is _threading_excepthook:
        threading.excepthook = _previous.pop("threading_excepthook")
    atexit.unregister(_atexit)
    _restore_signals()
    _uninstall_faulthandler()
    if "thread_start" in _previous:
        threading.Thread.start = _previous.pop("thread_start")


def _install_thread_start() -> None:
    """Wrap Thread.start, the one place that sees both the starting thread and the started
    one: the new thread's lane gets the starter's lane as parent."""
    if "thread_start" in _previous:
        return
    original = _previous["thread_start"] = threading.Thread.start

    @functools.wraps(original)
    def start(thread):
        session = _session
        if session is not None:
            try:
                session.thread_starting(thread)
            except Exception:  # never let tracing break the program's thread
                pass
        return original(thread)

    threading.Thread.start = start


def _uninstall_faulthandler() -> None:
    import faulthandler

    sidecar = _previous.pop("faulthandler", None)
    if sidecar is not None:
        faulthandler.disable()
        os.close(sidecar)


def _excepthook(exc_type, exc, tb) -> None:
    session = _session
    if session is not None:
        # CPython ends by SIGINT after an unhandled KeyboardInterrupt: 130 to a shell
        status = 128 + 2 if issubclass(exc_type, KeyboardInterrupt) else 1
        try:
            if exc.__traceback__ is None:
                exc.__traceback__ = tb
            session.fail(exc, kind="uncaught", exit_code=status)
            session.exit_code = status
        except Exception:
            pass
    _previous.get("excepthook", sys.__excepthook__)(exc_type, exc, tb)


def _threading_excepthook(args) -> None:
    session = _session
    if session is not None and args.exc_type is not SystemExit and args.exc_value is not None:
        try:
            session.fail(args.exc_value, kind="uncaught")
        except Exception:
            pass
    _previous.get("threading_excepthook", threading.__excepthook__)(args)


def _atexit() -> None:
    global _session
    session = _session
    if session is None:
        return
    sys.settrace(None)
    tracer = _previous.get("c_tracer")
    if tracer is not None:
        tracer.uninstall()
    _session = None
    interrupted = _dying_of_keyboard_interrupt()
    try:
        session.close()
    except Exception:
        pass
    if interrupted:
        _exit_by_sigint()


def _dying_of_keyboard_interrupt() -> bool:
    """Is the interpreter exiting because of an unhandled KeyboardInterrupt? It then ends by
    SIGINT (status 130 in a shell), unless anything imports a module meanwhile, as closing
    the trace may: CPython forgets the interrupt then, and exits with status 1."""
    last = getattr(sys, "last_type", None)
    return isinstance(last, type) and issubclass(last, KeyboardInterrupt) \
        and threading.current_thread() is threading.main_thread() and not hasattr(sys, "ps1")


def _exit_by_sigint() -> None:
    """End as CPython would after an unhandled KeyboardInterrupt: killed by SIGINT."""
    import _signal

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    _signal.signal(_signal.SIGINT, _signal.SIG_DFL)
    os.kill(os.getpid(), _signal.SIGINT)


def _install_signals() -> None:
    """Termination signals the program does not handle itself close the trace first.
    (_signal is the C module behind signal, whose enums would cost every traced process
    some milliseconds to build.)"""
    import _signal

    for name in ("SIGTERM", "SIGHUP", "SIGQUIT"):
        signum = getattr(_signal, name, None)
        if signum is None:
            continue
        try:
            if _signal.getsignal(signum) == _signal.SIG_DFL:
                _signal.signal(signum, _on_signal)
                _previous.setdefault("signals", {})[signum] = _signal.SIG_DFL
        except (ValueError, OSError):
            pass


def _restore_signals() -> None:
    import _signal

    for signum, handler in _previous.pop("signals", {}).items():
        try:
            if _signal.getsignal(signum) is _on_signal:
                _signal.signal(signum, handler)
        except (ValueError, OSError):
            pass


def _on_signal(signum, frame) -> None:
    import _signal

    global _session
    session = _session
    _session = None
    sys.settrace(None)
    tracer = _previous.get("c_tracer")
    if tracer is not None:
        tracer.uninstall()
    if session is not None:
        try:
            session.signal_crash(signum)
        except Exception:
            pass
    _signal.signal(signum, _signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_faulthandler(session) -> None:
    """Faults in C code (SIGSEGV, SIGABRT...) cannot run Python: faulthandler dumps the
    Python stacks to a sidecar file next to the trace, which the next run converts."""
    import faulthandler

    if faulthandler.is_enabled() or "faulthandler" in _previous:
        return
    from .crashes import open_sidecar

    sidecar = open_sidecar(session)
    if sidecar is not None:
        faulthandler.enable(file=sidecar, all_threads=True)
        _previous["faulthandler"] = sidecar


# -- child processes -------------------------------------------------------------------


def _export(session) -> None:
    """Put the settings in os.environ so that child processes trace themselves."""
    env = session.config.to_env()
    env["ORION_SPOOL"] = session.spool_dir
    env["ORION_PARENT"] = f"{session.trace_id}-{session.span_id}"
    saved = {key: os.environ.get(key) for key in (*env, "PYTHONPATH")}
    _previous["environ"] = saved
    os.environ.update(env)
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if _BOOT_DIR not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_BOOT_DIR, *paths) if p)


def _unexport() -> None:
    for key, value in _previous.pop("environ", {}).items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _after_fork_in_child() -> None:
    """A forked child continues with its own trace, whose parent is the forking process."""
    global _session
    session = _session
    if session is None:
        return
    session.abandon()
    _session = None
    tracer = _previous.get("c_tracer")
    if tracer is not None:  # the parent's hook on this thread: replaced below
        tracer.uninstall()
        tracer.close()
    from .session import Session

    config = session.config
    config.parent = {"trace_id": session.trace_id, "span_id": session.span_id}
    child = Session(config)
    _session = child
    os.environ["ORION_PARENT"] = f"{child.trace_id}-{child.span_id}"
    _uninstall_faulthandler()
    _install_faulthandler(child)
    if child.sampled:
        pass
    elif "c_tracer" in _previous:
        _install_c_tracer(_load_c_hook(config), child)
    else:
        sys.settrace(child.trace)
        threading.settrace(child.trace)
    mp_util = sys.modules.get("multiprocessing.util")
    if mp_util is not None:  # multiprocessing children leave through os._exit
        mp_util.register_after_fork(_FORK_TOKEN, _finalize_in_process)


class _Token:
    pass


_FORK_TOKEN = _Token()


def _finalize_in_process(_token) -> None:
    """Run by multiprocessing in a forked child after it clears its finalizers."""
    sys.modules["multiprocessing.util"].Finalize(None, _atexit, exitpriority=-100)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
