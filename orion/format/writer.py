"""Streaming .otrace writer: records are packed into a batch, each batch becomes one zstd frame.

Memory stays bounded by the batch size plus the intern tables. Timestamps passed in are
nanoseconds since the trace started; the writer stores them as deltas that restart at
zero in every frame, so each frame's clock reads without the frames before it.
"""

from __future__ import annotations

import _thread
import os
import struct
import sys
import time
import zlib
from collections import deque

from . import constants as C

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing would cost every traced process
    from typing import Any, BinaryIO, Callable, Iterable, Mapping

NO_VALUE = object()  # a return whose value was not captured (distinct from None)

DEFAULT_BATCH_BYTES = 256 * 1024
DEFAULT_LEVEL = 3


def _hostname() -> str:
    """socket.gethostname() without importing socket (and selectors) into every traced
    process: on POSIX both are uname's node name."""
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket

    return socket.gethostname()


def record_packer() -> Callable[[Any], bytes]:
    """obj -> its msgpack bytes, as msgpack.Packer(use_bin_type=True, unicode_errors=
    "replace") packs it: through orion.format._pack when it was built, else msgpack's,
    whose import (with datetime's) would cost every traced process ~5 ms at start."""
    try:
        from ._pack import pack

        return pack
    except ImportError:
        import msgpack

        return msgpack.Packer(use_bin_type=True, unicode_errors="replace").pack


def _rebased_first(data: bytes, shift: int) -> bytes:
    """Packed records, each [type, time delta, ...], with the first one's delta moved by
    `shift`: in C when orion.format._pack was built (no msgpack import in the middle of a
    traced program, which its tracemalloc snapshots would see), else through msgpack."""
    try:
        from ._pack import rebase_first
    except ImportError:
        import msgpack

        unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
        unpacker.feed(data)
        first = unpacker.unpack()
        first[1] += shift
        return record_packer()(first) + data[unpacker.tell():]
    return rebase_first(data, shift)


def frame_compressor(level: int = DEFAULT_LEVEL) -> Callable[[bytes], bytes]:
    """bytes -> one zstd frame (content size and checksum in it). Through the system's
    libzstd when orion.format._zstd was built and loads it; else the zstandard package,
    whose import (platform, typing) would cost every traced process ~15 ms at start."""
    try:
        from ._zstd import Compressor

        return Compressor(level).compress
    except (ImportError, OSError):
        import zstandard

        return zstandard.ZstdCompressor(level=level, write_checksum=True,
                                        write_content_size=True).compress


def new_trace_id() -> str:
    return os.urandom(16).hex()


def prelude_bytes() -> bytes:
    payload = C.PRELUDE_MAGIC + struct.pack("<HHI", C.VERSION_MAJOR, C.VERSION_MINOR, 0)
    return C.SKIPPABLE_MAGIC_BYTES + struct.pack("<I", len(payload)) + payload


def trailer_bytes(summary_packed: bytes) -> bytes:
    payload = summary_packed + struct.pack("<I", len(summary_packed)) + C.TRAILER_MAGIC
    return C.SKIPPABLE_MAGIC_BYTES + struct.pack("<I", len(payload)) + payload


def default_process() -> dict:
    return {
        "pid": os.getpid(),
        "argv": list(sys.argv),
        "cwd": os.getcwd(),
        "executable": sys.executable,
        "host": _hostname(),
    }


