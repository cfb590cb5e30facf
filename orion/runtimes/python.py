"""Python: the agent starts in every Python process through the `_boot` sitecustomize on
PYTHONPATH (or the zero-config .pth of `orion start`); failing pytest tests become traces
through the `orion` pytest plugin."""

from __future__ import annotations

import os
import sys

from . import Capture, Runtime, Toolchain

TYPE_CHECKING = False  # not typing's: its import would cost every `orion run`
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Iterator

    from ..doctor import Check


class PythonRuntime(Runtime):
    name = "python"
    languages = ("python",)
    title = {"python": "Python"}
    markers = {"python": ("pyproject.toml", "setup.py", "setup.cfg", "pytest.ini", "tox.ini",
                          "requirements.txt", "Pipfile")}
    toolchains = {"python": Toolchain(("python3",),
                                      "install Python 3.11+ (https://www.python.org/downloads/)")}
    recorded = "Python programs"

    def detect(self, root: Path) -> set[str]:
        """A marker file, or Python sources at the top or in tests/ (a project of scripts
        with pytest tests and no packaging or pytest configuration is Python too)."""
        if super().detect(root):
            return {"python"}
        for directory in (root, os.path.join(root, "tests"), os.path.join(root, "test")):
            try:
                if any(name.endswith(".py") for name in os.listdir(directory)):
                    return {"python"}
            except OSError:
                continue
        return set()

    def test_command(self, root: Path, language: str) -> list[str] | None:
        return [sys.executable, "-m", "pytest", "-q"]

    def next_step(self, root: Path, language: str) -> str:
        return ("run `orion test -- pytest` for a trace per failing test, or "
                "`orion run -- python app.py` to trace a program")

    def apply(self, capture: Capture, env: dict[str, str]) -> None:
        from ..agent.config import AgentConfig
        from ..agent.launch import agent_env

        config = AgentConfig.from_env(
            capture.base, mode=capture.mode, include_modules=list(capture.include) or None,
            exclude_modules=list(capture.exclude) or None, spool=capture.spool,
            sample=capture.sample, report=capture.report)
        traced = agent_env(config, env)
        env.clear()
        env.update(traced)

    def recover(self, reported: list[str]) -> tuple[list[str], list[str]]:
        """The agents' crash sidecars (`.<trace id>.<pid>.fault`, each reported as its
        process starts; most are gone, removed by a clean exit)."""
        sidecars = [path for path in reported if path.endswith(".fault")]
        if not sidecars:
            return [], []
        from ..agent.crashes import recover

        return recover(sidecars), sidecars

    def describe(self) -> str:
        from ..agent import hook_kind

        return f"{hook_kind()} hook"

    def doctor_checks(self, used: set[str]) -> Iterator[Check]:
        from importlib.metadata import entry_points

        from ..agent import hook_kind
        from ..doctor import FAIL, OK, WARN, Check

        if hook_kind() == "c":
            import platform

            from ..agent import _hook

            yield Check("agent hook", OK, f"C hook (orion.agent._hook) built: {_hook.HOOK} "
                        f"on {platform.python_implementation()} {platform.python_version()}")
        else:
            yield Check("agent hook", WARN, "pure-Python hook only (sys.settrace: slower, and "
                        "blind to threads already running when tracing starts and to the exit "
                        "status of untraced `python -m` tools)",
                        "reinstall with a C compiler present: pip install --force-reinstall -e .")
        if any(ep.name == "orion" for ep in entry_points(group="pytest11")):
            yield Check("pytest plugin", OK, "registered (pytest --orion)")
        else:
            yield Check("pytest plugin", FAIL, "the pytest11 entry point `orion` is missing",
                        "reinstall the package: pip install -e .")
        yield from super().doctor_checks(used)

    def switch(self, on: bool, mode: str, spool: str | None, ring: str | None,
               site: str | None) -> str:
        from ..agent.launch import switch

        path = switch(on, mode, spool, site, ring)
        return f"new Python processes (hook {path})"


RUNTIME = PythonRuntime()
