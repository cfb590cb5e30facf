"""The .otrace format: writer, reader, decoding and summaries. Knows nothing of the CLI."""

from .constants import VERSION_MAJOR, VERSION_MINOR
from .decode import Decoder, decode_records
from .errors import CorruptTrace, NotATrace, TraceError, UnsupportedVersion
from .reader import TraceReader, read_trailer
from .summary import read_summary, scan_summary
from .writer import NO_VALUE, TraceWriter, new_trace_id

__all__ = [
    "VERSION_MAJOR", "VERSION_MINOR", "Decoder", "decode_records", "CorruptTrace",
    "NotATrace", "TraceError", "UnsupportedVersion", "TraceReader", "read_trailer",
    "read_summary", "scan_summary", "NO_VALUE", "TraceWriter", "new_trace_id",
]
