"""Node.js: detected by package.json; its agent (a NODE_OPTIONS loader) is still to come."""

from __future__ import annotations

from pathlib import Path

from . import Runtime, Toolchain


class NodeRuntime(Runtime):
    name = "node"
    languages = ("node",)
    title = {"node": "Node.js"}
    markers = {"node": ("package.json",)}
    toolchains = {"node": Toolchain(("node",), "install Node.js (https://nodejs.org)")}

    def test_command(self, root: Path, language: str) -> list[str]:
        return ["npm", "test"]


RUNTIME = NodeRuntime()
