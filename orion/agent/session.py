"""One traced process: the trace callbacks, lanes, functions, and where events go.

`dev` and `safe` stream records into a TraceWriter as they happen (a background flusher
pushes complete frames to disk within 100 ms or 64 KiB, so a killed process loses little;
the writer compresses frames on a thread of its own, off the traced threads).
`error` appends compact tuples to a bounded ring and writes a trace only when something
fails: the ring, then the failing stack with the locals of every frame.

The pure-Python hook follows the `sys.settrace` protocol: a global function sees every
new frame and returns a per-lane local function, which then sees that frame's exceptions
and its return. The C hook (orion/agent/_hook.c: sys.monitoring callbacks on CPython >=
3.12, a profile function on 3.11) sees an exception only as the unwind of a frame; both
write an `exception` record at an exception's first unwind on a lane (Lane.raised), so
that they write the same records.
The C hook records calls, returns and unwinds itself (packed records, or its own ring in
error mode) and calls back here only for what needs Python: new code objects, lanes,
exceptions, values that are not simple scalars, the locals of unwound frames. Its packed
records reach the writer through `_sync`, which every Python-side write calls first, so
records stay in order.
"""

from __future__ import annotations

import _thread
import opcode  # not dis: it imports far more, into every traced process
import os
import sys
import threading
import time
import weakref
from collections import deque

from .. import __version__
from ..format import constants as C
from ..format.writer import NO_VALUE, default_process, new_trace_id, record_packer
from ..spooldir import create_trace, resolve_spool_dir
from .config import AgentConfig
from .envsnap import command_line, imported_distributions, snapshot
from .filters import CodeFilter
from .values import (DEFAULT_SECRETS, MAX_TEXT, Capturer, SecretNames, add_secret_value,
                     redact_argv, scrub, startup_secret_values)

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing would cost every traced process
    from typing import Any

# The opcodes a frame leaves by normally (3.12 added RETURN_CONST); any other: an unwind.
_LEAVING_OPS = frozenset(opcode.opmap[name] for name in ("RETURN_VALUE", "RETURN_CONST",
                                                         "YIELD_VALUE") if name in opcode.opmap)
_RESUME = opcode.opmap.get("RESUME")
_CORO_FLAGS = 0x80 | 0x100 | 0x200  # CO_COROUTINE | CO_ITERABLE_COROUTINE | CO_ASYNC_GENERATOR
_ARG_FLAGS = ((0x04, 1), (0x08, 1))  # CO_VARARGS, CO_VARKEYWORDS
# What a kill -9 can lose (dev/safe): the flusher writes pending records every
# FLUSH_INTERVAL, a batch reaching FRAME_BYTES is written at once; the interval leaves
# room under 100 ms for the GIL hand-over and the compression thread on a busy machine
# (at 80 ms, one kill in a sweep at load 15 lost 105 ms).
FLUSH_INTERVAL = 0.05
FRAME_BYTES = 64 * 1024
SAMPLE_INTERVAL = 0.001  # sampled ring: seconds between stack samples
SAMPLED_RING = 2000  # sampled ring: stacks kept (a thread's unchanged stack is not kept)
# A failing stack's locals, innermost frames first, up to this many packed bytes: a deep
# recursion holding big values would otherwise make one record of hundreds of MB (readers
# refuse frames above 64 MiB). The frames past it are written without locals.
STACK_LOCALS_BYTES = 1024 * 1024
WRITER_QUEUE = 4  # dev/safe: batches waiting for the writer's compression thread
_CONTROL_FLOW = (StopIteration, StopAsyncIteration, GeneratorExit)
_now = time.perf_counter_ns
_SAMPLE = -1  # a sampled-ring entry: (_SAMPLE, t, lane, ((fid, line), ...) outermost first)
# What adaptive capture (spec 7.1) decided for a call, as the C hook's SLOT_* flags.
_RECORDED = 1  # its call record was written: its return or unwind is too
_VALUES = 2  # its arguments, return value or unwind locals are captured (dev)
_FULL = _RECORDED | _VALUES


def _exc_type(exc: BaseException) -> str:
    tp = type(exc)
    module = tp.__module__
    return tp.__qualname__ if module in ("builtins", "__main__") else f"{module}.{tp.__qualname__}"


