"""Rust: detected by Cargo.toml. Rust has no run-time hook, so a crate records when cargo
builds it under `orion run` / `orion test`: RUSTC_WRAPPER makes every rustc call go through
the agent's `orion-rustc`, which compiles the packages cargo was asked for (and the
dependencies `--include` names) from an instrumented copy of their sources, linked with the
runtime crate (agents/rust). CARGO_TARGET_DIR keeps those builds out of the user's target/;
the user's files, Cargo.toml and Cargo.lock are never written."""

from __future__ import annotations

import os
import sys
from collections import namedtuple

from ..cachedir import cache_dir as user_cache_dir
from ..cachedir import sources_digest
from ..errors import OrionError
from . import Capture, Runtime, Toolchain, find_upwards, which

# Not subprocess, shutil nor pathlib at the top (see orion.runtimes.which): in the functions
# that build or instrument Rust code, which only a command run in a cargo package calls.
TYPE_CHECKING = False  # not typing's: its import would cost every `orion run`
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Iterator

    from ..doctor import Check

_BUILD_TIMEOUT = 900  # a cold build fetches and compiles syn and zstd's C sources


class RustAgentError(OrionError):
    """The Rust agent cannot be built here."""


class RustAgent(namedtuple("RustAgent", ["wrapper", "runtime"])):
    """wrapper: orion-rustc, the RUSTC_WRAPPER; runtime: the orion crate's rlib, linked into
    instrumented crates (both Paths)."""

    __slots__ = ()


def agent_dir() -> Path:
    """The agent's cargo workspace (agents/rust in a checkout or editable install)."""
    from ..native.build import agents_dir

    return agents_dir() / "rust"


def cache_dir() -> Path:
    return user_cache_dir("rust")


def _digest(agent: Path, cwd: str | Path) -> str:
    """A digest of the agent's sources and of the toolchain cargo picks in `cwd` (rustup may
    pick another per project): each gets its own build, as rlibs only link with their own
    compiler. Build outputs (`target/`) and the examples are never walked: every `orion run`
    in a Rust project computes this."""
    import subprocess
    import zlib
    from pathlib import Path

    files = []
    for directory, subdirectories, names in os.walk(agent):
        subdirectories[:] = sorted(d for d in subdirectories if d not in ("target", "examples"))
        files += [Path(directory, name) for name in sorted(names)
                  if name.endswith(".rs") or name in ("Cargo.toml", "Cargo.lock")]
    version = subprocess.run(["rustc", "-vV"], cwd=cwd, capture_output=True, text=True,
                             timeout=60).stdout
    return f"{sources_digest(agent, files)}{zlib.crc32(version.encode()):08x}"


def build_agent(cwd: str | Path) -> RustAgent:
    """orion-rustc and the runtime crate, built into the cache on first use (again when the
    agent's sources or the toolchain change), with the toolchain cargo picks in `cwd`."""
    import json
    import subprocess
    from pathlib import Path

    agent = agent_dir()
    if not (agent / "Cargo.toml").is_file():
        raise RustAgentError(f"the Rust agent's sources are not in {agent} (set "
                             f"ORION_AGENT_SRC to an agents/ directory)")
    cargo = which("cargo")
    if cargo is None:
        raise RustAgentError("cargo is not on PATH; install Rust with rustup (https://rustup.rs)")
    target = cache_dir() / f"agent-{_digest(agent, cwd)}"
    built = target / "built.json"
    try:
        paths = json.loads(built.read_text())
        ready = RustAgent(Path(paths["wrapper"]), Path(paths["runtime"]))
        if ready.wrapper.is_file() and ready.runtime.is_file():
            return ready
    except (OSError, ValueError, KeyError, TypeError):
        pass
    sys.stderr.write("orion: building the Rust agent (once per agent version and toolchain; "
                     "a minute or more)\n")
    env = {k: v for k, v in os.environ.items() if k not in ("RUSTC_WRAPPER", "CARGO_TARGET_DIR",
                                                             "RUSTFLAGS", "CARGO_BUILD_TARGET")}
    command = [cargo, "build", "--release", "--locked", "-p", "orion", "-p", "orion-rustc",
               "--manifest-path", str(agent / "Cargo.toml"), "--target-dir", str(target),
               "--message-format", "json-render-diagnostics"]
    try:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=_BUILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise RustAgentError(f"building the Rust agent took over {_BUILD_TIMEOUT} s") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["cargo build failed"])[-1]
        raise RustAgentError(f"the Rust agent does not build: {last}")
    wrapper = runtime = None
    for line in done.stdout.splitlines():
        message = json.loads(line)
        if message.get("reason") != "compiler-artifact":
            continue
        if message["target"]["name"] == "orion-rustc":
            wrapper = message.get("executable")
        elif message["target"]["name"] == "orion":
            # The rlib next to its dependencies (deps/), where rustc finds the proc-macro.
            runtime = next((str(Path(f).with_suffix(".rlib")) for f in message["filenames"]
                            if f.endswith(".rmeta")), None)
    if not wrapper or not runtime:
        raise RustAgentError("cargo built the Rust agent but did not name its artifacts")
    built.write_text(json.dumps({"wrapper": wrapper, "runtime": runtime}))
    return RustAgent(Path(wrapper), Path(runtime))


