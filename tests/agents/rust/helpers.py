"""What the Rust agent's tests share: building the workspace's examples, reading traces."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import zstandard

AGENT = Path(__file__).resolve().parents[3] / "agents" / "rust"


def build_example(package: str) -> Path:
    """An example of the agent's workspace, built with the real cargo into the workspace's
    own target/ (where scripts/test's `cargo test` has built the agent already)."""
    env = {k: v for k, v in os.environ.items() if k not in ("CARGO_TARGET_DIR", "RUSTC_WRAPPER")}
    subprocess.run(["cargo", "build", "-q", "--offline", "-p", package], cwd=AGENT, check=True,
                   env=env, timeout=600)
    return AGENT / "target" / "debug" / package


def decompressed(path: Path) -> bytes:
    """Every frame of a trace, decompressed."""
    with zstandard.ZstdDecompressor().stream_reader(path.read_bytes(),
                                                     read_across_frames=True) as reader:
        return reader.read()
