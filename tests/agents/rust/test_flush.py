"""What a kill -9 leaves of a Rust program's trace when the program has gone quiet: the
agent's flushing thread writes events within ~100 ms, not only when 64 KiB of them have
piled up or the program exits (the sweep of random kills on a busy program is in
tests/test_kill9.py)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.trace_records import by_type, records_after_a_quiet_kill

pytestmark = pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed")

CALLS = 500

QUIET_PROGRAM = f"""\
fn step(total: u64, i: u64) -> u64 {{ total + i }}

fn main() {{
    let mut total = 0;
    for i in 0..{CALLS} {{
        total = step(total, i);
    }}
    println!("ready {{total}}");
    std::thread::sleep(std::time::Duration::from_secs(3600));
}}
"""


def test_a_quiet_programs_events_reach_the_disk_before_a_kill(tmp_path: Path) -> None:
    (tmp_path / "Cargo.toml").write_text('[package]\nname = "quiet"\nversion = "0.1.0"\n'
                                         'edition = "2021"\n')
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.rs").write_text(QUIET_PROGRAM)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ORION_") and k not in ("RUSTC_WRAPPER", "CARGO_TARGET_DIR")}
    records = records_after_a_quiet_kill(["cargo", "run", "-q", "--offline"],
                                         tmp_path / "spool", cwd=tmp_path, env=env)
    assert len(by_type(records, "call")) == CALLS + 1  # main and each step


EARLY_PROGRAM = """\
fn main() {
    println!("ready");
    std::thread::sleep(std::time::Duration::from_secs(3600));
}
"""


def test_a_kill_right_after_the_agent_starts_leaves_a_header(tmp_path: Path) -> None:
    """The header is written by the program's thread as the trace is created, not queued
    for the flushing thread: a kill sweep at load ~12 found a file with no header."""
    (tmp_path / "Cargo.toml").write_text('[package]\nname = "early"\nversion = "0.1.0"\n'
                                         'edition = "2021"\n')
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.rs").write_text(EARLY_PROGRAM)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ORION_") and k not in ("RUSTC_WRAPPER", "CARGO_TARGET_DIR")}
    records = records_after_a_quiet_kill(["cargo", "run", "-q", "--offline"],
                                         tmp_path / "spool", cwd=tmp_path, env=env, wait=0)
    assert records[0]["type"] == "header"  # its calls may still be queued: within the bound
