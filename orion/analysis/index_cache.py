"""Trace indexes kept on disk between runs, so that a big trace opened again (by `orion
replay`, `orion show --json` or `orion serve`) skips most of the index's build.

A cache file belongs to one version of one trace file: it names the trace's device,
inode, size and mtime, and is used only while they are the same. It lives in the user's
cache directory, where anything may be found, so it is never trusted: each file ends with
a keyed BLAKE2b digest (the key: 32 random bytes made once, readable by the user only)
of everything before it, checked before anything in it is decompressed; a file whose
digest, format or shapes are not right is deleted and the index built again.

A file is MAGIC, then one zstd stream of a small msgpack manifest (its length first, 4
bytes) followed by the raw bytes of the index's columns, then the digest. Columns are
written from and read into their arrays directly (no copy of a column is made), so that
caching a big index costs no memory beyond the index itself.

Kept: the newest MAX_FILES indexes (MAX_BYTES in all) of traces of at least MIN_STEPS
steps (smaller ones build in well under a second). Writing or reading the cache never
fails a command.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
import sys
from pathlib import Path
from typing import Any, BinaryIO, Sequence

import msgpack
import zstandard

from ..cachedir import cache_dir

MAGIC = b"OTIX3\n"
DIGEST_SIZE = 32
MIN_STEPS = 200_000
MAX_FILES = 16
MAX_BYTES = 1 << 30  # an index is ~7 MB a million steps; the newest one is always kept
MAX_MANIFEST = 1 << 20
LEVEL = 1  # zstd: columns compress several times over even so, in tens of ms a million steps
CHUNK = 1 << 20


def _directory() -> Path:
    return cache_dir("trace-index")


def identity(path: str | os.PathLike) -> tuple[str, list[int]]:
    """The trace file's resolved path and (device, inode, size, mtime_ns)."""
    real = os.path.realpath(path)
    st = os.stat(real)
    return real, [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns]


def _key(create: bool) -> bytes | None:
    """This user's digest key (made on first use, mode 0600), None when there is none."""
    path = _directory() / "key"
    try:
        with open(path, "rb") as handle:
            st = os.fstat(handle.fileno())
            key = handle.read()
        if len(key) == 32 and st.st_uid == os.getuid() and not st.st_mode & 0o077:
            return key  # a key others could read or write would make digests forgeable
        if not create:
            return None
        path.unlink()
    except FileNotFoundError:
        if not create:
            return None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    key = os.urandom(32)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key


def _file_for(real: str) -> Path:
    return _directory() / (hashlib.blake2b(real.encode(), digest_size=16).hexdigest() + ".idx")


class _Digesting:
    """A file the compressor writes into, digesting what it is given."""

    def __init__(self, sink: BinaryIO, key: bytes) -> None:
        self.sink = sink
        self.digest = hashlib.blake2b(MAGIC, key=key, digest_size=DIGEST_SIZE)

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.sink.write(data)

    def flush(self) -> None:
        self.sink.flush()


def store(path: str | os.PathLike, ident: list[int], manifest: dict[str, Any],
          columns: Sequence[Any]) -> None:
    """Keep an index of the trace at `path` whose identity, taken before it was read, was
    `ident`: `manifest` (msgpack-able, small) and `columns` (objects with the buffer
    protocol, e.g. arrays); nothing when the file has changed since."""
    try:
        real, now = identity(path)
        if now != ident:
            return
        key = _key(create=True)
        head = msgpack.packb(dict(manifest, path=real, identity=ident,
                                  byteorder=sys.byteorder), use_bin_type=True)
        target = _file_for(real)
        partial = target.with_suffix(f".{os.getpid()}.part")
        with open(partial, "wb") as sink:
            sink.write(MAGIC)
            digesting = _Digesting(sink, key)
            with zstandard.ZstdCompressor(level=LEVEL).stream_writer(
                    digesting, closefd=False) as writer:
                writer.write(struct.pack("<I", len(head)) + head)
                for column in columns:
                    writer.write(memoryview(column).cast("B"))
            sink.write(digesting.digest.digest())
        os.replace(partial, target)
        _trim(target.parent)
    except (OSError, ValueError, TypeError, zstandard.ZstdError):
        return  # a read-only or full disk: the index is built each time