class Lane:
    """A thread or an asyncio task; its bound `tracers` are the settrace local functions.

    The records are those of the C hook, which is a profile function and so learns of an
    exception only when it unwinds a frame: an `exception` record is written at the first
    unwind of an exception on the lane (with the line the frame stopped at), never for an
    exception a frame catches. `inflight` holds, per frame, the exception that last arrived
    in it: the one that unwinds it, if it does. One difference remains with the profile
    hook (3.11): an exception that C code swallows right after it unwinds a frame
    (`hasattr` on a raising property, `next(it, default)`) reaches no Python frame, so that
    hook cannot name it and writes the unwind alone, where this hook (and sys.monitoring's,
    whose unwind event carries the exception) also writes the `exception` record.
    """

    __slots__ = ("id", "session", "tracers", "last_exc", "inflight", "__weakref__")

    def __init__(self, lane_id: int, session: "Session") -> None:
        self.id = lane_id
        self.session = session
        self.last_exc: BaseException | None = None  # a reference: ids get reused
        self.inflight: dict = {}
        # the local function of a frame, by what adaptive capture keeps of its call: the
        # frame's f_trace then carries that to its return (the C hook keeps it in a slot)
        self.tracers = {_FULL: self.local, _RECORDED: self.local_without_values,
                        0: self.local_unrecorded}

    def local_without_values(self, frame, event: str, arg: Any):
        return self.local(frame, event, arg, _RECORDED)

    def local_unrecorded(self, frame, event: str, arg: Any):
        return self.local(frame, event, arg, 0)

    def local(self, frame, event: str, arg: Any, flags: int = _FULL):
        if event == "return":
            session = self.session
            exc = self.inflight.pop(frame, None) if self.inflight else None
            ops, lasti = session.ops[frame.f_code], frame.f_lasti
            # 3.13 reports a yield at the RESUME after it (oparg != 0: not a function start)
            if ops[lasti] in _LEAVING_OPS or (ops[lasti] == _RESUME and ops[lasti + 1]):
                if self.last_exc is not None and sys.getrefcount(self.last_exc) == 2:
                    self.last_exc = None  # handled and gone: let it go (as the C hook)
                session.on_return(self.id, arg, flags)
            else:
                session.on_unwind(self, frame, exc, flags)
        elif event == "exception":
            self.inflight[frame] = arg[1]
        return self.tracers[flags]

    def raised(self, exc: BaseException | None) -> bool:
        """Whether `exc`, unwinding a frame, gets an `exception` record (the C hook's rule)."""
        if exc is None or type(exc) in _CONTROL_FLOW or exc is self.last_exc:
            return False
        self.last_exc = exc
        return True


