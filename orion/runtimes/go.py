"""Go: detected by go.mod; its agent (build-time instrumentation) is still to come."""

from __future__ import annotations

from pathlib import Path

from . import Runtime, Toolchain


class GoRuntime(Runtime):
    name = "go"
    languages = ("go",)
    title = {"go": "Go"}
    markers = {"go": ("go.mod",)}
    toolchains = {"go": Toolchain(("go",), "install Go (https://go.dev/dl/)")}

    def test_command(self, root: Path, language: str) -> list[str]:
        return ["go", "test", "./..."]


RUNTIME = GoRuntime()
