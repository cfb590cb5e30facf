"""Every malformed input gives one line on stderr naming the file and the problem, exit 2.

These go through the real CLI in a subprocess: no traceback, no hang, bounded memory.
"""

from __future__ import annotations

import random
import struct

import msgpack
import pytest
import zstandard

from orion.format import constants as C
from orion.format.constants import PRELUDE_SIZE
from orion.format.frames import iter_frames
from orion.format.writer import prelude_bytes

from ..conftest import run_orion, write_trace
from ..format.test_untrusted import frame, header_payload

READING_COMMANDS = ["cat", "show", "validate"]


def zstd_frame_header(content_size: int) -> bytes:
    """A single-segment zstd frame header declaring an 8-byte content size."""
    return struct.pack("<I", 0xFD2FB528) + bytes([0xE0]) + struct.pack("<Q", content_size)


def raw_last_block(payload: bytes) -> bytes:
    return ((len(payload) << 3) | 1).to_bytes(3, "little") + payload


def bad_files(tmp_path, spool) -> dict:
    good = open(write_trace(spool, calls=40, batch_bytes=120), "rb").read()
    frames = [f for f in iter_frames(good, PRELUDE_SIZE) if not f.skippable]
    second = frames[1]
    corrupt = bytearray(good)
    corrupt[second.offset + second.size // 2] ^= 0xFF

    bomb = bytearray()
    with zstandard.ZstdCompressor(write_content_size=True).stream_writer(
            _Sink(bomb), size=100 * 1024 * 1024, closefd=False) as writer:
        chunk = bytes(1024 * 1024)
        for _ in range(100):
            writer.write(chunk)

    lying = bytearray(zstandard.ZstdCompressor(write_content_size=True).compress(bytes(100_000)))
    assert lying[4] >> 6 == 2, "expected a 4-byte content size field"
    lying[6:10] = struct.pack("<I", 1000)  # claims 1000 bytes, inflates to 100,000

    newer = bytearray(good)
    newer[16:18] = struct.pack("<H", 2)

    # 60 M empty lists in one frame under the size limit: ~4 GB once decoded.
    n = 60_000_000
    many_lists = zstandard.ZstdCompressor(write_content_size=True).compress(
        b"\xdd" + struct.pack(">I", n) + b"\x90" * n)

    rng = random.Random(7)
    files = {
        "empty": (b"", "empty file"),
        "random": (bytes(rng.randrange(256) for _ in range(4096)), "not an .otrace file"),
        "text": (b"hello, this is a text file\n" * 10, "not an .otrace file"),
        "corrupt-frame": (bytes(corrupt), "corrupt"),
        "oversized-frame": (prelude_bytes() + zstd_frame_header(2**40) + raw_last_block(b"abcd"),
                            "above the 64 MiB limit"),
        "bomb": (prelude_bytes() + bytes(bomb), "above the 64 MiB limit"),
        "lying-size": (prelude_bytes() + bytes(lying), "corrupt frame"),
        "newer-major": (bytes(newer), "format 2.0"),
        "many-lists": (prelude_bytes() + many_lists, "more than 1,000,000 items"),
    }
    paths = {}
    for name, (data, message) in files.items():
        path = tmp_path / f"{name}.otrace"
        path.write_bytes(data)
        paths[name] = (path, message)
    return paths


class _Sink:
    def __init__(self, buf: bytearray) -> None:
        self.buf = buf

    def write(self, data) -> int:
        self.buf += data
        return len(data)


@pytest.fixture
def files(tmp_path, spool):
    return bad_files(tmp_path, spool)


@pytest.mark.parametrize("command", READING_COMMANDS)
def test_each_bad_file_is_one_line_and_exit_2(files, command):
    for name, (path, message) in files.items():
        result = run_orion(command, str(path), timeout=30)
        assert result.returncode == 2, (name, result.stdout[-500:], result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (name, result.stderr)
        assert "Traceback" not in result.stderr
        assert str(path) in lines[0], (name, lines[0])
        assert message in lines[0], (name, lines[0])


def test_export_of_a_bad_file_is_one_line_and_writes_nothing(files, tmp_path):
    """The .otrace copy is checked as cat would read it, not passed on as it is."""
    out = tmp_path / "out.otrace"
    for name, (path, message) in files.items():
        result = run_orion("export", str(path), "-o", str(out), timeout=30)
        assert result.returncode == 2, (name, result.stderr)
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and str(path) in lines[0] and message in lines[0], (name, lines)
        assert not out.exists() and result.stdout == "", name
    cut = tmp_path / "cut.otrace"
    cut.write_bytes(prelude_bytes())
    result = run_orion("export", str(cut), "-o", str(out))
    assert result.returncode == 2 and "has no complete header frame" in result.stderr
    assert not out.exists()


def test_debug_shows_a_traceback(files):
    path, _ = files["random"]
    result = run_orion("cat", str(path), env={"ORION_DEBUG": "1"})
    assert result.returncode != 0
    assert "Traceback" in result.stderr


def test_unknown_and_malformed_ids(spool):
    write_trace(spool)
    for ref, message in [("ffffffff", "no trace with id"), ("@~5", "no such trace"),
                         ("not-an-id!", "is not a trace id"), ("missing.otrace", "no such file")]:
        result = run_orion("cat", ref)
        assert result.returncode == 2, ref
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_malformed_options_are_usage_errors(spool):
    for args in (["list", "--since", "yesterdayish"], ["list", "--limit", "0"],
                 ["list", "--status", "weird"], ["list", "--grep", "("]):
        result = run_orion(*args)
        assert result.returncode == 2, args
        assert "Traceback" not in result.stderr


USAGE_ERRORS = [
    (["list", "--limit", "-1"], "orion list: error: Invalid value for '--limit' / '-n': -1 is "
                                "not in the range x>=1 (see orion list --help)"),
    (["list", "--format", "xml"], "orion list: error: Invalid value for '--format'"),
    (["list", "-n"], "orion list: error: Option '-n' requires an argument"),
    (["clean", "--keep", "-3"], "orion clean: error: Invalid value for '--keep'"),
    (["export", "--format", "bogus"], "orion export: error: Invalid value for '--format'"),
    (["config", "get"], "orion config get: error: Missing argument 'KEY' "
                        "(see orion config get --help)"),
    (["config", "set", "-x"], "orion config set: error: No such option '-x'"),
    (["bogus"], "orion: error: No such command 'bogus' (see orion --help)"),
    (["--bogus"], "orion: error: No such option '--bogus'"),
]


@pytest.mark.parametrize("args,start", USAGE_ERRORS, ids=lambda v: " ".join(v)
                         if isinstance(v, list) else "")
def test_usage_errors_are_one_line_and_exit_2(spool, args, start):
    """click's four lines (usage, hint, blank, error) become one, naming the command."""
    result = run_orion(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(start), result.stderr


def test_a_bare_group_still_shows_its_help(spool):
    for args in ([], ["config"]):
        result = run_orion(*args)
        assert result.returncode == 2 and "Usage: orion" in result.stderr, args


def test_one_bad_file_does_not_break_listing_the_spool(files, spool):
    """Files without a trailer are scanned: a hostile one is skipped with a warning."""
    write_trace(spool)
    for name, (path, message) in files.items():
        target = spool.path / f"20200101T000000000000Z-{name.encode().hex():0<32}.otrace"
        target.write_bytes(path.read_bytes())
    for fmt in ("table", "jsonl", "ids"):
        result = run_orion("list", "--format", fmt, timeout=30)
        assert result.returncode == 0, (fmt, result.stderr)
        assert "internal error" not in result.stderr and "Traceback" not in result.stderr
        assert "more than 1,000,000 items" in result.stderr, (fmt, result.stderr)


def raw_trace(tmp_path, name: str, *records) -> str:
    """A header frame, then one frame holding `records` packed as they are."""
    path = tmp_path / f"{name}.otrace"
    body = b"".join(msgpack.packb(rec) for rec in records)
    path.write_bytes(prelude_bytes() + frame(header_payload()) + frame(body))
    return str(path)


LANE = [C.LANE, 0, None, None, 1, None]


@pytest.mark.parametrize("records,message", [
    ([[]], "(empty record)"),
    ([5], "(record is not an array (int))"),
    ([{"a": 1}], "(record is not an array (dict))"),
    ([[[1], 2]], "(record type is not an integer (list))"),
    ([[C.END]], "(end record with no fields)"),
    ([[C.CALL, "x", 0, 0]], "(call record with a bad time delta 'x')"),
    ([[C.CALL]], "(call record with no fields)"),
], ids=["empty", "int", "map", "list-type", "end-alone", "bad-delta", "call-alone"])
def test_a_corrupt_record_says_what_is_wrong_with_it(tmp_path, records, message):
    path = raw_trace(tmp_path, "bad", *records)
    offset = len(prelude_bytes()) + len(frame(header_payload()))
    for command in READING_COMMANDS:
        result = run_orion(command, path)
        assert result.returncode == 2, (command, result.stderr)
        # the records whose columns the reader checks are named by their index too
        assert result.stderr in (f"orion: error: {path}: corrupt record {at}in frame at byte "
                                 f"{offset} {message}\n" for at in ("", "1 ")), command


@pytest.mark.parametrize("records,message", [
    ([LANE, [C.EXCEPTION, 5, 0, 7, None, "m", 1]], "unknown exception kind 7"),
    ([[C.FUNCTION, 0, 12, None, None, 1]], "reference to undefined string 12"),
], ids=["exception-kind", "string-id"])
def test_a_record_that_does_not_decode_names_the_file(tmp_path, records, message):
    """cat decodes records itself: its errors name the file as show's do."""
    path = raw_trace(tmp_path, "bad", *records)
    for command in ("cat", "show"):
        result = run_orion(command, path)
        assert result.returncode == 2, (command, result.stderr)
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"orion: error: {path}: "), lines
        assert message in lines[0], (command, lines)
    result = run_orion("cat", "--type", "call", path)  # strings still go through the decoder
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr


@pytest.mark.parametrize("args", [["list"], ["run", "--", "true"]])
def test_a_spool_under_a_regular_file_is_a_one_line_error(tmp_path, args):
    from ..conftest import run_orion

    (tmp_path / "afile").write_text("")
    done = run_orion("--spool", str(tmp_path / "afile" / "spool"), *args)
    assert done.returncode == 2
    assert done.stderr == f"orion: error: cannot read the spool {tmp_path}/afile/spool: Not a directory\n"


def test_a_fifo_given_by_path_is_refused_not_waited_on(tmp_path):
    """Opening a FIFO for reading blocks until some writer comes: never do it."""
    import os

    fifo = tmp_path / "pipe.otrace"
    os.mkfifo(fifo)
    for args in (["cat"], ["show"], ["validate"], ["export", "-o", str(tmp_path / "x.json"),
                                                  "--format", "chrome"], ["import"]):
        result = run_orion(*args, str(fifo), timeout=20)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.count("\n") == 1, (args, result.stderr)
        assert f"{fifo}: not a regular file (a FIFO, socket or device)" in result.stderr
