"""Which installed distributions provide which top-level modules, cached on disk.

`importlib.metadata` answers by parsing every installed distribution's metadata: 0.1-0.2 s
with a hundred packages, paid by every traced process when it writes its trace. The answer
only changes when a distribution is installed, upgraded or removed, which adds or removes a
`name-version.dist-info` directory, so the answer is kept in the user's cache under the
list of those names and recomputed when it changes (a directory listing per sys.path
entry: well under a millisecond).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ..cachedir import cache_dir


@dataclass(frozen=True)
class Installed:
    """modules: top-level module -> [(distribution, version)]; editable: PEP 610 editable
    installs as (distribution, version, source directory)."""

    modules: dict[str, list[tuple[str, str]]]
    editable: list[tuple[str, str, str]]


def installed() -> Installed:
    """What this interpreter's sys.path holds, from the cache when nothing moved."""
    stamp = _path_stamp()
    cache = cache_dir("distributions") / (
        hashlib.sha256(repr((sys.executable, [p for p, _ in stamp])).encode()).hexdigest()[:16]
        + ".json")
    try:
        stored = json.loads(cache.read_text())
        if stored["stamp"] == stamp:
            return Installed({m: [tuple(d) for d in ds] for m, ds in stored["modules"].items()},
                             [tuple(e) for e in stored["editable"]])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    found = _scan()
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps({"stamp": stamp, "modules": found.modules,
                                       "editable": found.editable}))
        os.replace(partial, cache)
    except OSError:
        pass  # a read-only home: the answer is still right, only not kept
    return found


def _path_stamp() -> list[list]:
    """[directory, [its distributions' metadata directories]] for each sys.path entry:
    what an install, upgrade or removal changes (mtimes would also move with any file a
    program writes next to its script)."""
    stamp = []
    for entry in sys.path:
        try:
            with os.scandir(entry or os.curdir) as listing:
                names = sorted(item.name for item in listing
                               if item.name.endswith(_METADATA_SUFFIXES))
        except OSError:
            continue
        stamp.append([entry, names])
    return stamp


_METADATA_SUFFIXES = (".dist-info", ".egg-info", ".egg-link")


def _scan() -> Installed:
    from importlib import metadata
    from urllib.parse import unquote

    versions: dict[str, str] = {}
    editable: list[tuple[str, str, str]] = []
    for dist in metadata.distributions():
        try:
            fields = dist.metadata
            name, version = fields["Name"], fields["Version"]
        except (KeyError, TypeError, OSError):
            continue
        if not name or name in versions:
            continue  # the first on sys.path is the one imported
        versions[name] = version
        try:
            url = json.loads(dist.read_text("direct_url.json") or "{}")
            if url.get("dir_info", {}).get("editable") and url["url"].startswith("file://"):
                root = Path(unquote(url["url"][len("file://"):])).resolve()
                editable.append((name, version, str(root)))
        except (ValueError, KeyError, TypeError, AttributeError, OSError):
            continue
    modules = {module: [(dist, versions[dist]) for dist in dists if dist in versions]
               for module, dists in metadata.packages_distributions().items()}
    return Installed(modules, editable)