class Cached:
    """A cached index, its digest checked: `manifest`, then `read_into` each column in
    the order they were stored. Raises ValueError when the content is not whole."""

    def __init__(self, manifest: dict, stream: Any) -> None:
        self.manifest = manifest
        self._stream = stream

    def read_into(self, column: Any) -> None:
        view = memoryview(column).cast("B")
        done = 0
        while done < len(view):
            got = self._stream.readinto(view[done:])
            if not got:
                raise ValueError("cached index ends early")
            done += got

    def close(self) -> None:
        self._stream.close()


def load(path: str | os.PathLike) -> Cached | None:
    """The cached index of this version of the trace at `path`, None when there is none
    that can be used (a file that is not right is deleted)."""
    try:
        real, ident = identity(path)
        key = _key(create=False)
        if key is None:
            return None
        cached = _file_for(real)
        handle = open(cached, "rb")
    except OSError:
        return None
    try:
        if not _digest_holds(handle, key):
            handle.close()
            _discard(cached)
            return None
        size = os.fstat(handle.fileno()).st_size - DIGEST_SIZE - len(MAGIC)
        handle.seek(len(MAGIC))
        stream = zstandard.ZstdDecompressor().stream_reader(_Bounded(handle, size))
        (length,) = struct.unpack("<I", _read_exactly(stream, 4))
        if length > MAX_MANIFEST:
            raise ValueError("manifest too big")
        manifest = msgpack.unpackb(_read_exactly(stream, length), raw=False,
                                   strict_map_key=False)
    except (OSError, ValueError, struct.error, zstandard.ZstdError, msgpack.UnpackException):
        handle.close()
        _discard(cached)
        return None
    if not isinstance(manifest, dict) or manifest.get("path") != real \
            or manifest.get("byteorder") != sys.byteorder \
            or manifest.get("identity") != ident:
        stream.close()  # an older version of the trace: rebuilt, and this file replaced
        return None
    return Cached(manifest, stream)


def _digest_holds(handle: BinaryIO, key: bytes) -> bool:
    size = os.fstat(handle.fileno()).st_size
    if size < len(MAGIC) + DIGEST_SIZE or handle.read(len(MAGIC)) != MAGIC:
        return False
    digest = hashlib.blake2b(MAGIC, key=key, digest_size=DIGEST_SIZE)
    left = size - len(MAGIC) - DIGEST_SIZE
    while left:
        chunk = handle.read(min(CHUNK, left))
        if not chunk:
            return False
        digest.update(chunk)
        left -= len(chunk)
    return hmac.compare_digest(handle.read(DIGEST_SIZE), digest.digest())


class _Bounded:
    """The first `size` bytes from a file's position (the stream, not the digest)."""

    def __init__(self, handle: BinaryIO, size: int) -> None:
        self._handle = handle
        self._left = size

    def read(self, n: int = -1) -> bytes:
        n = self._left if n < 0 else min(n, self._left)
        data = self._handle.read(n)
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._handle.close()


def _read_exactly(stream: Any, n: int) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise ValueError("cached index ends early")
    return data


def _trim(directory: Path) -> None:
    """Delete all but the newest indexes that add up to MAX_FILES and MAX_BYTES."""
    files = []
    for entry in os.scandir(directory):
        if entry.name.endswith(".idx"):
            try:
                st = entry.stat()
            except OSError:
                continue
            files.append((st.st_mtime_ns, st.st_size, entry.path))
    total = 0
    for count, (_, size, path) in enumerate(sorted(files, reverse=True)):
        total += size
        if count >= MAX_FILES or (count and total > MAX_BYTES):
            _discard(Path(path))


def _discard(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
