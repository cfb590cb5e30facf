"""Numbers fixed by spec/OTRACE.md: magics, versions, record type codes and their columns.

Everything a writer or reader in any language must agree on lives here, so that the
spec, the Python writer, the reader and the header's self-description cannot drift apart.
"""

from __future__ import annotations

FORMAT_NAME = "otrace"
VERSION_MAJOR = 1
VERSION_MINOR = 0

# A zstd skippable frame: magic 0x184D2A5A (little endian), u32 size, payload.
SKIPPABLE_MAGIC = 0x184D2A5A
SKIPPABLE_MAGIC_BYTES = SKIPPABLE_MAGIC.to_bytes(4, "little")
ZSTD_MAGIC_BYTES = (0xFD2FB528).to_bytes(4, "little")

PRELUDE_MAGIC = b"\x89OTRACE\n"
TRAILER_MAGIC = b"\x89OTREND\n"
PRELUDE_PAYLOAD_SIZE = 16  # magic(8) + major(u16) + minor(u16) + flags(u32)
PRELUDE_SIZE = 8 + PRELUDE_PAYLOAD_SIZE
TRAILER_TAIL_SIZE = 12  # u32 summary length + magic(8)

# Readers refuse frames that would decompress to more than this (zip-bomb guard);
# writers must keep every frame well below it (the Python writer flushes at 256 KiB).
MAX_FRAME_CONTENT = 64 * 1024 * 1024
MAX_TRAILER_SIZE = 1024 * 1024
# No msgpack array or map in a record may hold more items than this: a one-byte empty list
# costs ~64 bytes once decoded, so a container as long as a frame allows would need GiBs.
# Real records stay far below (columns, captured values cut to 50 items, stacks).
MAX_CONTAINER_LEN = 1_000_000
# Nesting multiplies that: a frame of many arrays of many empty lists. Frames above
# COUNTED_FRAME bytes (agents write far smaller ones) are decoded counting every array and
# map, and refused past MAX_FRAME_CONTAINERS (~64 bytes each decoded: ~256 MiB at most).
COUNTED_FRAME = 4 * 1024 * 1024
MAX_FRAME_CONTAINERS = 4_000_000
# A captured value nested deeper than this is refused: agents capture to depth 2 or 3, and
# every reader walking such a value (validation, JSON output) recurses once per level.
MAX_VALUE_DEPTH = 32

# Record type codes (first element of every record array).
HEADER = 0
STRING = 1
FUNCTION = 2
LANE = 3
CALL = 4
RETURN = 5
EXCEPTION = 6
UNWIND = 7
CRASH = 8
STACK = 9
EVENT = 10
MODULE = 11
END = 15
FIRST_EXTENSION = 64  # 64..127: agent-private records; readers skip them.
LAST_EXTENSION = 127

# name, columns after the type code, whether the record carries a timestamp delta.
RECORD_TYPES: dict[int, tuple[str, tuple[str, ...], bool]] = {
    HEADER: ("header", ("meta",), False),
    STRING: ("string", ("id", "text"), False),
    FUNCTION: ("function", ("id", "name", "module", "file", "line", "addr?"), False),
    LANE: ("lane", ("id", "name", "kind", "native_id", "parent"), False),
    CALL: ("call", ("dt", "lane", "fn", "args?", "site?"), True),
    RETURN: ("return", ("dt", "lane", "value?"), True),
    EXCEPTION: ("exception", ("dt", "lane", "kind", "exc_type", "message", "line"), True),
    UNWIND: ("unwind", ("dt", "lane", "line", "locals?"), True),
    CRASH: ("crash", ("dt", "lane", "kind", "reason", "message", "detail"), True),
    STACK: ("stack", ("dt", "lane", "reason", "frames"), True),
    EVENT: ("event", ("dt", "lane", "kind", "attrs"), True),
    MODULE: ("module", ("id", "path", "base", "build_id", "size?", "mtime?"), False),
    END: ("end", ("summary",), False),
}
TIMED_TYPES = frozenset(code for code, (_, _, timed) in RECORD_TYPES.items() if timed)
TYPE_NAMES = {code: name for code, (name, _, _) in RECORD_TYPES.items()}

EXCEPTION_KINDS = ("raised", "caught")

# Captured value node kinds: a value is a msgpack scalar, or [kind, type_sid, ...].
V_TEXT = 0  # [0, type, text, cut?]      repr, or a string cut to its first characters
V_SEQ = 1  # [1, type, items, cut?]     list/tuple/set: items, original length if cut
V_MAP = 2  # [2, type, flat k/v, cut?]  dict: alternating keys and values
V_OBJECT = 3  # [3, type, flat name sid/value, cut?]  attributes of an object
V_REDACTED = 4  # [4, type]              a secret, never written
V_ELIDED = 5  # [5, type, length?]       beyond the depth limit
V_ERROR = 6  # [6, type, message]        repr() raised
VALUE_KINDS = {
    V_TEXT: "text",
    V_SEQ: "seq",
    V_MAP: "map",
    V_OBJECT: "object",
    V_REDACTED: "redacted",
    V_ELIDED: "elided",
    V_ERROR: "error",
}

STATUSES = ("ok", "failed", "crashed", "incomplete")


def describe_records() -> list[dict]:
    """The header's self-description: what every record type and column means."""
    return [
        {"type": code, "name": name, "columns": list(columns), "timed": timed}
        for code, (name, columns, timed) in sorted(RECORD_TYPES.items())
    ]
