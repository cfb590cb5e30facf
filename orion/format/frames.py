"""Finding zstd frame boundaries in an .otrace file without trusting it.

We walk the frame and block headers ourselves (RFC 8878, section 3.1) instead of letting
the decompressor run over the file: that tells a frame cut by a crash (it runs past the end
of the file: stop, the trace is incomplete) from a corrupt one (bad magic, reserved bits:
an error), and lets us refuse a frame whose declared size is bomb-like before inflating it.
"""

from __future__ import annotations

from collections import namedtuple

from .constants import MAX_FRAME_CONTENT, SKIPPABLE_MAGIC, ZSTD_MAGIC_BYTES
from .errors import CorruptTrace

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: typing would cost every `orion run` its import
    from typing import Iterator

_FCS_SIZES = (0, 2, 4, 8)
_DICT_ID_SIZES = (0, 1, 2, 4)


class Frame(namedtuple("Frame", ["offset", "size", "skippable", "content_size"])):
    """offset; size: bytes on disk, headers included; skippable; content_size: a zstd
    frame's declared decompressed size. (collections' namedtuple, not typing's or a
    dataclass, and zstandard imported by the decompressor alone: reading a trailer, as
    `orion run` does for every trace written, needs none of them.)"""

    __slots__ = ()


class Truncated(Exception):
    """The frame at this offset runs past the end of the data (internal signal)."""


def _u32(buf, pos: int) -> int:
    return int.from_bytes(buf[pos : pos + 4], "little")


def _need(buf, end: int) -> None:
    if end > len(buf):
        raise Truncated


def frame_at(buf, offset: int) -> Frame:
    """Describe the frame starting at `offset`; raise Truncated or CorruptTrace."""
    _need(buf, offset + 4)
    magic = _u32(buf, offset)
    if magic & 0xFFFFFFF0 == 0x184D2A50:
        _need(buf, offset + 8)
        size = 8 + _u32(buf, offset + 4)
        _need(buf, offset + size)
        return Frame(offset, size, True, None)
    if bytes(buf[offset : offset + 4]) != ZSTD_MAGIC_BYTES:
        raise CorruptTrace(f"no zstd frame at byte {offset} (bad frame magic)")
    pos = offset + 4
    _need(buf, pos + 1)
    descriptor = buf[pos]
    pos += 1
    if descriptor & 0x08:
        raise CorruptTrace(f"corrupt frame at byte {offset} (reserved bit set)")
    single_segment = bool(descriptor & 0x20)
    fcs_flag = descriptor >> 6
    fcs_size = _FCS_SIZES[fcs_flag] or (1 if single_segment else 0)
    has_checksum = bool(descriptor & 0x04)
    if not single_segment:
        pos += 1  # window descriptor
    pos += _DICT_ID_SIZES[descriptor & 0x03]
    _need(buf, pos + fcs_size)
    content_size = None
    if fcs_size:
        content_size = int.from_bytes(buf[pos : pos + fcs_size], "little")
        if fcs_size == 2:
            content_size += 256
    pos += fcs_size
    while True:
        _need(buf, pos + 3)
        block = int.from_bytes(buf[pos : pos + 3], "little")
        pos += 3
        block_type = (block >> 1) & 0x03
        if block_type == 3:
            raise CorruptTrace(f"corrupt frame at byte {offset} (reserved block type)")
        pos += 1 if block_type == 1 else block >> 3
        if block & 1:
            break
    if has_checksum:
        pos += 4
    _need(buf, pos)
    return Frame(offset, pos - offset, False, content_size)


def iter_frames(buf, start: int) -> Iterator[Frame]:
    """Yield every complete frame from `start`; stop silently at a truncated one.

    Callers learn whether the walk reached the end cleanly from the last frame's end.
    """
    offset = start
    while offset < len(buf):
        try:
            frame = frame_at(buf, offset)
        except Truncated:
            return
        yield frame
        offset += frame.size


class FrameDecompressor:
    """Inflates one frame at a time with a hard ceiling on the output size."""

    def __init__(self, limit: int = MAX_FRAME_CONTENT) -> None:
        import zstandard

        self.limit = limit
        self._dctx = zstandard.ZstdDecompressor()
        self._error = zstandard.ZstdError

    def decompress(self, buf, frame: Frame, path_hint: str = "") -> bytes:
        if frame.content_size is None:
            raise CorruptTrace(f"frame at byte {frame.offset} does not declare its size")
        if frame.content_size > self.limit:
            raise CorruptTrace(
                f"frame at byte {frame.offset} declares {frame.content_size:,} bytes, "
                f"above the {self.limit // (1024 * 1024)} MiB limit"
            )
        if frame.content_size == 0:
            return b""
        data = buf[frame.offset : frame.offset + frame.size]
        try:
            out = self._dctx.decompress(data, max_output_size=frame.content_size)
        except self._error as exc:
            raise CorruptTrace(f"corrupt frame at byte {frame.offset} ({exc})") from None
        if len(out) != frame.content_size:
            raise CorruptTrace(f"corrupt frame at byte {frame.offset} (size mismatch)")
        return out
