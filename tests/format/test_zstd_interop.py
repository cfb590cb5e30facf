"""A trace must read without Orionis: the real zstd CLI, then any msgpack decoder."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

VECTORS = Path(__file__).resolve().parents[2] / "spec" / "vectors"
ZSTD = shutil.which("zstd")
pytestmark = pytest.mark.skipif(ZSTD is None, reason="the zstd command-line tool is not "
                                                      "installed (apt install zstd)")

# Plain msgpack in a fresh interpreter: no orion import anywhere.
FIRST_RECORD = """
import sys, msgpack
unpacker = msgpack.Unpacker(sys.stdin.buffer, raw=False, strict_map_key=False)
code, header = next(unpacker)
rest = sum(1 for _ in unpacker)
print(code, header["format"], header["version"][0], header["version"][1], rest + 1)
assert "orion" not in sys.modules
"""


def zstd_dc(path: Path) -> bytes:
    return subprocess.run([ZSTD, "-dc", str(path)], check=True, capture_output=True,
                          timeout=30).stdout


@pytest.mark.parametrize("name", ["normal", "native", "values"])
def test_zstd_cli_then_plain_msgpack_reads_the_header_first(name):
    stream = zstd_dc(VECTORS / f"{name}.otrace")
    out = subprocess.run([sys.executable, "-c", FIRST_RECORD], input=stream, check=True,
                         capture_output=True, timeout=30).stdout.decode().split()
    from orion.format.constants import VERSION_MAJOR, VERSION_MINOR
    from orion.format.reader import TraceReader

    assert out[:4] == ["0", "otrace", str(VERSION_MAJOR), str(VERSION_MINOR)]
    with TraceReader(VECTORS / f"{name}.otrace") as reader:
        assert int(out[4]) == sum(1 for _ in reader.records())


def test_zstd_cli_decodes_every_complete_vector_whole(tmp_path):
    """The prelude and trailer are skippable frames: `zstd -t` and `-dc` skip them."""
    for path in VECTORS.glob("*.otrace"):
        if path.stem == "truncated":
            continue
        subprocess.run([ZSTD, "-tq", str(path)], check=True, capture_output=True, timeout=30)
        assert zstd_dc(path)[:1] == b"\x92"  # a 2-element msgpack array: [0, header]


def test_zstd_cli_reports_the_truncated_vector(tmp_path):
    result = subprocess.run([ZSTD, "-dc", str(VECTORS / "truncated.otrace")],
                            capture_output=True, timeout=30)
    assert result.returncode != 0
    assert result.stdout[:1] == b"\x92"  # but the complete frames before the cut came out
