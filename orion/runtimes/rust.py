"""Rust: detected by Cargo.toml; its agent (a compiler wrapper) is still to come."""

from __future__ import annotations

from pathlib import Path

from . import Runtime, Toolchain


class RustRuntime(Runtime):
    name = "rust"
    languages = ("rust",)
    title = {"rust": "Rust"}
    markers = {"rust": ("Cargo.toml",)}
    toolchains = {"rust": Toolchain(("cargo",), "install Rust with rustup (https://rustup.rs)")}

    def test_command(self, root: Path, language: str) -> list[str]:
        return ["cargo", "test"]


RUNTIME = RustRuntime()
