"""The runtime seam: every language has one home in orion/runtimes/, and the commands loop
over the runtimes instead of naming a language."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import orion
from orion import runtimes as seam
from orion.runtimes import Capture, capture_environ, detect_languages, languages, runtime_of, runtimes

COMMANDS = Path(orion.__file__).parent / "commands"
# What only a runtime module may import: the language agents' own launch code.
LANGUAGE_MODULES = ("orion.native", "orion.agent.launch", "orion.agent.crashes")


def test_every_language_has_exactly_one_runtime():
    assert languages() == ("python", "c", "cpp", "go", "rust", "node", "java")
    for lang in languages():
        assert sum(lang in r.languages for r in runtimes()) == 1
        assert runtime_of(lang).title[lang]
    with pytest.raises(KeyError):
        runtime_of("cobol")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):  # relative to orion.commands
            package = ["orion", "commands"][:max(0, 2 - node.level + 1)] if node.level else []
            base = ".".join(package + ([node.module] if node.module else []))
            found += [base] + [f"{base}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return found


@pytest.mark.parametrize("path", sorted(COMMANDS.glob("*.py")), ids=lambda p: p.name)
def test_commands_reach_languages_only_through_the_runtimes(path):
    imported = _imports(path)
    assert not [name for name in imported if name.startswith(LANGUAGE_MODULES)]
    assert "orion.agent" not in imported and "orion.agent.hook_kind" not in imported


@pytest.mark.parametrize("files, expected", [
    ({"pyproject.toml": ""}, ["python"]),
    ({"go.mod": "module x\n", "package.json": "{}"}, ["go", "node"]),
    ({"Makefile": "", "src/main.c": "", "src/util.hpp": ""}, ["c", "cpp"]),
    ({"Makefile": ""}, []),  # a build file alone names no language
    ({"build.gradle": ""}, ["java"]),
    ({"test_app.py": ""}, ["python"]),  # scripts and pytest files, no packaging
    ({"tests/test_app.py": "", "README.md": ""}, ["python"]),
    ({"README.md": "", "docs/conf.py": ""}, []),
])
def test_detection_goes_through_each_runtime(tmp_path, files, expected):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert detect_languages(tmp_path) == expected


def test_test_commands_per_language(tmp_path):
    assert seam.test_command(tmp_path, "go") == ["go", "test", "./..."]
    assert seam.test_command(tmp_path, "java") == ["mvn", "-q", "test"]
    (tmp_path / "build.gradle").write_text("")
    assert seam.test_command(tmp_path, "java") == ["gradle", "test"]
    assert seam.test_command(tmp_path, "c") is None


def test_the_capture_environment_is_what_each_runtime_adds(tmp_path):
    base = {"PATH": "/usr/bin:/bin", "PYTHONPATH": "/mine", "ORION_INCLUDE": "stale"}
    env = capture_environ(Capture(mode="dev", spool=str(tmp_path), include=("shop",),
                                  report=str(tmp_path / "report"), base=base))
    assert env["ORION_MODE"] == "dev" and env["ORION_SPOOL"] == str(tmp_path)
    assert env["ORION_REPORT"] == str(tmp_path / "report")
    assert env["ORION_INCLUDE"] == "shop"  # the Python runtime's, not the stale one
    assert env["PYTHONPATH"].endswith(":/mine")  # the Python agent's boot directory first
    assert env["PATH"] == "/usr/bin:/bin"
    assert base == {"PATH": "/usr/bin:/bin", "PYTHONPATH": "/mine", "ORION_INCLUDE": "stale"}