class TraceWriter:
    """Write one trace to a binary sink. Not thread-safe: agents serialise access."""

    def __init__(
        self,
        sink: BinaryIO,
        *,
        language: str,
        agent: str = "orion",
        agent_version: str = "0",
        mode: str = "dev",
        trace_id: str | None = None,
        start_ns: int | None = None,
        process: Mapping[str, Any] | None = None,
        env: Mapping[str, Any] | None = None,
        service: str | None = None,
        name: str | None = None,
        parent: Mapping[str, str] | None = None,
        window: str | None = None,
        batch_bytes: int = DEFAULT_BATCH_BYTES,
        level: int = DEFAULT_LEVEL,
        background: int = 0,
        header: Mapping[str, Any] | None = None,
    ) -> None:
        """`background` > 0 compresses and writes frames on a thread of the writer's own,
        so that a traced thread only packs records; at most that many batches wait (then
        `flush` waits for room), and `close` writes every one before the trailer.
        `header`: the header of a trace being rewritten, written as it is (the trace keeps
        its identity) instead of one made from the other arguments."""
        self.sink = sink
        self.trace_id = trace_id or new_trace_id()
        self.batch_bytes = batch_bytes
        self._compress = frame_compressor(level)
        self._pack = record_packer()
        self._buf = bytearray()
        self._crc = 0
        self._last_t = 0
        self._max_t = 0
        self._strings: dict[str, int] = {}
        self._functions: dict[tuple, int] = {}
        self._function_names: list[str] = []
        self._lanes = 0
        self._modules = 0
        self._counts = {name: 0 for name in ("records", "calls", "returns", "unwinds",
                                               "exceptions", "crashes", "stacks", "events")}
        self._root: str | None = None
        self._last_exception: dict | None = None
        self._crash: dict | None = None
        self.closed = False
        self._background = None
        process = dict(process) if process is not None else default_process()
        self.header = {
            "format": C.FORMAT_NAME,
            "version": [C.VERSION_MAJOR, C.VERSION_MINOR],
            "trace_id": self.trace_id,
            "agent": {"language": language, "name": agent, "version": agent_version},
            "mode": mode,
            "start_ns": start_ns if start_ns is not None else time.time_ns(),
            "process": process,
            "env": dict(env or {}),
            "records": C.describe_records(),
        }
        for key, value in (("service", service), ("name", name), ("parent", parent),
                           ("window", window)):
            if value is not None:
                self.header[key] = value
        if header is not None:
            self.header = dict(header)
            self.trace_id = str(header.get("trace_id") or self.trace_id)
        sink.write(prelude_bytes())
        self._emit([C.HEADER, self.header])
        self.flush()  # a crash right after start still leaves a readable header
        if background > 0:
            self._background = _Compressor(self, background)

    # -- definitions ---------------------------------------------------------------

    def string(self, text: str) -> int:
        """Intern `text`, defining it on first use."""
        sid = self._strings.get(text)
        if sid is None:
            sid = self._strings[text] = len(self._strings)
            self._emit([C.STRING, sid, text])
        return sid

    def _optional_string(self, text: str | None) -> int | None:
        return None if text is None else self.string(text)

    def function(self, name: str | None, module: str | None = None, file: str | None = None,
                 line: int | None = None, addr: int | None = None, *,
                 merge: bool = True) -> int:
        """Define a function, or return the id of an equal one defined before.

        `merge=False` always defines a new id: an agent that tells apart functions that
        look the same (two lambdas on one line) keeps them apart, and can number them
        itself, as ids follow definition order.
        """
        key = (name, module, file, line, addr)
        fid = self._functions.get(key) if merge else None
        if fid is None:
            fid = len(self._function_names)
            self._functions.setdefault(key, fid)
            self._function_names.append(name if name is not None else f"0x{addr or 0:x}")
            record = [C.FUNCTION, fid, self._optional_string(name),
                      self._optional_string(module), self._optional_string(file), line]
            if addr is not None:
                record.append(addr)
            self._emit(record)
        return fid

    def lane(self, name: str | None, kind: str | None = "thread", native_id: int | None = None,
             parent: int | None = None) -> int:
        lid = self._lanes
        self._lanes += 1
        self._emit([C.LANE, lid, self._optional_string(name), self._optional_string(kind),
                    native_id, parent])
        return lid

    def module(self, path: str | None, base: int, build_id: bytes | None = None,
               size: int | None = None, mtime: int | None = None) -> int:
        """A loaded binary; `size` and `mtime` (ns) of its file, given together, let readers
        tell a rebuild that has no build id."""
        mid = self._modules
        self._modules += 1
        rec = [C.MODULE, mid, self._optional_string(path), base, build_id]
        if size is not None and mtime is not None:
            rec += [size, mtime]
        self._emit(rec)
        return mid

    # -- events --------------------------------------------------------------------

    def call(self, t: int, lane: int, fn: int, args: list | None = None,
             site: int | None = None) -> None:
        """`args` is flat wire form: [name sid, value, name sid, value, ...]; `site` (native)
        the call's return address minus the function's address, which a call from the same
        site as the function's previous one leaves out (spec 4.6)."""
        if self._root is None:
            self._root = self._function_names[fn]
        self._counts["calls"] += 1
        columns = [lane, fn] if args is None and site is None else [lane, fn, args]
        self._emit_timed(C.CALL, t, columns if site is None else columns + [site])

    def ret(self, t: int, lane: int, value: Any = NO_VALUE) -> None:
        self._counts["returns"] += 1
        self._emit_timed(C.RETURN, t, [lane] if value is NO_VALUE else [lane, value])

    def unwind(self, t: int, lane: int, line: int | None = None,
               locals_: list | None = None) -> None:
        self._counts["unwinds"] += 1
        self._emit_timed(C.UNWIND, t, [lane, line] if locals_ is None else [lane, line, locals_])

    def exception(self, t: int, lane: int, exc_type: str, message: str,
                  kind: str = "raised", line: int | None = None) -> None:
        self._counts["exceptions"] += 1
        if kind == "raised":
            self._last_exception = {"type": exc_type, "message": message}
        self._emit_timed(C.EXCEPTION, t, [lane, C.EXCEPTION_KINDS.index(kind),
                                          self._optional_string(exc_type), message, line])

    def crash(self, t: int, lane: int, kind: str, reason: str, message: str = "",
              detail: Mapping[str, Any] | None = None) -> None:
        self._counts["crashes"] += 1
        self._crash = {"type": reason, "message": message, "kind": kind}
        self._emit_timed(C.CRASH, t, [lane, kind, reason, message, dict(detail or {})])

    def stack(self, t: int, lane: int, reason: str, frames: Iterable[list]) -> None:
        """`frames`, outermost first: [fn, line, locals flat wire form or None]."""
        self._counts["stacks"] += 1
        self._emit_timed(C.STACK, t, [lane, reason, list(frames)])

    def event(self, t: int, lane: int, kind: str, attrs: Mapping[str, Any]) -> None:
        self._counts["events"] += 1
        self._emit_timed(C.EVENT, t, [lane, self._optional_string(kind), dict(attrs)])

    def append_packed(self, data: bytes, records: int, base_t: int, last_t: int, max_t: int,
                      counts: Mapping[str, int], root: int | None = None) -> None:
        """Append timed records that an agent packed itself (e.g. in C, off the Python path).

        `data` holds `records` whole msgpack records, each with its time delta taken from
        the record before; the first one's delta is taken from `base_t`, which the packer
        cannot know equals this writer's clock (a frame flush restarts it at 0, and records
        written in between move it), so it is re-based here. `last_t` and `max_t` are the
        last and the largest absolute times in `data`; `counts` adds to the summary counts
        ("calls", "returns", ...); `root` is the function of the first call in `data`.
        The caller keeps the order: anything written through the other methods after the
        packed records were taken must come after this call.
        """
        if not records:
            return
        if base_t != self._last_t:
            data = _rebased_first(data, base_t - self._last_t)
        if self._root is None and root is not None:
            self._root = self._function_names[root]
        for name, count in counts.items():
            self._counts[name] += count
        self._counts["records"] += records
        self._last_t = last_t
        if max_t > self._max_t:
            self._max_t = max_t
        self._buf += data
        if len(self._buf) >= self.batch_bytes:
            self.flush()

    # -- values --------------------------------------------------------------------

    def encode_value(self, value: Any) -> Any:
        """Decoded (JSON) form of a captured value -> wire form, interning type names."""
        if not isinstance(value, dict):
            return value
        type_sid = self._optional_string(value.get("t"))
        cut = value.get("cut")
        tail = [] if cut is None else [cut]
        if "text" in value:
            return [C.V_TEXT, type_sid, value["text"], *tail]
        if "items" in value:
            return [C.V_SEQ, type_sid, [self.encode_value(v) for v in value["items"]], *tail]
        if "entries" in value:
            flat = []
            for key, item in value["entries"]:
                flat += [self.encode_value(key), self.encode_value(item)]
            return [C.V_MAP, type_sid, flat, *tail]
        if "fields" in value:
            return [C.V_OBJECT, type_sid, self.encode_pairs(value["fields"]), *tail]
        if value.get("redacted"):
            return [C.V_REDACTED, type_sid]
        if value.get("elided"):
            length = value.get("len")
            return [C.V_ELIDED, type_sid] + ([] if length is None else [length])
        if "error" in value:
            return [C.V_ERROR, type_sid, value["error"]]
        raise ValueError(f"not a captured value: {value!r}")

    def encode_pairs(self, mapping: Mapping[str, Any]) -> list:
        """{name: decoded value} -> flat wire form [name sid, value, ...]."""
        flat: list = []
        for key, item in mapping.items():
            flat += [self.string(key), self.encode_value(item)]
        return flat

    # -- framing -------------------------------------------------------------------

    def _emit_timed(self, code: int, t: int, columns: list) -> None:
        """Emit a timed record; its delta is taken only now, after any definitions it
        needed were emitted (a definition can flush a frame and restart the clock)."""
        dt = t - self._last_t
        self._last_t = t
        if t > self._max_t:
            self._max_t = t
        self._emit([code, dt, *columns])

    def _emit(self, record: list) -> None:
        self._counts["records"] += 1
        self._buf += self._pack(record)
        if len(self._buf) >= self.batch_bytes:
            self.flush()

    def flush(self) -> None:
        """Write pending records as one zstd frame (and push it to the OS)."""
        if not self._buf:
            return
        data = bytes(self._buf)
        self._buf.clear()
        self._crc = zlib.crc32(data, self._crc)
        self._last_t = 0
        if self._background is not None:
            self._background.put(data)
        else:
            self._write_frame(data)

    def _write_frame(self, data: bytes) -> None:
        self.sink.write(self._compress(data))
        self.sink.flush()

    def close(self, status: str | None = None, exit_code: int | None = None,
              exception: Mapping[str, str] | None = None, **extra: Any) -> dict:
        """Finish the trace with its end record and trailer; return the summary."""
        if self.closed:
            raise ValueError("trace already closed")
        self.closed = True
        if status is None:
            status = "crashed" if self._crash else "ok"
        if exception is None and status != "ok":
            exception = self._crash or self._last_exception
        summary = self._summary(status, exit_code, exception, extra)
        summary_for_end = dict(summary, checksum=zlib.crc32(bytes(self._buf), self._crc))
        self._buf += self._pack([C.END, summary_for_end])
        self.flush()
        if self._background is not None:
            self._background.finish()
        self.sink.write(trailer_bytes(self._pack(summary_for_end)))
        self.sink.flush()
        return summary_for_end

    def _summary(self, status: str, exit_code: int | None, exception: Mapping | None,
                 extra: Mapping[str, Any]) -> dict:
        header = self.header
        summary = {
            "trace_id": self.trace_id,
            "status": status,
            "language": header["agent"]["language"],
            "mode": header["mode"],
            "start_ns": header["start_ns"],
            "duration_ns": self._max_t,
            "command": header["process"].get("argv"),
            "host": header["process"].get("host"),
            "pid": header["process"].get("pid"),
            "root": self._root,
            "exception": dict(exception) if exception else None,
            "exit_code": exit_code,
            "counts": dict(self._counts, functions=len(self._function_names), lanes=self._lanes),
        }
        for key in ("service", "name", "parent"):
            if key in header:
                summary[key] = header[key]
        summary.update(extra)
        return summary


