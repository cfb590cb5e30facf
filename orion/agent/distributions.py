"""Which installed distributions provide which top-level modules, cached on disk.

`importlib.metadata` answers by parsing every installed distribution's metadata: 0.1-0.2 s
with a hundred packages, paid by every traced process when it writes its trace. What a
directory on sys.path provides only changes when a distribution in it is installed,
upgraded or removed, which adds or removes a `name-version.dist-info` directory there. So
each such directory's answer is kept in the user's cache (one small file per directory)
under the list of those names, and recomputed when the list changes; checking costs a
directory listing per sys.path entry, well under a millisecond.
"""

from __future__ import annotations

import marshal
import os
import sys
import zlib

from ..cachedir import cache_root

_METADATA_SUFFIXES = (".dist-info", ".egg-info")


class Installed:
    """modules: top-level module -> [(distribution, version)], in sys.path order;
    editable: PEP 610 editable installs as (distribution, version, source directory).
    (A plain class: a traced process imports this module as it ends, and typing's
    NamedTuple or pathlib would cost it more than the lookup.)"""

    __slots__ = ("modules", "editable")

    def __init__(self, modules: dict[str, list[tuple[str, str]]],
                 editable: list[tuple[str, str, str]]) -> None:
        self.modules = modules
        self.editable = editable


def installed() -> Installed:
    """What this interpreter's sys.path provides, from the cache where nothing changed."""
    modules: dict[str, list[tuple[str, str]]] = {}
    editable: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for entry in sys.path:
        for name, version, tops, source in _directory(entry or os.curdir):
            if name in seen:
                continue  # the first on sys.path is the one imported
            seen.add(name)
            for top in tops:
                modules.setdefault(top, []).append((name, version))
            if source is not None:
                editable.append((name, version, source))
    return Installed(modules, editable)


def _directory(entry: str) -> list[list]:
    """[[name, version, [top-level modules], editable source or None]] of the distributions
    installed in one sys.path directory."""
    try:
        with os.scandir(entry) as listing:
            stamp = sorted(item.name for item in listing if item.name.endswith(_METADATA_SUFFIXES))
    except OSError:
        return []
    if not stamp:
        return []
    path = os.path.abspath(entry)
    # marshal, not json or a hash from hashlib: both cost more to import than the lookup.
    directory = cache_root("distributions")
    name = f"{zlib.crc32(path.encode()):08x}-{os.path.basename(path)[:60]}"
    cache = os.path.join(directory, f"{name}.marshal")
    try:
        with open(cache, "rb") as file:
            stored = marshal.loads(file.read())
        if stored["path"] == path and stored["stamp"] == stamp:
            return stored["distributions"]
    except (OSError, ValueError, EOFError, KeyError, TypeError):
        pass
    found = _scan(path)
    try:
        os.makedirs(directory, exist_ok=True)
        partial = os.path.join(directory, f"{name}.{os.getpid()}.tmp")
        with open(partial, "wb") as file:
            file.write(marshal.dumps({"path": path, "stamp": stamp, "distributions": found}))
        os.replace(partial, cache)
    except OSError:
        pass  # a read-only home: the answer is still right, only not kept
    return found


def _scan(path: str) -> list[list]:
    from importlib import metadata

    found = []
    for dist in metadata.distributions(path=[path]):
        try:
            fields = dist.metadata
            name, version = fields["Name"], fields["Version"]
        except (KeyError, TypeError, OSError):
            continue
        if name:
            found.append([name, version, sorted(_top_levels(dist)), _editable_source(dist)])
    return found


def _top_levels(dist) -> set[str]:
    """The importable top-level names a distribution installs: its top_level.txt, else
    the first part of each file it lists (as importlib.metadata.packages_distributions)."""
    declared = (dist.read_text("top_level.txt") or "").split()
    if declared:
        return set(declared)
    names = set()
    for file in dist.files or ():
        parts = file.parts  # a PackagePath: a PurePosixPath
        if len(parts) > 1:
            names.add(parts[0])
        elif file.suffix in (".py", ".so", ".pyd"):
            names.add(parts[0].partition(".")[0])
    return {name for name in names if name.isidentifier()}


def _editable_source(dist) -> str | None:
    """The source directory of a PEP 610 editable install, else None."""
    import json
    from urllib.parse import unquote

    try:
        url = json.loads(dist.read_text("direct_url.json") or "{}")
        if url.get("dir_info", {}).get("editable") and url["url"].startswith("file://"):
            return os.path.realpath(unquote(url["url"][len("file://"):]))
    except (ValueError, KeyError, TypeError, AttributeError, OSError):
        pass
    return None
