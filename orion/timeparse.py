"""Times and durations: reading what users type (`500us`, `2h`, `1d12h`, `2026-11-25`,
`2026-11-25 14:30`) and writing them for people."""

from __future__ import annotations

import re
import time
from datetime import datetime

from .errors import OrionError

_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9,
          "h": 3600 * 10**9, "d": 86400 * 10**9, "w": 7 * 86400 * 10**9}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w)")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S",
                 "%Y-%m-%dT%H:%M:%S")


def parse_duration_ns(text: str) -> int:
    """`90s`, `2h`, `1d12h`, `1.5h` -> nanoseconds."""
    compact = text.strip().replace(" ", "")
    pos, total = 0, 0.0
    for match in _DURATION.finditer(compact):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(compact) or not compact:
        raise OrionError(f"{text!r} is not a duration (use e.g. 30s, 15m, 2h, 1d12h, 1w)")
    return int(total)


def parse_nanoseconds(text: str, option: str | None = None) -> int:
    """A duration where a plain number counts nanoseconds: `1500`, `500us`, `2ms`, `1s`;
    an error names `option` when given."""
    text = text.strip()
    if _NUMBER.fullmatch(text):
        return int(float(text)) if "." in text else int(text)
    try:
        return parse_duration_ns(text)
    except OrionError:
        where = f"{option} " if option else ""
        raise OrionError(f"{where}{text!r} is not a duration (use e.g. 1500 for "
                         f"nanoseconds, 500us, 2ms, 1s)") from None


def parse_when_ns(text: str, now_ns: int | None = None) -> int:
    """A point in time: a duration ago (`2h`), a local date/time, or an ISO timestamp."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    text = text.strip()
    if _DURATION.match(text):
        try:
            return now_ns - parse_duration_ns(text)
        except OrionError:
            pass
    for fmt in _DATE_FORMATS:
        try:
            return int(datetime.strptime(text, fmt).timestamp() * 1e9)
        except ValueError:
            continue
    try:
        return int(datetime.fromisoformat(text).timestamp() * 1e9)
    except ValueError:
        raise OrionError(
            f"{text!r} is not a time (use a duration like 2h or 3d, or a date like 2026-11-25)"
        ) from None


def format_duration_ns(ns: int | None) -> str:
    if ns is None:
        return "-"
    if ns < 1_000:
        return f"{ns}ns"
    if ns < 1_000_000:
        return f"{ns / 1e3:.1f}µs"
    if ns < 1_000_000_000:
        return f"{ns / 1e6:.1f}ms"
    if ns < 60 * 10**9:
        return f"{ns / 1e9:.2f}s"
    minutes, seconds = divmod(ns // 10**9, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def format_time_ns(ns: int | None) -> str:
    if ns is None:
        return "-"
    return datetime.fromtimestamp(ns / 1e9).strftime("%Y-%m-%d %H:%M:%S")
