"""The catalog: ids looked up among the spool and the given paths; loaded traces bounded."""

from __future__ import annotations

import gc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from orion.serve import catalog as catalog_module
from orion.serve.catalog import Catalog, NotFound
from orion.spool import Spool
from tests.conftest import write_trace
from tests.sample_traces import write_demo_trace


def test_loaded_traces_are_kept_within_a_record_budget(tmp_path, monkeypatch):
    spool = Spool(tmp_path / "spool")
    write_demo_trace(spool)  # 45 records
    write_trace(spool)  # 23 records
    catalog = Catalog(spool)
    demo, small = sorted(catalog.entries(), key=lambda e: e.path.stat().st_size, reverse=True)
    first = catalog.loaded(demo)
    assert catalog.loaded(demo) is first  # loaded once, shared
    monkeypatch.setattr(catalog_module, "KEPT_RECORDS", 50)
    catalog.loaded(small)  # 45 + 23 > 50: the older one goes
    assert catalog.loaded(demo) is not first


def test_lookups_follow_traces_added_and_removed(tmp_path):
    spool = Spool(tmp_path / "spool")
    first = Path(write_trace(spool))
    catalog = Catalog(spool)
    assert catalog.find(first.stem[-32:][:8]).path == first
    second = Path(write_trace(spool))  # written after the listing the lookup keeps
    assert catalog.find(second.stem[-32:]).path == second
    second.unlink()
    with pytest.raises(NotFound):
        catalog.find(second.stem[-32:])
    assert catalog.find(first.stem[-32:]).path == first


def test_the_cycle_collector_is_back_on_after_overlapping_loads(tmp_path):
    spool = Spool(tmp_path / "spool")
    for calls in range(3, 9):
        write_trace(spool, calls=calls)
    catalog = Catalog(spool)
    assert gc.isenabled()
    with ThreadPoolExecutor(4) as pool:  # loads overlap (two at a time: `heavy`)
        loaded = list(pool.map(catalog.loaded, catalog.entries()))
    assert len(loaded) == 6 and gc.isenabled()


@pytest.mark.parametrize("ref", ["", "..", "/etc/passwd", "g" * 4, "a" * 33, "@", "@~1"])
def test_only_hex_ids_are_looked_up(tmp_path, ref):
    spool = Spool(tmp_path / "spool")
    write_trace(spool)
    with pytest.raises(NotFound):
        Catalog(spool).find(ref)
