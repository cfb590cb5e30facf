"""The installed-distributions index a trace's `distributions` come from: kept in the
user's cache, recomputed when a package is installed or removed."""

from __future__ import annotations

import json
import marshal
import os
import subprocess
import sys
from pathlib import Path

PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
from orion.agent.distributions import installed
found = installed()
print(json.dumps({"modules": {m: found.modules[m] for m in ("foo", "bar") if m in found.modules}}))
"""


def add_distribution(site: Path, name: str, version: str) -> None:
    info = site / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "top_level.txt").write_text(f"{name}\n")
    (site / name).mkdir()
    (site / name / "__init__.py").write_text("")


def probe(site: Path, cache: Path) -> dict:
    env = dict(os.environ, XDG_CACHE_HOME=str(cache))
    out = subprocess.run([sys.executable, "-c", PROBE, str(site)], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)["modules"]


def test_the_index_is_cached_and_follows_installs(tmp_path):
    site, cache = tmp_path / "site", tmp_path / "cache"
    site.mkdir()
    add_distribution(site, "foo", "1.0")
    assert probe(site, cache) == {"foo": [["foo", "1.0"]]}
    [stored] = [path for path in (cache / "orionis" / "distributions").glob("*.marshal")
                if marshal.loads(path.read_bytes())["path"] == str(site)]

    # Unchanged sys.path: the answer is read back from the cache, not recomputed.
    data = marshal.loads(stored.read_bytes())
    data["distributions"] = [["foo", "from-the-cache", ["foo"], None]]
    stored.write_bytes(marshal.dumps(data))
    assert probe(site, cache) == {"foo": [["foo", "from-the-cache"]]}

    # A file written beside the program changes nothing; installing a package does.
    (site / "output.txt").write_text("written by the program")
    assert probe(site, cache) == {"foo": [["foo", "from-the-cache"]]}
    add_distribution(site, "bar", "2.0")
    assert probe(site, cache) == {"foo": [["foo", "1.0"]], "bar": [["bar", "2.0"]]}


def test_a_cache_that_cannot_be_written_still_answers(tmp_path):
    site, cache = tmp_path / "site", tmp_path / "cache"
    site.mkdir()
    add_distribution(site, "foo", "1.0")
    cache.write_text("a file where the cache directory should be")
    assert probe(site, cache) == {"foo": [["foo", "1.0"]]}


def test_the_index_agrees_with_importlib_metadata(tmp_path, monkeypatch):
    """On this interpreter's real site-packages: the same distributions for every
    top-level module as importlib.metadata.packages_distributions()."""
    from importlib import metadata

    from orion.agent.distributions import installed

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    expected = {module: set(dists) for module, dists in metadata.packages_distributions().items()
                if module.isidentifier()}
    for attempt in ("computed", "cached"):
        found = {module: {name for name, _ in dists} for module, dists in installed().modules.items()}
        assert {m: d for m, d in found.items() if m in expected} == \
            {m: d for m, d in expected.items() if m in found}, attempt
        assert set(expected) - set(found) == set(), attempt