class _Compressor:
    """The background frame writer of a TraceWriter: batches in order, at most `limit`
    waiting. Built on a deque, a raw lock and counters rather than queue.Queue, so that a
    signal handler that closes the trace while its thread was flushing cannot deadlock."""

    def __init__(self, writer: TraceWriter, limit: int) -> None:
        self.writer = writer
        self.limit = limit
        self.batches: deque[bytes] = deque()
        self.queued = 0  # changed by the writing thread only
        self.written = 0  # changed by the compressing thread only
        self.error: BaseException | None = None
        self.stopping = False
        self.wake = _thread.allocate_lock()
        self.wake.acquire()
        _thread.start_new_thread(self._run, ())  # a raw thread: invisible to threading

    def put(self, data: bytes) -> None:
        self._check()
        while self.queued - self.written >= self.limit:
            time.sleep(0.0005)
            self._check()
        self.batches.append(data)
        self.queued += 1
        self._notify()

    def finish(self) -> None:
        """Wait until every batch is written, then stop the thread."""
        while self.written < self.queued and self.error is None:
            time.sleep(0.0005)
        self.stopping = True
        self._notify()
        self._check()

    def _check(self) -> None:
        if self.error is not None:  # sticky: no frame is written after a failed one
            raise self.error

    def _notify(self) -> None:
        try:
            self.wake.release()
        except RuntimeError:  # already awake
            pass

    def _run(self) -> None:
        while True:
            while self.batches:
                data = self.batches.popleft()
                try:
                    if self.error is None:
                        self.writer._write_frame(data)
                except BaseException as exc:  # raised on the writing thread
                    self.error = exc
                self.written += 1
            if self.stopping:
                return
            self.wake.acquire(timeout=0.1)
