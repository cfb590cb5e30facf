"""Streaming .otrace reader.

Reading is frame by frame through a window of the file (`FileBytes`), so memory stays
bounded by the largest frame (itself capped), whatever the file's size: a memory map of
the whole file would count against an address-space limit as much as the file is big. A file that ends inside a frame is not an error: every complete frame is
read and the trace is reported incomplete — a crashed program's trace is often the one
that matters. Everything else that is wrong with a file raises a TraceError whose message
names the problem in one line.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
import zlib
from pathlib import Path

import msgpack

from . import constants as C
from .columns import HOT, column_problem, header_problem, hot_record_ok, summary_problem
from .errors import CorruptTrace, NotATrace, OutOfMemory, TraceError, UnsupportedVersion
from .frames import FrameDecompressor, iter_frames

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing would cost every `orion run`
    from typing import Any, Callable, Iterator

_TIMED = C.TIMED_TYPES
# A file cut before its first frame was whole (the prelude alone, or half a frame): every
# reader refuses it, since nothing says whose trace it is.
NO_HEADER = "has no complete header frame (its writer died at once)"


# Near an address-space limit (`ulimit -v`, RLIMIT_AS) every allocation that no longer fits
# costs failing mmap and brk calls while the allocator scrapes freed memory together, so
# reading crawled on for minutes before the MemoryError came. Readers stop at a frame
# boundary instead, while at least this much (or a sixteenth of the limit) is left.
HEADROOM = 32 * 1024 * 1024


def address_space_limit() -> int | None:
    """The process's address-space limit in bytes, None when there is none."""
    try:
        import resource
    except ImportError:  # not on this platform
        return None
    soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    return None if soft == resource.RLIM_INFINITY else soft


