"""Rust: detected by Cargo.toml. Its agent is the `orion` crate (agents/rust), which a crate
links and calls (`orion::call!`); such a program records under `orion run` / `orion test`
through the environment every agent reads (ORION_SPOOL, ORION_MODE, ORION_REPORT). Zero-code
instrumentation of an unmodified crate (a compiler wrapper) is still to come."""

from __future__ import annotations

from pathlib import Path

from . import Runtime, Toolchain


class RustRuntime(Runtime):
    name = "rust"
    languages = ("rust",)
    title = {"rust": "Rust"}
    markers = {"rust": ("Cargo.toml",)}
    toolchains = {"rust": Toolchain(("cargo",), "install Rust with rustup (https://rustup.rs)")}
    recorded = "Rust using the orion crate"

    def test_command(self, root: Path, language: str) -> list[str]:
        return ["cargo", "test"]

    def next_step(self, root: Path, language: str) -> str:
        return ("add the orion crate (agents/rust/orion) to Cargo.toml, call `orion::call!` in the "
                "functions to trace, then `orion run -- cargo run` (see docs/rust.md)")


RUNTIME = RustRuntime()
