"""Node.js: detected by package.json. Every Node process a command starts loads the agent
(agents/node, an npm package shipped in this package as runtimes/node-agent) through
NODE_OPTIONS=--require, which instruments the project's own modules as they load. The
agent's npm dependencies are installed on first use into the user's cache (`npm ci` from
its package-lock.json, from npm's own cache when it has them)."""

from __future__ import annotations

import os
import sys

from ..cachedir import cache_dir as user_cache_dir
from ..cachedir import cache_root, sources_digest
from ..errors import OrionError
from . import Capture, Runtime, Toolchain, subprocess_errors, which

# Not subprocess, shutil nor pathlib at the top (see orion.runtimes.which): every `orion run`
# looks for an installed agent (ready_agent, str paths); installing one is for a Node project.
TYPE_CHECKING = False  # not typing's: its import would cost every `orion run`
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Iterator

    from ..doctor import Check

# package data of an installed orion; in a checkout, a link to agents/node
AGENT_SOURCE = os.path.realpath(os.path.join(os.path.dirname(__file__), "node-agent"))
_AGENT_FILES = ("package.json", "package-lock.json")
_INSTALL_TIMEOUT = 300


def _source() -> str:
    return os.environ.get("ORION_NODE_AGENT") or AGENT_SOURCE


def agent_source() -> Path:
    """The agent's npm package: ORION_NODE_AGENT, else the one shipped with orion."""
    from pathlib import Path

    return Path(_source())


def _digest(source: str | Path) -> str:
    """What the installed agent depends on: its files, so an edit gives a fresh install.
    (In pathlib's order, by path components, as always: a new digest means a reinstall.)"""
    lib = os.path.join(source, "lib")
    files = [os.path.join(source, name) for name in _AGENT_FILES]
    files += [os.path.join(lib, name) for name in os.listdir(lib)]
    return sources_digest(source, sorted((path for path in files if os.path.isfile(path)),
                                         key=lambda path: path.split(os.sep)))


def ready_agent() -> str | None:
    """The agent to load, without installing it: the source itself when its dependencies
    are installed there (a developer's checkout), else its copy in the cache, else None."""
    source = _source()
    if not os.path.isfile(os.path.join(source, "lib", "register.js")):
        raise OrionError(f"the Node.js agent is not at {source} (set ORION_NODE_AGENT)")
    if os.path.isdir(os.path.join(source, "node_modules")):
        return source
    target = cache_root("node-agent", _digest(source))
    return target if os.path.isdir(os.path.join(target, "node_modules")) else None


def agent_dir(install: bool = True) -> Path | None:
    """ready_agent's, else (when `install`) a copy of the agent in the cache with `npm ci`
    run once now."""
    from pathlib import Path

    ready = ready_agent()
    if ready is not None or not install:
        return None if ready is None else Path(ready)
    source = agent_source()
    target = user_cache_dir("node-agent", _digest(source))
    import shutil
    import subprocess

    npm = which("npm")
    if npm is None:
        raise OrionError("the Node.js agent needs npm to install its dependencies once")
    print(f"orion: installing the Node.js agent's dependencies into {target} (first use)",
          file=sys.stderr, flush=True)
    staging = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging, ignore=shutil.ignore_patterns("node_modules", "test"))
    done = subprocess.run([npm, "ci", "--omit=dev", "--prefer-offline", "--no-audit", "--no-fund"],
                          cwd=staging, capture_output=True, text=True, timeout=_INSTALL_TIMEOUT)
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        last = (done.stderr.strip().splitlines() or ["npm ci failed"])[-1]
        raise OrionError(f"installing the Node.js agent's dependencies failed: {last}")
    try:
        staging.rename(target)
    except OSError:  # another process installed it meanwhile
        shutil.rmtree(staging, ignore_errors=True)
    return target


def start_settings() -> Path:
    """Where `orion start` leaves the mode and spool for Node processes that load the agent
    through the user's own NODE_OPTIONS (the agent reads it when ORION_MODE is unset)."""
    from pathlib import Path

    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "orionis" / "node-start.json"


