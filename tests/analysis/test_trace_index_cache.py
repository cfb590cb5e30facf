"""Trace indexes kept on disk (orion/analysis/index_cache.py): an index taken from the
cache replays exactly as one built from the file, and a cache file that is tampered
with, forged, stale or unreadable is never used."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings

from orion.analysis import index_cache, trace_index
from orion.analysis.replay import Replay, ReplayError
from orion.analysis.trace_index import open_indexed, open_replay
from orion.cli import cli
from orion.model import load_trace
from orion.spool import Spool

from ..sample_traces import write_large_trace
from .test_replay import states
from .trees import PROGRAM, write_program


@pytest.fixture(autouse=True)
def python_pass(monkeypatch) -> None:
    """The cache is the Python pass's: the C pass (orion.analysis._index) is faster than
    reading an index back from it, and never uses it."""
    monkeypatch.setenv("ORION_INDEX_PASS", "python")


@pytest.mark.skipif(trace_index._index is None, reason="orion.analysis._index is not built")
def test_the_c_pass_keeps_no_index_on_disk(tmp_path, monkeypatch, trace):
    monkeypatch.delenv("ORION_INDEX_PASS")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(index_cache, "MIN_STEPS", 0)
    steps = open_indexed(trace)
    assert states(Replay(steps.trace, steps))[-60:] == expected(trace)
    assert not (tmp_path / "cache").exists()


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty cache directory, and every index cached whatever its size."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(index_cache, "MIN_STEPS", 0)
    return tmp_path / "cache" / "orionis" / "trace-index"


def cached_files(cache: Path) -> list[Path]:
    return sorted(cache.glob("*.idx"))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(PROGRAM, PROGRAM)
def test_an_index_from_the_cache_replays_as_the_whole_tree(cache, tmp_path_factory, steps,
                                                            other):
    path = tmp_path_factory.mktemp("t") / "t.otrace"
    write_program(path, steps + other, native=len(steps) % 2 == 1)
    try:
        whole = Replay(load_trace(path))
    except ReplayError:
        return
    built = open_indexed(path)
    if built is None:  # left to the whole tree: nothing is cached
        return
    from_cache = open_indexed(path)
    replay = Replay(from_cache.trace, from_cache)
    assert states(replay) == states(whole) == states(Replay(built.trace, built))
    assert [(lane.id, lane.calls) for lane in from_cache.trace.lanes.values()] == [
        (lane.id, lane.calls) for lane in whole.trace.lanes.values()]
    assert from_cache.trace.end_t == whole.trace.end_t


@pytest.fixture
def trace(tmp_path) -> str:
    return write_large_trace(Spool(tmp_path / "spool"), 3000)


def expected(path: str) -> list:
    return states(Replay(load_trace(path)))[-60:]


def test_the_second_open_takes_the_index_from_the_cache(cache, trace):
    first = open_indexed(trace)
    [stored] = cached_files(cache)
    written = stored.stat().st_mtime_ns
    again = open_indexed(trace)
    assert stored.stat().st_mtime_ns == written  # read, not built and written again
    assert states(Replay(again.trace, again))[-60:] == expected(trace) == states(
        Replay(first.trace, first))[-60:]
    assert (cache / "key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("where", [len(index_cache.MAGIC) + 2, 0.5, -1])
def test_a_cache_file_changed_anywhere_is_discarded(cache, trace, where):
    open_indexed(trace)
    [stored] = cached_files(cache)
    data = bytearray(stored.read_bytes())
    at = int(len(data) * where) if isinstance(where, float) else where
    data[at] ^= 0x20
    stored.write_bytes(bytes(data))
    again = open_indexed(trace)  # built from the file, and cached anew
    assert states(Replay(again.trace, again))[-60:] == expected(trace)
    assert index_cache.load(trace) is not None


def test_a_cache_file_made_with_another_key_is_not_used(cache, trace, tmp_path):
    open_indexed(trace)
    key = cache / "key"
    key.chmod(0o600)
    key.write_bytes(os.urandom(32))  # as if the index had been written by someone else
    assert index_cache.load(trace) is None
    assert cached_files(cache) == []  # deleted
    again = open_indexed(trace)
    assert states(Replay(again.trace, again))[-60:] == expected(trace)


def test_a_key_others_can_read_is_never_used(cache, trace):
    open_indexed(trace)
    (cache / "key").chmod(0o644)
    assert index_cache.load(trace) is None
    open_indexed(trace)  # a new key, readable by the user alone, and the index anew
    assert (cache / "key").stat().st_mode & 0o777 == 0o600
    assert index_cache.load(trace) is not None


def test_an_index_of_an_older_version_of_the_trace_is_not_used(cache, tmp_path):
    path = write_large_trace(Spool(tmp_path / "a"), 3000)
    open_indexed(path)
    other = write_large_trace(Spool(tmp_path / "b"), 6000)
    os.replace(other, path)  # the same path, another file
    assert index_cache.load(path) is None
    again = open_indexed(path)
    assert len(again) > 6000 * 2 - 10
    assert states(Replay(again.trace, again))[-60:] == expected(path)


def test_small_traces_are_not_cached(tmp_path, monkeypatch, trace):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    open_indexed(trace)  # 6,000 steps: under MIN_STEPS
    assert not (tmp_path / "cache").exists()


def test_an_unwritable_cache_fails_nothing(tmp_path, monkeypatch, trace):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache directory would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    monkeypatch.setattr(index_cache, "MIN_STEPS", 0)
    steps = open_indexed(trace)
    assert states(Replay(steps.trace, steps))[-60:] == expected(trace)


def test_only_the_newest_indexes_are_kept(cache, tmp_path, monkeypatch):
    monkeypatch.setattr(index_cache, "MAX_FILES", 2)
    paths = [write_large_trace(Spool(tmp_path / f"s{n}"), 300) for n in range(3)]
    for path in paths:
        open_indexed(path)
    assert len(cached_files(cache)) == 2
    assert index_cache.load(paths[0]) is None and index_cache.load(paths[2]) is not None


def test_show_json_and_replay_print_the_same_from_the_cache(cache, trace, tmp_path,
                                                             monkeypatch):
    script = "goto -1\nreverse-step 5\nwhere\nlocals\ngoto 100\nwhere\nlocals\n"

    def outputs() -> tuple[str, str]:
        shown = CliRunner().invoke(cli, ["show", trace, "--json"])
        replayed = CliRunner().invoke(cli, ["replay", trace], input=script)
        assert shown.exit_code == 0 and replayed.exit_code == 0, (shown.output,
                                                                   replayed.output)
        return shown.output, replayed.output

    built = outputs()
    assert len(cached_files(cache)) == 1
    assert outputs() == built  # from the cache
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "elsewhere"))
    monkeypatch.setattr(index_cache, "MIN_STEPS", 10 ** 9)
    assert outputs() == built  # never cached


def test_a_server_does_not_wait_for_the_index_to_be_stored(cache, trace):
    """`orion serve` answers as soon as the index is built; storing it (~0.2 s for a
    million steps) goes on meanwhile. The store is held up here (the file it writes is a
    FIFO that nothing reads yet) and the load returns all the same; reading the FIFO lets
    the store finish."""
    real, _ = index_cache.identity(trace)
    partial = index_cache._file_for(real).with_suffix(f".{os.getpid()}.part")
    partial.parent.mkdir(parents=True)
    os.mkfifo(partial)
    loaded: list[Replay] = []
    loading = threading.Thread(target=lambda: loaded.append(
        open_replay(trace, store_in_background=True)), daemon=True)
    loading.start()
    loading.join(60)
    assert loaded and states(loaded[0]) == states(Replay(load_trace(trace)))
    with open(partial, "rb") as stored:  # what the store writes, once it may
        assert stored.read().startswith(index_cache.MAGIC)