def target_dir(agent: RustAgent, root: str | Path) -> Path:
    """The instrumented builds' target directory for the package at `root`: one per agent
    build, as cargo does not know that its crates link the agent's runtime."""
    import hashlib

    return agent.wrapper.parents[1] / "builds" / hashlib.sha256(str(root).encode()).hexdigest()[:16]


class RustRuntime(Runtime):
    name = "rust"
    languages = ("rust",)
    title = {"rust": "Rust"}
    markers = {"rust": ("Cargo.toml",)}
    toolchains = {"rust": Toolchain(("cargo",), "install Rust with rustup (https://rustup.rs)")}
    recorded = "Rust built by cargo under orion"

    def test_command(self, root: Path, language: str) -> list[str]:
        return ["cargo", "test"]

    def next_step(self, root: Path, language: str) -> str:
        return ("`orion run -- cargo run` records the crate's calls with their arguments, its "
                "threads and panics; `orion test -- cargo test` writes a trace per failing "
                "test; or add the orion crate and `#[orion::trace]` (see docs/rust.md)")

    def apply(self, capture: Capture, env: dict[str, str]) -> None:
        """Give the cargo of the package around the working directory an instrumented build;
        when the agent cannot be built, the command runs as it is, with a one-line note."""
        root = find_upwards(os.getcwd(), "Cargo.toml")
        if root is None or which("cargo") is None:
            return
        from subprocess import TimeoutExpired

        try:
            agent = build_agent(root)
        except (RustAgentError, OSError, ValueError, TimeoutExpired) as exc:
            sys.stderr.write(f"orion: Rust code in {root} is not instrumented: {exc}\n")
            return
        env["RUSTC_WRAPPER"] = str(agent.wrapper)
        env["ORION_RUST_RUNTIME"] = str(agent.runtime)
        env["CARGO_TARGET_DIR"] = str(target_dir(agent, root))
        # Doctests are compiled by rustdoc, which cargo does not run through RUSTC_WRAPPER:
        # it links the instrumented crate and must find the runtime that crate depends on.
        search = f"-L dependency={agent.runtime.parent}"
        env["RUSTDOCFLAGS"] = " ".join(filter(None, [env.get("RUSTDOCFLAGS", ""), search]))
        if capture.include:
            env["ORION_RUST_INCLUDE"] = ",".join(capture.include)

    def describe(self) -> str:
        return "Rust crates built by cargo through RUSTC_WRAPPER (orion-rustc)"

    def doctor_checks(self, used: set[str]) -> Iterator[Check]:
        from ..doctor import FAIL, OK, Check

        yield from super().doctor_checks(used)
        if "rust" not in used or which("cargo") is None:
            return  # building the agent takes a minute: only for a project that uses Rust
        from subprocess import TimeoutExpired

        try:
            agent = build_agent(os.getcwd())
        except (RustAgentError, OSError, TimeoutExpired) as exc:
            yield Check("rust agent", FAIL, str(exc),
                        "check that crates.io is reachable (cargo fetch in agents/rust)")
        else:
            yield Check("rust agent", OK, str(agent.wrapper))

    def switch(self, on: bool, mode: str, spool: str | None, ring: str | None,
               site: str | None) -> None:
        if on and which("cargo"):
            sys.stderr.write("orion: Rust is not covered by `orion start`: a Rust program "
                             "records only when built under `orion run -- cargo run|build|test "
                             "...` or when it uses #[orion::trace]\n")
        return None


RUNTIME = RustRuntime()
