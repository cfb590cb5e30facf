"""Helpers for agent tests: run real programs in subprocesses, read back what they wrote."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import zstandard

from orion.format.decode import decode_records
from orion.format.reader import TraceReader

PROGRAMS = Path(__file__).parent / "programs"

try:
    from orion.agent import _hook
    C_HOOK_BUILT = True
    C_HOOK_API = _hook.HOOK  # "sys.monitoring" (CPython >= 3.12) or "profile"
except ImportError:
    C_HOOK_BUILT = False
    C_HOOK_API = None
# The hooks a test runs with (ORION_HOOK): the C one first, when it is built.
HOOKS = ["c", "python"] if C_HOOK_BUILT else ["python"]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ORION_") and k != "PYTHONPATH"}
    env.update(extra)
    return env


def run(args: list[str], env: dict | None = None, cwd=None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env or clean_env(), cwd=cwd, capture_output=True,
                          text=True, timeout=60, **kw)


def traces(spool: Path) -> list[Path]:
    return sorted(spool.glob("*.otrace")) if spool.exists() else []


def records(path: Path) -> list[dict]:
    """Every decoded record; the trace must also pass `orion validate`'s checks."""
    from orion.format.validate import is_valid, validate_trace

    problems = validate_trace(path)
    assert is_valid(problems), [str(p) for p in problems]
    with TraceReader(path) as reader:
        return list(decode_records(reader.records()))


def raw_bytes(path: Path) -> bytes:
    """The decompressed body of a trace file (every zstd frame, skippable ones as-is)."""
    data = path.read_bytes()
    out = bytearray()
    reader = zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True)
    try:
        while chunk := reader.read(1 << 20):
            out += chunk
    except zstandard.ZstdError:
        pass
    return bytes(out) + data  # skippable frames (trailer) are plain bytes


def python() -> str:
    return sys.executable
