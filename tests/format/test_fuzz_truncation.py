"""A 100,000-call trace cut at sampled offsets: every entry point finishes, in bounded time.

A crashed program leaves a file cut anywhere, and a truncated file is the commonest
malformed input there is. Every command starts with the same library entry points, so
they run in this process on each cut, timed in CPU seconds (which a busy machine does
not inflate): the summary scan that listing and `show` use on 40 cuts, and on a few of
them the call tree `show` draws, the records `cat` decodes, the Chrome export and the
fingerprints, and `validate` on one. Each must end with a result or a TraceError within
BOUND seconds (the whole file takes at most ~3 s, validate, on a 2-core CI machine; most
take well under one). One cut also goes through the real `show` and `cat`.
"""

from __future__ import annotations

import io
import random
import time
from pathlib import Path
from typing import Callable

import pytest

from orion.analysis.fingerprint import fingerprints
from orion.export import FORMATS, export_trace
from orion.format import Decoder, TraceError, TraceReader
from orion.format.summary import read_summary
from orion.format.validate import validate_trace
from orion.model import load_trace
from orion.render.tree import DEFAULT_MAX_LINES, DrawnTree
from orion.spool import Spool

from ..conftest import run_orion
from ..sample_traces import write_large_trace

CUTS = 40
DEEP_CUTS = 2  # of them, through every entry point but validate (the slowest: one cut)
BOUND = 10.0  # CPU seconds any entry point may take on a cut


def _show(path: Path) -> None:
    load_trace(path, prune=DrawnTree(DEFAULT_MAX_LINES))


def _cat(path: Path) -> None:
    with TraceReader(path) as reader:
        decoder = Decoder(str(path))
        for record in reader.records():
            decoder.record(record)


def _export(path: Path) -> None:
    export_trace(path, FORMATS["chrome"], io.BytesIO())


ENTRY_POINTS: dict[str, Callable[[Path], object]] = {
    "summary": read_summary, "show": _show, "cat": _cat, "validate": validate_trace,
    "export": _export, "fingerprint": lambda path: fingerprints(load_trace(path)),
}


def cpu_seconds(entry: Callable[[Path], object], path: Path) -> float:
    """CPU time `entry` takes on `path`; a TraceError is a fine ending."""
    start = time.process_time()
    try:
        entry(path)
    except TraceError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
    return time.process_time() - start


@pytest.fixture(scope="module")
def large(tmp_path_factory) -> bytes:
    path = write_large_trace(Spool(tmp_path_factory.mktemp("large")), 100_000)
    return Path(path).read_bytes()


def test_every_entry_point_finishes_on_every_cut_in_bounded_time(large, tmp_path):
    rng = random.Random(17)
    cuts = sorted(rng.sample(range(1, len(large)), CUTS))
    deep = rng.sample(cuts, DEEP_CUTS)
    slow = []
    for offset in cuts:
        cut = tmp_path / "cut.otrace"
        cut.write_bytes(large[:offset])
        names = ["summary"]
        if offset in deep:
            names += ["show", "cat", "export", "fingerprint"]
        if offset == deep[0]:
            names.append("validate")
        for name in names:
            took = cpu_seconds(ENTRY_POINTS[name], cut)
            if took > BOUND:
                slow.append(f"{name} at byte {offset}: {took:.2f} s")
    assert not slow, slow


def test_show_and_cat_finish_on_a_cut_trace(large, tmp_path):
    """The real commands, as a user runs them on the file a crash left."""
    for fraction in (0.6,):
        cut = tmp_path / f"cut-{fraction}.otrace"
        cut.write_bytes(large[:int(len(large) * fraction)])
        for command in ("show", "cat"):
            result = run_orion(command, str(cut), timeout=120)
            assert result.returncode == 0, (command, fraction, result.stderr)
            assert result.stderr == "" or "incomplete" in result.stderr, result.stderr