def package_path(agent: str | Path) -> str:
    """A directory holding the agent as `orionis-trace` (a link), for NODE_PATH: the manual
    API's `require('orionis-trace')` resolves in a traced program without installing it."""
    import zlib  # a name for the directory, not a digest of anything secret: crc32 will do

    directory = cache_root("node-path", f"{zlib.crc32(str(agent).encode()):08x}")
    link = os.path.join(directory, "orionis-trace")
    if not os.path.islink(link):
        os.makedirs(directory, exist_ok=True)
        try:
            os.symlink(agent, link, target_is_directory=True)
        except FileExistsError:
            pass  # made meanwhile by another process
    return directory


def node_options(existing: str, register: str | Path) -> str:
    """NODE_OPTIONS with the agent required first (once); Node reads double quotes there."""
    path = str(register)
    if any(c.isspace() or c in '"\\' for c in path):
        path = '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'
    option = f"--require {path}"
    if option in existing:
        return existing
    return f"{option} {existing}".strip()


class NodeRuntime(Runtime):
    name = "node"
    languages = ("node",)
    title = {"node": "Node.js"}
    markers = {"node": ("package.json",)}
    toolchains = {"node": Toolchain(("node",), "install Node.js (https://nodejs.org)")}
    recorded = "Node.js"

    def test_command(self, root: Path, language: str) -> list[str]:
        return ["npm", "test"]

    def next_step(self, root: Path, language: str) -> str:
        return ("`orion test -- npm test` records each failing test; `orion run -- node app.js` "
                "a whole run (see docs/node.md)")

    def apply(self, capture: Capture, env: dict[str, str]) -> None:
        if which("node", path=env.get("PATH")) is None:
            return  # nothing here could load the agent
        # The agent's dependencies are installed on first use in a Node project only, so
        # that other commands never wait for npm; a missing agent is doctor's to report.
        try:
            where = agent_dir() if self.detect(os.getcwd()) else ready_agent()
        except (OrionError, OSError, *subprocess_errors()):
            return
        if where is None:
            return
        register = os.path.join(where, "lib", "register.js")
        env["NODE_OPTIONS"] = node_options(env.get("NODE_OPTIONS", ""), register)
        try:
            modules = package_path(where)
        except OSError:
            pass  # the manual API then needs the package installed; recording is unaffected
        else:
            env["NODE_PATH"] = os.pathsep.join(filter(None, (env.get("NODE_PATH"), modules)))
        if capture.include:
            env["ORION_NODE_INCLUDE"] = ",".join(capture.include)
        if capture.exclude:
            env["ORION_NODE_EXCLUDE"] = ",".join(capture.exclude)

    def describe(self) -> str:
        return "Node.js agent loaded through NODE_OPTIONS"

    def switch(self, on: bool, mode: str, spool: str | None, ring: str | None,
               site: str | None) -> str | None:
        """Node has no per-user start-up file: `orion start` records the settings and says
        what to put in NODE_OPTIONS; `orion stop` removes them."""
        settings = start_settings()
        if not on:
            if not settings.exists():
                return None
            settings.unlink()
            return "Node.js processes (take the agent's --require out of NODE_OPTIONS too)"
        try:
            where = agent_dir()
        except (OrionError, OSError, *subprocess_errors()):
            return None
        settings.parent.mkdir(parents=True, exist_ok=True)
        import json

        settings.write_text(json.dumps({"mode": mode, "spool": spool, "ring": ring}) + "\n")
        option = node_options("", where / "lib" / "register.js")
        return (f"Node.js processes once NODE_OPTIONS has the agent (Node has no per-user "
                f"start-up file: add  export NODE_OPTIONS='{option}'  to your shell profile)")

    def doctor_checks(self, used: set[str]) -> Iterator[Check]:
        from ..doctor import FAIL, OK, WARN, Check

        yield from super().doctor_checks(used)
        if which("node") is None:
            return
        try:  # installed now only for a project that uses Node.js
            where = agent_dir(install="node" in used)
        except (OrionError, OSError, *subprocess_errors()) as exc:
            level = FAIL if "node" in used else WARN
            yield Check("node agent", level, str(exc), "install npm, or set ORION_NODE_AGENT")
            return
        if where is None:
            yield Check("node agent", OK, "installed on the first `orion run` in a Node.js project")
            return
        yield Check("node agent", OK, str(where))


RUNTIME = NodeRuntime()