def check_headroom(limit: int | None) -> None:
    """Raise OutOfMemory (naming no file) when the address space in use is within
    HEADROOM of `limit` (from `address_space_limit`; None: never)."""
    if limit is None:
        return
    try:
        with open("/proc/self/statm", "rb") as statm:
            used = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return  # no /proc: the MemoryError, when it comes, still says the same
    if limit - used < max(HEADROOM, limit // 16):
        raise OutOfMemory()


class TooManyContainers(ValueError):
    """A frame whose arrays and maps, nested, would take too much memory once decoded."""


def _counter(limit: int):
    """A list/map hook that counts what it is given and stops the decoding past `limit`."""
    count = 0

    def hook(container):
        nonlocal count
        count += 1
        if count > limit:
            raise TooManyContainers(f"more than {limit:,} arrays and maps in one frame")
        return container

    return hook


def _unpacker(size: int) -> msgpack.Unpacker:
    """An unpacker for one frame of `size` bytes that refuses over-long containers, and in
    a frame bigger than any agent writes, too many of them."""
    hooks = {}
    if size > C.COUNTED_FRAME:  # the per-container hook costs time: only where it can matter
        hooks["list_hook"] = hooks["object_hook"] = _counter(C.MAX_FRAME_CONTAINERS)
    return msgpack.Unpacker(raw=False, strict_map_key=False, max_buffer_size=max(size, 1024),
                            max_array_len=C.MAX_CONTAINER_LEN, max_map_len=C.MAX_CONTAINER_LEN,
                            unicode_errors="strict", **hooks)


def _end_offset(data: bytes) -> int:
    """Where the end record starts in its frame: the checksum covers every byte before it."""
    unpacker = _unpacker(len(data))
    unpacker.feed(data)
    start = 0
    for record in unpacker:
        if record[0] == C.END:
            break
        start = unpacker.tell()
    return start


def _corrupt_record(offset: int, exc: Exception) -> CorruptTrace:
    """The one-line error for a frame whose bytes do not unpack as msgpack."""
    if isinstance(exc, ValueError) and "exceeds max_" in str(exc):  # msgpack's length limits
        return CorruptTrace(f"corrupt record in frame at byte {offset} (a container of more "
                            f"than {C.MAX_CONTAINER_LEN:,} items)")
    if isinstance(exc, TooManyContainers):
        return CorruptTrace(f"corrupt record in frame at byte {offset} ({exc})")
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return CorruptTrace(f"corrupt record in frame at byte {offset} ({detail})")


def _bad_record(offset: int, record: Any, exc: Exception) -> CorruptTrace:
    """The one-line error for a record that unpacked but that the reader could not walk.

    Worked out only once the walk failed, so the loop over records checks nothing extra;
    the tests mirror, in order, what that loop does with a record.
    """
    if not isinstance(record, list):
        problem = f"record is not an array ({type(record).__name__})"
    elif not record:
        problem = "empty record"
    elif not isinstance(record[0], int):
        problem = f"record type is not an integer ({type(record[0]).__name__})"
    else:
        name = C.TYPE_NAMES.get(record[0], f"type {record[0]}")
        if len(record) < 2:
            problem = f"{name} record with no fields"
        elif record[0] in _TIMED and not isinstance(record[1], (int, float)):
            problem = f"{name} record with a bad time delta {record[1]!r:.40}"
        else:
            problem = f"{name} record: {type(exc).__name__}: {exc}"
    return CorruptTrace(f"corrupt record in frame at byte {offset} ({problem})")


_T_MIN, _T_MAX = -(2**63), 2**63 - 1  # times every tool can store (int64 nanoseconds)


def _time(t: int | float, index: int, offset: int) -> int:
    """A time the deltas added up to, as int64 nanoseconds (a float delta is rounded down)."""
    if t != t or not _T_MIN <= t <= _T_MAX:  # NaN compares false with everything
        raise _bad_columns(index, offset, f"its time delta takes the clock out of range "
                                          f"({t!r:.30})")
    return int(t)


def _bad_columns(index: int, offset: int, problem: str) -> CorruptTrace:
    """The one-line error for a record whose columns have the wrong types."""
    return CorruptTrace(f"corrupt record {index} in frame at byte {offset} ({problem})")


def _ends_on_a_record(unpacker: msgpack.Unpacker, size: int) -> bool:
    """Whether iterating `unpacker` used all `size` bytes fed to it.

    tell() alone cannot say: it counts the head of a half-read array as used. A nil fed
    after the frame comes back on its own only when nothing was left half read.
    """
    if unpacker.tell() != size:
        return False
    try:
        unpacker.feed(b"\xc0")
        return next(unpacker, False) is None
    except (ValueError, TypeError, msgpack.UnpackException):
        return False


def check_prelude(buf, size: int) -> tuple[int, int]:
    """Return (major, minor) from the prelude or raise NotATrace/UnsupportedVersion."""
    if size == 0:
        raise NotATrace("empty file, not a trace")
    head = bytes(buf[: C.PRELUDE_SIZE])
    expected = C.SKIPPABLE_MAGIC_BYTES + struct.pack("<I", C.PRELUDE_PAYLOAD_SIZE) + C.PRELUDE_MAGIC
    if not expected.startswith(head[: len(expected)]):
        raise NotATrace("not an .otrace file (wrong magic)")
    if size < C.PRELUDE_SIZE:
        raise NotATrace("truncated inside its 24-byte prelude")
    major, minor, _flags = struct.unpack_from("<HHI", head, 16)
    if major > C.VERSION_MAJOR:
        raise UnsupportedVersion(
            f"written in format {major}.{minor}; this orion reads {C.VERSION_MAJOR}.x — "
            f"upgrade orion to read it"
        )
    if major < 1:
        raise UnsupportedVersion(f"format version {major}.{minor} is not a released version")
    return major, minor


def open_regular(path: str | os.PathLike):
    """`path` opened for reading in binary, or OSError when it is no regular file.

    Opened without blocking, then checked: opening a FIFO for reading the usual way waits
    for a writer forever, and a device or socket is no trace either.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory, not a trace")
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, "not a regular file (a FIFO, socket or device)")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


WINDOW = 1 << 20  # bytes read at a time: most frames are a few hundred KiB at most


class FileBytes:
    """The first `size` bytes of an open file as a read-only byte sequence (`len`,
    indexing, slices), read with pread through a window of WINDOW bytes: frames are read
    in order, each a slice within the window. The size is fixed when made, as a map's
    would be; a file cut shorter since reads back short, never faults. With `owned`, the
    descriptor is closed with the object (an index reads its trace again when asked)."""

    def __init__(self, fd: int, size: int, owned: bool = False) -> None:
        self._fd = fd
        self._size = size
        self._owned = owned
        self._start = 0
        self._window = b""

    def __del__(self) -> None:
        if getattr(self, "_owned", False):
            os.close(self._fd)

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, key: int | slice) -> Any:
        if isinstance(key, slice):
            start, stop, step = key.indices(self._size)
            if step != 1:
                raise ValueError("FileBytes slices are contiguous")
            return self._read(start, max(stop - start, 0))
        if key < 0:
            key += self._size
        if not 0 <= key < self._size:
            raise IndexError("FileBytes index out of range")
        return self._read(key, 1)[0]

    def _read(self, start: int, length: int) -> bytes:
        offset = start - self._start
        if 0 <= offset and offset + length <= len(self._window):
            return self._window[offset:offset + length]
        if length > WINDOW // 2:  # a big frame: read it alone
            return os.pread(self._fd, length, start)
        self._start = start
        self._window = os.pread(self._fd, min(WINDOW, self._size - start), start)
        return self._window[:length]


class TraceReader:
    """An open trace file. Use as a context manager; iterate `records()` once per pass."""

    def __init__(self, path: str | os.PathLike, frame_limit: int = C.MAX_FRAME_CONTENT,
                 check_columns: bool = True) -> None:
        self.path = Path(path)
        self._frame_limit = frame_limit
        # Records whose columns have the wrong types raise CorruptTrace (orion/format/
        # columns.py); the validator turns this off to report each such record itself.
        self._check_columns = check_columns
        self.complete = False  # an end record was read
        self.truncated = False  # the file ends inside a frame
        self.end_summary: dict | None = None
        self.checksum: int | None = None  # crc32 of the record bytes before the end record
        try:
            self._file = open_regular(self.path)
        except FileNotFoundError:
            raise TraceError("no such file", str(path)) from None
        except IsADirectoryError:
            raise TraceError("is a directory, not a trace", str(path)) from None
        except OSError as exc:
            raise TraceError(exc.strerror or str(exc), str(path)) from None
        try:
            self.size = os.fstat(self._file.fileno()).st_size
            self._buf = FileBytes(self._file.fileno(), self.size)
            self.version = check_prelude(self._buf, self.size)
        except TraceError as exc:
            self.close()
            exc.path = str(path)
            raise
        self._header: dict | None = None
        self.frame_offset = 0
        # Set before records() starts: (a frame's decompressed bytes, its offset) -> the
        # msgpack records to read from it instead (orion.analysis.trace_index hands on only
        # those its model needs); the checksum is still of the frame's own bytes.
        self.frame_filter: Callable[[bytes, int], bytes] | None = None

    def __enter__(self) -> "TraceReader":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    @property
    def header(self) -> dict:
        """The header record's map (reads only the first frame)."""
        if self._header is None:
            for record in self.records(stop_after_header=True):
                break
            if self._header is None:
                raise CorruptTrace(NO_HEADER, str(self.path))
        return self._header

    def records(self, stop_after_header: bool = False) -> Iterator[list]:
        """Yield every record as its msgpack array; timed records carry absolute `t`.

        Slot 1 of a timed record (its delta on disk) is replaced by nanoseconds since the
        trace started, so consumers never see deltas.
        """
        try:
            yield from self._records(stop_after_header)
        except TraceError as exc:
            exc.path = str(self.path)
            raise
        except MemoryError:
            # Container lengths are capped, but nesting can still multiply them, and the
            # caller may hold much of the memory: either way, not a corrupt file.
            raise OutOfMemory(str(self.path)) from None

    def _records(self, stop_after_header: bool) -> Iterator[list]:
        buf = self._buf
        inflate = FrameDecompressor(self._frame_limit)
        end = C.PRELUDE_SIZE
        first = True
        crc = 0
        index = -1  # of the record in the file, the header being 0 (as `orion cat` counts)
        check = self._check_columns
        limit = address_space_limit()
        self.complete = False
        for frame in iter_frames(buf, C.PRELUDE_SIZE):
            end = frame.offset + frame.size
            if frame.skippable:
                continue  # the trailer, or a frame some other tool added
            check_headroom(limit)
            if self.complete:
                raise CorruptTrace(f"frame at byte {frame.offset} follows the end record")
            data = inflate.decompress(buf, frame)
            self.frame_offset = frame.offset  # of the records being yielded
            read = data if self.frame_filter is None else self.frame_filter(data, frame.offset)
            unpacker = _unpacker(len(read))
            unpacker.feed(read)
            t = 0
            try:
                for record in unpacker:
                    index += 1
                    try:
                        code = record[0]
                        if first:
                            if code != C.HEADER or not isinstance(record[1], dict):
                                raise CorruptTrace("first record is not a header")
                            problem = check and header_problem(record[1])
                            if problem:
                                raise _bad_columns(index, frame.offset, problem)
                            self._header = record[1]
                            first = False
                            if stop_after_header:
                                return
                        elif code in _TIMED:
                            t += record[1]
                            if type(t) is not int or not _T_MIN <= t <= _T_MAX:
                                t = _time(t, index, frame.offset)
                            record[1] = t
                            if check and not (hot_record_ok(record) if code in HOT
                                              else column_problem(record) is None):
                                raise _bad_columns(index, frame.offset, column_problem(record))
                        elif check and (problem := column_problem(record)) is not None:
                            raise _bad_columns(index, frame.offset, problem)
                        elif code == C.END:
                            if self.complete:
                                raise CorruptTrace("two end records")
                            if check and (problem := summary_problem(record[1])):
                                raise CorruptTrace(f"malformed summary in its end record "
                                                   f"({problem})")
                            self.complete = True
                            self.end_summary = record[1] if isinstance(record[1], dict) else None
                            self.checksum = zlib.crc32(data[: _end_offset(data)], crc)
                    except (TypeError, IndexError, KeyError) as exc:
                        raise _bad_record(frame.offset, record, exc) from None
                    yield record
            except (ValueError, TypeError, IndexError, KeyError,
                    msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as exc:
                raise _corrupt_record(frame.offset, exc) from None
            if first:
                raise CorruptTrace("first frame holds no header record")
            if not _ends_on_a_record(unpacker, len(read)):
                raise CorruptTrace(f"frame at byte {frame.offset} ends partway through a record "
                                   f"(each frame must hold whole records)")
            crc = zlib.crc32(data, crc)
        self.truncated = end < self.size


def read_trailer(path: str | os.PathLike) -> dict | None:
    """The summary from the trailing skippable frame, or None when there is none.

    This reads only the prelude and the last few kilobytes: it is what makes listing a
    spool cheap. The prelude is checked (NotATrace/UnsupportedVersion naming the file) so
    that a file no reader would open is not listed from its trailer alone.
    """
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        try:
            check_prelude(f.read(C.PRELUDE_SIZE), size)
        except TraceError as exc:
            exc.path = str(path)
            raise
        if size < C.PRELUDE_SIZE + 8 + C.TRAILER_TAIL_SIZE:
            return None
        read = min(size, 8192)
        f.seek(size - read)
        tail = f.read(read)
        if tail[-8:] != C.TRAILER_MAGIC:
            return None
        (length,) = struct.unpack_from("<I", tail, len(tail) - 12)
        frame_size = 8 + length + C.TRAILER_TAIL_SIZE
        if length > C.MAX_TRAILER_SIZE or frame_size > size - C.PRELUDE_SIZE:
            return None
        if frame_size > len(tail):
            f.seek(size - frame_size)
            tail = f.read(frame_size)
        start = len(tail) - frame_size
        if tail[start : start + 4] != C.SKIPPABLE_MAGIC_BYTES:
            return None
        if struct.unpack_from("<I", tail, start + 4)[0] != length + C.TRAILER_TAIL_SIZE:
            return None
        try:
            summary = msgpack.unpackb(tail[start + 8 : start + 8 + length], raw=False,
                                      strict_map_key=False)
        except Exception:
            return None
        return summary if isinstance(summary, dict) else None