class Session:
    """The agent state of one process (a fork child gets a fresh one)."""

    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.mode = config.mode
        self.spool_dir = resolve_spool_dir(config.spool)
        self.trace_id = new_trace_id()
        self.span_id = os.urandom(8).hex()
        self.start_ns = time.time_ns()
        self.t0 = _now()
        self.lock = threading.RLock()
        self.filter = CodeFilter(config)
        self.secrets = SecretNames(DEFAULT_SECRETS if config.redact is None else config.redact)
        # scrubbed from free text: secret variables' and options' values, URL passwords,
        # then the values redacted
        self.secret_values = startup_secret_values(os.environ, command_line(), self.secrets)
        self.fids: dict[Any, int] = {}  # code -> function id, -1 when not traced
        self.sites: dict[int, int] = {}  # function id -> the site its last call record has
        self.ops: dict[Any, bytes] = {}  # code -> co_code, to tell a return from an unwind
        self.functions: list[tuple] = []  # error mode: (name, module, file, line) by id
        self.lanes: list[tuple] = []  # (name, kind, native_id, parent) by lane id
        self.thread_lanes = threading.local()  # each thread its own lane, even when a
        # new thread reuses an ended one's ident
        self.task_lanes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.spawners: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # Thread ->
        # the lane that started it: its lane's parent
        self.exit_code: int | None = None
        self.failure: dict | None = None
        self.written: list[str] = []
        self.closed = False
        self.writer = None
        self.ring: deque | None = None
        self.capturer: Capturer | None = None
        self.values = self.mode == "dev"
        # adaptive capture in the Python hook (the C hook keeps its own counts)
        self.function_calls: dict[int, int] = {}
        self.capture_counts = {"recorded": 0, "calls_without_values": 0, "calls_dropped": 0}
        self.packed = None  # the C hook, once attached: it packs records itself
        self.sampled = self.mode == "error" and config.sampled
        if self.sampled:
            self.ring = deque(maxlen=SAMPLED_RING)
            self.sample_lanes: dict[int, tuple[Any, Lane]] = {}  # ident -> (Thread, lane)
            _thread.start_new_thread(self._sampler, ())
        elif self.mode == "error":
            self.ring = deque(maxlen=config.ring)
        else:
            self.writer = self._open_writer(self.mode, None, background=WRITER_QUEUE,
                                            batch_bytes=FRAME_BYTES)
            if self.values:  # safe records calls only: no capturer, no values anywhere
                self.capturer = self._capturer(self.writer)
            _thread.start_new_thread(self._flusher, ())

    # -- writers -------------------------------------------------------------------

    def attach(self, tracer) -> None:
        """Let the C hook record events: into its own ring (error) or packed chunks."""
        self.packed = tracer
        if self.ring is not None:
            self.ring = tracer.ring

    def _sync(self) -> None:
        """Move the C hook's packed records into the writer (lock held), so that what
        Python writes next follows them."""
        packed = self.packed
        if packed is not None and self.writer is not None:
            chunk = packed.take()
            if chunk is not None and not self.closed:
                self.writer.append_packed(*chunk)

    def drain(self) -> None:
        """Called by the C hook when its chunk is full."""
        with self.lock:
            self._sync()

    def _capturer(self, writer) -> Capturer:
        return Capturer(writer.string, self.secrets, self.secret_values)

    def _open_writer(self, mode: str, window: str | None, start_ns: int | None = None,
                     **options):
        # Imported distributions: an error-mode trace is written after the failure, when
        # they are known; a dev/safe trace begins before the program imports anything, so
        # they go to its end record instead (see close).
        env = snapshot(self.secrets, self.secret_values, self.config.env_allow,
                       distributions=mode == "error")
        process = default_process()
        process["argv"] = redact_argv(command_line(), self.secrets, self.secret_values)
        return create_trace(
            self.spool_dir, language="python", agent="orion-python", agent_version=__version__,
            mode=mode, process=process,
            trace_id=None if self.written or self.writer is not None else self.trace_id,
            start_ns=start_ns or self.start_ns, env=env, service=self.config.service,
            parent=self.config.parent, window=window, **options)

    def _open_ring_writer(self, **options):
        """An error-mode writer whose clock starts at the oldest event in the ring."""
        origin = self.ring[0][1] if self.ring else self.now()
        writer = self._open_writer("error", "ring", self.start_ns + origin, **options)
        writer.origin = origin
        return writer

    def _report(self, path: str, status: str) -> None:
        self.written.append(path)
        self.announce(path, status)

    def announce(self, path: str, status: str | None = None) -> None:
        """Tell `orion run` (the ORION_REPORT file) of a trace written, with its status
        (which orion run then prints without reading the trace), or of this process's
        crash sidecar, which it converts if the process dies without removing it."""
        report = self.config.report
        if report:
            try:
                with open(report, "a") as f:
                    f.write(path + ("\n" if status is None else f"\t{status}\n"))
            except OSError:
                pass

    def _sampler(self) -> None:
        """The sampled ring: every thread's traced frames every SAMPLE_INTERVAL (in
        practice as often as the GIL lets this thread in: CPython hands it over every
        sys.getswitchinterval() when a thread computes), kept when they changed."""
        me = threading.get_ident()
        last: dict[int, tuple] = {}
        while not self.closed:
            time.sleep(SAMPLE_INTERVAL)
            t = self.now()
            for ident, frame in sys._current_frames().items():
                if ident == me:
                    continue
                stack = []
                while frame is not None:
                    fid = self._known(frame)
                    if fid >= 0:
                        stack.append((fid, frame.f_lineno))
                    frame = frame.f_back
                stack = tuple(reversed(stack))
                if stack and last.get(ident) != stack:
                    last[ident] = stack
                    self.ring.append((_SAMPLE, t, self._sample_lane(ident).id, stack))
            del frame

    def _sample_lane(self, ident: int) -> Lane:
        """A thread's lane in the sampled ring, by ident and Thread object (idents get
        reused): the sampler and the failing thread itself find the same one."""
        thread = threading._active.get(ident)
        with self.lock:
            known = self.sample_lanes.get(ident)
            if known is not None and known[0] is thread:
                return known[1]
            if thread is threading.main_thread():
                name = "MainThread"
            else:
                name = thread.name if thread is not None else f"Thread-{ident}"
            lane = self._new_lane(name, "thread", getattr(thread, "native_id", None),
                                  self._spawner(thread))
            self.sample_lanes[ident] = (thread, lane)
            return lane

    def _flusher(self) -> None:
        """Push buffered records to disk now and then (a raw thread, invisible to threading)."""
        while not self.closed:
            time.sleep(FLUSH_INTERVAL)
            with self.lock:
                if self.writer is not None and not self.closed:
                    try:
                        self._sync()
                        self.writer.flush()
                    except (OSError, ValueError):
                        return

    def now(self) -> int:
        """Nanoseconds since the session started, on the C hook's clock when it runs."""
        packed = self.packed
        return packed.now() if packed is not None else _now() - self.t0

    # -- definitions -----------------------------------------------------------------

    def classify(self, frame) -> int:
        """The function id of `frame`'s code, or -1 when that code is not traced."""
        code = frame.f_code
        with self.lock:
            fid = self.fids.get(code)
            if fid is not None:
                return fid
            module = frame.f_globals.get("__name__")
            if not isinstance(module, str):
                module = None
            if not self.filter.wanted(code.co_filename, module):
                self.fids[code] = -1
                return -1
            info = (code.co_qualname, module, code.co_filename, code.co_firstlineno)
            if self.writer is not None:  # its ids, as it also defines untraced frames'
                self._sync()
                fid = self.writer.function(*info, merge=False)
            else:  # error mode: a ring's writer defines self.functions first, in order
                fid = len(self.functions)
                self.functions.append(info)
            self.ops[code] = code.co_code
            self.fids[code] = fid
            return fid

    def _new_lane(self, name: str, kind: str, native_id: int | None, parent: int | None) -> Lane:
        lane = Lane(len(self.lanes), self)
        self.lanes.append((name, kind, native_id, parent))
        if self.writer is not None:
            self._sync()
            self.writer.lane(name, kind, native_id, parent)
        return lane

    def thread_lane(self) -> Lane:
        if self.sampled:
            return self._sample_lane(threading.get_ident())
        lane = getattr(self.thread_lanes, "lane", None)
        if lane is None:
            ident = threading.get_ident()
            with self.lock:
                thread = threading._active.get(ident)  # never create a dummy Thread
                name = thread.name if thread is not None else f"Thread-{ident}"
                if thread is threading.main_thread():
                    name = "MainThread"
                lane = self.thread_lanes.lane = self._new_lane(
                    name, "thread", threading.get_native_id(), self._spawner(thread))
        return lane

    def own_threads(self) -> tuple[int, ...]:
        """Idents of the agent's own threads (this session's flusher or sampler, a writer's
        compressor, those of earlier sessions still ending): the threads whose outermost
        frame runs Orionis code. The C hook leaves them alone; hooked, a compressor would
        wait in classify() for the lock that close() holds while it waits for them."""
        own = []
        for ident, frame in sys._current_frames().items():
            while frame.f_back is not None:
                frame = frame.f_back
            if self.filter.is_orion(frame.f_code.co_filename):
                own.append(ident)
        return tuple(own)

    def is_own_thread(self) -> bool:
        """For the sys.monitoring hook, at a thread's first event: whether it is one of the
        agent's own threads (see own_threads), whose events it then ignores."""
        frame = sys._getframe()
        while frame.f_back is not None:
            frame = frame.f_back
        return self.filter.is_orion(frame.f_code.co_filename)

    def thread_starting(self, thread: threading.Thread) -> None:
        """Thread.start() was called: the caller's lane becomes the new thread's parent, so
        that exports link the thread to the call that started it. Only a lane that exists
        (the caller ran traced code) is used: none is made for untraced starters."""
        task = _current_task()
        with self.lock:
            lane = self.task_lanes.get(task) if task is not None else None
            if lane is None and self.sampled:
                thread_now, lane = self.sample_lanes.get(threading.get_ident(), (None, None))
                if thread_now is not threading.current_thread():
                    lane = None  # an ended thread's, whose ident this one reuses
            elif lane is None:
                lane = getattr(self.thread_lanes, "lane", None)
            if lane is not None:
                self.spawners[thread] = lane.id

    def _spawner(self, thread: threading.Thread | None) -> int | None:
        return self.spawners.get(thread) if thread is not None else None

    def task_lane(self) -> Lane | None:
        task = _current_task()
        if task is None:
            return None
        lane = self.task_lanes.get(task)
        if lane is None:
            parent = self.thread_lane()
            with self.lock:
                try:
                    name = task.get_name()
                except Exception:
                    name = "Task"
                lane = self.task_lanes[task] = self._new_lane(name, "task", None, parent.id)
        return lane

    def thread_lane_id(self) -> int:
        """For the C hook: the current thread's lane."""
        return self.thread_lane().id

    def task_lane_id(self) -> int:
        """For the C hook: the running asyncio task's lane, or -1 outside a task."""
        lane = self.task_lane()
        return -1 if lane is None else lane.id

    def lane_for(self, frame, code) -> Lane:
        if code.co_flags & _CORO_FLAGS:
            lane = self.task_lane()
            if lane is not None:
                return lane
        back = frame.f_back
        depth = 0
        while back is not None and depth < 64:
            tracer = back.f_trace
            if tracer is not None:
                owner = getattr(tracer, "__self__", None)
                if type(owner) is Lane and owner.session is self:
                    return owner
            back = back.f_back
            depth += 1
        return self.thread_lane()

    # -- callbacks -------------------------------------------------------------------

    def trace(self, frame, event: str, arg: Any):
        """The global settrace function: a new frame (or a resumed generator) starts."""
        if event != "call":
            return None
        code = frame.f_code
        fid = self.fids.get(code)
        if fid is None:
            fid = self.classify(frame)
        if fid < 0 or self.closed:
            return None
        lane = self.lane_for(frame, code)
        return lane.tracers[self.on_call(lane.id, frame, fid)]

    def adapt(self, fid: int) -> int:
        """Adaptive capture (spec 7.1), as the C hook applies it: what to record of a call of
        `fid` (_RECORDED, _VALUES), counting it."""
        adaptive = self.config.adaptive
        if adaptive is None:
            return _FULL
        full, every, most = adaptive
        counts = self.capture_counts
        if most and counts["recorded"] >= most:
            counts["calls_dropped"] += 1
            return 0
        counts["recorded"] += 1
        if not self.values:
            return _RECORDED
        calls = self.function_calls[fid] = self.function_calls.get(fid, 0) + 1
        if calls <= full or (calls - full) % every == 0:
            return _FULL
        counts["calls_without_values"] += 1
        return _RECORDED

    def on_call(self, lane: int, frame, fid: int) -> int:
        """Record a call, with its site (spec 4.6: the caller's line, 0 when none, left out
        when the function's last call record had the same); return what adaptive capture
        keeps of it."""
        back = frame.f_back
        site = (back.f_lineno or 0) if back is not None else 0
        if self.ring is not None:
            self.ring.append((C.CALL, self.now(), lane, fid, site))
            return _FULL
        flags = self.adapt(fid)
        if not flags & _RECORDED:
            return flags
        args = None
        if flags & _VALUES:
            code = frame.f_code
            lasti = frame.f_lasti
            ops = self.ops[code]
            if lasti < 0 or (ops[lasti] == _RESUME and ops[lasti + 1] == 0):
                args = self._args(frame, code)
            else:
                args = []  # a resumed generator or coroutine: no new arguments
        with self.lock:
            if not self.closed:
                if self.sites.get(fid) == site:
                    site = None
                else:
                    self.sites[fid] = site
                self.writer.call(self.now(), lane, fid,
                                 None if args is None else self.capturer.pairs(args), site)
        return flags

    @staticmethod
    def _arg_names(code) -> tuple[str, ...]:
        count = code.co_argcount + code.co_kwonlyargcount
        flags = code.co_flags
        for flag, extra in _ARG_FLAGS:
            if flags & flag:
                count += extra
        return code.co_varnames[:count]

    @classmethod
    def _args(cls, frame, code) -> list[tuple[str, Any]]:
        f_locals = frame.f_locals
        return [(name, f_locals.get(name)) for name in cls._arg_names(code)]

    def arg_names(self, frame) -> tuple[tuple[str, bool], ...]:
        """For the C hook: a frame's argument names, each with whether it is secret."""
        return tuple((name, self.capturer.is_secret(name))
                     for name in self._arg_names(frame.f_code))

    def intern(self, text: str) -> int:
        """For the C hook: the string id of an argument name, defining it if new."""
        with self.lock:
            if self.closed:
                return 0
            self._sync()
            return self.writer.string(text)

    def pack_value(self, value: Any, secret: bool) -> bytes:
        """For the C hook: a value it does not pack itself, captured as Python would."""
        with self.lock:
            if self.closed:  # the hook drops the record
                return _pack(None)
            self._sync()
            capturer = self.capturer
            return _pack(capturer.redacted(value) if secret else capturer.value(value))

    def on_return(self, lane: int, value: Any, flags: int = _FULL) -> None:
        if self.ring is not None:
            self.ring.append((C.RETURN, self.now(), lane))
            return
        if not flags & _RECORDED:
            return
        with self.lock:
            if not self.closed:
                self.writer.ret(self.now(), lane, self.capturer.value(value)
                                if self.values and flags & _VALUES else NO_VALUE)

    def unwind_locals(self, frame) -> bytes:
        """For the C hook: the packed locals of a frame an exception unwinds (dev mode)."""
        with self.lock:
            if self.closed:
                return _pack(None)
            self._sync()
            return _pack(self.capturer.pairs(frame_locals(frame)))

    def on_unwind(self, lane: Lane, frame, exc: BaseException | None,
                  flags: int = _FULL) -> None:
        line = frame.f_lineno
        if self.ring is not None:
            if lane.raised(exc):
                self.on_exception(lane.id, line, exc)
            self.ring.append((C.UNWIND, self.now(), lane.id, line))
            return
        with self.lock:
            if self.closed:
                return
            self._sync()
            local = (self.capturer.pairs(frame_locals(frame))
                     if self.values and flags & _VALUES else None)
            if lane.raised(exc):
                self.on_exception(lane.id, line, exc)
            if flags & _RECORDED:
                self.writer.unwind(self.now(), lane.id, line, local)

    def on_exception(self, lane: int, line: int, exc: BaseException,
                     t: int | None = None) -> None:
        """An exception's first unwind on a lane (the hooks call this before the unwind;
        the C hook passes the unwind's time, as it may learn the exception later)."""
        if isinstance(exc, SystemExit):
            self.exit_code = _exit_status(exc.code)
        record = (C.EXCEPTION, self.now() if t is None else t, lane, _exc_type(exc),
                  self._message(exc), line)
        if self.ring is not None:
            self.ring.append(record)
            return
        with self.lock:
            if not self.closed:
                self._sync()
                self.writer.exception(record[1], lane, record[3], record[4], "raised", line)

    def _message(self, exc: BaseException) -> str:
        """`str(exc)`, bounded, with secret values scrubbed (it is written as plain text)."""
        try:
            text = str(exc)
        except Exception:
            text = f"<str() of {type(exc).__name__} raised>"
        return scrub(text, self.secret_values, self.secrets)[: MAX_TEXT * 5]

    # -- failures ----------------------------------------------------------------------

    def _stack(self, writer, capturer: Capturer | None, tb,
               own_ids: bool = True) -> tuple[list, str | None]:
        """Frames of a traceback, outermost first, with locals of the traced ones when
        there is a `capturer` (none in safe mode). `own_ids`: `writer` numbers functions as
        this session does (the process trace, a ring's); else each is defined in it."""
        frames, traced = [], []
        innermost = None
        while tb is not None:
            frame = tb.tb_frame
            fid = self._known(frame)
            if fid >= 0:
                innermost = frame.f_code.co_qualname
                traced.append((len(frames), frame))
            if fid < 0 or not own_ids:
                fid = self._function_id(writer, frame)
            frames.append([fid, tb.tb_lineno, None])
            tb = tb.tb_next
        _add_locals(frames, traced, capturer)
        return frames, innermost

    def _known(self, frame) -> int:
        """`frame`'s function id (-1: not traced), classifying its code on first sight."""
        fid = self.fids.get(frame.f_code)
        return self.classify(frame) if fid is None else fid

    def _function_id(self, writer, frame) -> int:
        """A function id for a frame outside the traced code (it appears only in stacks)."""
        code = frame.f_code
        module = frame.f_globals.get("__name__")
        return writer.function(code.co_qualname, module if isinstance(module, str) else None,
                               code.co_filename, code.co_firstlineno)

    def fail(self, exc: BaseException, *, kind: str = "uncaught", lane: Lane | None = None,
             name: str | None = None, test: dict | None = None,
             exit_code: int | None = None) -> str | None:
        """Record a failure. Error mode writes its trace (the ring, then the failing stack)
        and returns the path. Dev and safe record it in the process trace, and a failing
        `test` also gets a trace of its own (its path is returned), so that every mode
        gives one trace per failing test."""
        lane = lane or self.thread_lane()
        self._resolve(exc)
        t = self.now()
        self._learn_secret_locals(exc.__traceback__)
        info = {"type": _exc_type(exc), "message": self._message(exc)}
        with self.lock:
            if self.closed:
                return None
            if self.ring is None:
                self._sync()
                if test is not None:
                    self.writer.event(t, lane.id, "test", test)
                    return self._test_trace(exc, lane, kind, name, test, info)
                frames, function = self._stack(self.writer, self.capturer, exc.__traceback__)
                self.writer.stack(t, lane.id, kind, frames)
                self.writer.crash(t, lane.id, kind, info["type"], info["message"],
                                  {"thread": self.lanes[lane.id][0]})
                self.failure = dict(info, function=function)
                return None
            tb = exc.__traceback__
            while tb is not None:  # define them before the replay writes the functions
                self._known(tb.tb_frame)
                tb = tb.tb_next
            writer = self._open_ring_writer(name=name)
            capturer = self._capturer(writer)
            self._replay(writer)
            # Read after the replay: the sampler thread may have added a sample since `t`.
            t = self.now() - writer.origin
            frames, function = self._stack(writer, capturer, exc.__traceback__)
            extra = {"test": test} if test is not None else {}
            return self._close_failure(writer, t, lane, kind, frames, info, function,
                                       exit_code=exit_code, **extra)

    def _test_trace(self, exc: BaseException, lane: Lane, kind: str, name: str | None,
                    test: dict, info: dict) -> str:
        """Dev/safe: a failing test's own trace, holding its failing stack (with locals in
        dev) and exception; its calls stay in the process trace, which the summary names
        (`process_trace`). Lock held."""
        writer = self._open_writer(self.mode, None, self.start_ns + self.now(), name=name)
        for known in self.lanes:
            writer.lane(*known)
        capturer = self._capturer(writer) if self.values else None
        frames, function = self._stack(writer, capturer, exc.__traceback__, own_ids=False)
        return self._close_failure(writer, 0, lane, kind, frames, info, function, test=test,
                                   process_trace=self.trace_id)

    def _close_failure(self, writer, t: int, lane: Lane, kind: str, frames: list, info: dict,
                       function: str | None, **summary) -> str:
        """End a failure's own trace with its stack and crash records; return its path."""
        writer.stack(t, lane.id, kind, frames)
        writer.crash(t, lane.id, kind, info["type"], info["message"],
                     {"thread": self.lanes[lane.id][0]})
        writer.close(status="failed", exception=dict(info, function=function), **summary)
        writer.sink.close()
        path = str(writer.path)
        self._report(path, "failed")
        return path

    def _learn_secret_locals(self, tb) -> None:
        """The failing stack's secret-named locals join the values scrubbed from messages
        before any message of the failure is written: `login failed for hunter2` raised
        where `password = "hunter2"` must not repeat what the locals redact."""
        while tb is not None:
            if self._known(tb.tb_frame) >= 0:
                for name, value in frame_locals(tb.tb_frame):
                    if type(value) is str and self.secrets(name):
                        add_secret_value(self.secret_values, value)
            tb = tb.tb_next

    def _resolve(self, exc: BaseException | None) -> None:
        """The C hook may hold this thread's last unwind until it learns its exception."""
        packed = self.packed
        if packed is not None:
            packed.resolve(exc)

    def _replay(self, writer) -> None:
        """Definitions, then the ring's events, into a fresh error-mode writer."""
        for lane in self.lanes:
            writer.lane(*lane)
        for info in self.functions:
            writer.function(*info, merge=False)
        origin = writer.origin
        for event in list(self.ring):
            code, t = event[0], max(0, event[1] - origin)
            if code == _SAMPLE:
                writer.stack(t, event[2], "sample", [[fid, line, None] for fid, line in event[3]])
            elif code == C.CALL:
                writer.call(t, event[2], event[3], None, event[4])
            elif code == C.RETURN:
                writer.ret(t, event[2])
            elif code == C.UNWIND:
                writer.unwind(t, event[2], event[3])
            else:
                message = scrub(event[4], self.secret_values, self.secrets)
                writer.exception(t, event[2], event[3], message, "raised", event[5])

    def signal_crash(self, signum: int) -> str | None:
        """A fatal signal arrived: close the trace as crashed (error mode: write the ring)."""
        import signal

        name = signal.Signals(signum).name
        lane = self.thread_lane()
        self._resolve(None)
        with self.lock:
            if self.closed:
                return None
            if self.ring is not None:
                frame = sys._getframe(1)
                while frame is not None:
                    self._known(frame)
                    frame = frame.f_back
                writer = self._open_ring_writer()
                self._replay(writer)
                frames = self._live_stack(writer, self._capturer(writer))
                t = self.now() - writer.origin
            else:
                self._sync()
                writer = self.writer
                frames = self._live_stack(writer, self.capturer)
                t = self.now()
            writer.stack(t, lane.id, "signal", frames)
            writer.crash(t, lane.id, "signal", name, f"killed by {name}", {"signal": signum})
            extra = {} if self.ring is not None else {"distributions": imported_distributions()}
            writer.close(status="crashed", exit_code=128 + signum, **extra)
            writer.sink.close()
            self.closed = True
            self._report(str(writer.path), "crashed")
            return str(writer.path)

    def _live_stack(self, writer, capturer: Capturer | None) -> list:
        """This thread's frames, outermost first, as `_stack` writes a traceback's."""
        frames, traced = [], []
        frame = sys._getframe(2)
        while frame is not None:  # innermost first, reversed below
            fid = self._known(frame)
            if fid < 0:
                fid = self._function_id(writer, frame)
            else:
                traced.append((len(frames), frame))
            frames.append([fid, frame.f_lineno, None])
            frame = frame.f_back
        last = len(frames) - 1
        frames.reverse()
        _add_locals(frames, [(last - k, f) for k, f in reversed(traced)], capturer)
        return frames

    def event(self, kind: str, attrs: dict) -> None:
        """A free-form event (e.g. a test outcome) on the current thread's lane."""
        with self.lock:
            if self.writer is not None and not self.closed:
                self._sync()
                self.writer.event(self.now(), self.thread_lane().id, kind, attrs)

    def close(self, exit_code: int | None = None) -> str | None:
        """Finish the trace (dev/safe) or drop the ring (error); return the path written."""
        if not self.closed:
            self._resolve(None)
        with self.lock:
            if self.closed:
                return None
            self._sync()
            self.closed = True
            capture = self.capture_summary()
            if self.packed is not None:
                self.packed.close()
                self.packed = None  # the tracer refers to us: no cycle left behind
            from .crashes import discard_sidecar

            discard_sidecar(self)
            if self.writer is None:
                self.ring.clear()
                return None
            if exit_code is None:
                exit_code = self.exit_code if self.exit_code is not None else (
                    1 if self.failure else 0)
            failed = bool(self.failure) or exit_code != 0
            exception = self.failure
            if exception is None and exit_code:
                exception = {"type": "SystemExit", "message": str(exit_code), "function": None}
            extra = {"capture": capture} if capture is not None else {}
            self.writer.close(status="failed" if failed else "ok", exit_code=exit_code,
                              exception=exception, distributions=imported_distributions(),
                              **extra)
            self.writer.sink.close()
            path = str(self.writer.path)
            self._report(path, "failed" if failed else "ok")
            return path

    def capture_summary(self) -> dict | None:
        """The summary's `capture`: the adaptive policy of a dev/safe trace and what it left
        out (spec 7.1), so that a reader knows why a call has no values."""
        adaptive = self.config.adaptive
        if adaptive is None or self.ring is not None:
            return None
        full, every, most = adaptive
        if self.packed is not None:
            left_out = self.packed.capture()
        else:
            left_out = {key: self.capture_counts[key]
                        for key in ("calls_without_values", "calls_dropped")}
        return {"full_calls": full, "value_every": every, "max_calls": most, **left_out}

    def abandon(self) -> None:
        """Forget this session without writing (a fork child starts its own).

        The lock may have been held by another thread at fork time: replace it.
        """
        self.lock = threading.RLock()
        self.closed = True


def _current_task():
    """The running asyncio task of this thread, or None (without importing asyncio)."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return None
    loop = asyncio.events._get_running_loop()
    return None if loop is None else asyncio.tasks._current_tasks.get(loop)


def _add_locals(frames: list[list], traced: list[tuple[int, Any]],
                capturer: Capturer | None) -> None:
    """Fill in the locals of the traced frames ((index in `frames`, frame), outermost
    first), innermost first, while their packed size stays within STACK_LOCALS_BYTES."""
    if capturer is None:
        return
    budget = STACK_LOCALS_BYTES
    for index, frame in reversed(traced):
        local = capturer.pairs(frame_locals(frame))
        budget -= len(_pack(local))
        if budget < 0:
            return
        frames[index][2] = local


def frame_locals(frame) -> list[tuple[str, Any]]:
    """A frame's locals; at module level, the program's own globals only."""
    items = list(frame.f_locals.items())
    if frame.f_locals is not frame.f_globals:
        return items
    return [(k, v) for k, v in items
            if not k.startswith("__") and not isinstance(v, (type, _ModuleType, _FunctionType))]


_pack = record_packer()  # as TraceWriter's
_ModuleType = type(sys)
_FunctionType = type(frame_locals)


def _exit_status(code: Any) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    return 1
