"""`orion init`: language detection on sample projects, idempotence, --dry-run."""

from __future__ import annotations

import tomllib

import pytest
from click.testing import CliRunner

from orion.cli import cli
from orion.config import load_config

SAMPLES = {
    "python": {"pyproject.toml": "[project]\nname = 'x'\n", "x.py": "print(1)\n"},
    "rust": {"Cargo.toml": "[package]\nname = 'x'\n", "src/main.rs": "fn main() {}\n"},
    "go": {"go.mod": "module example.com/x\n", "main.go": "package main\n"},
    "node": {"package.json": "{}\n", "index.js": "console.log(1)\n"},
    "java": {"pom.xml": "<project/>\n", "src/main/java/A.java": "class A {}\n"},
    "c": {"Makefile": "all:\n", "src/main.c": "int main(void){return 0;}\n"},
    "cpp": {"CMakeLists.txt": "project(x CXX)\n", "main.cpp": "int main(){}\n"},
}


def make_project(root, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def snapshot(root) -> dict:
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(root.rglob("*"))}


def init(*args: str):
    return CliRunner().invoke(cli, ["init", *args])


@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_detects_each_language_and_twice_changes_nothing(tmp_path, language):
    make_project(tmp_path, SAMPLES[language])
    first = init(str(tmp_path))
    assert first.exit_code == 0, first.output
    assert f"languages: {language}\n" in first.output
    assert f"next ({language}):" in first.output
    assert (tmp_path / ".orion" / "spool").is_dir()
    assert ".orion/" in (tmp_path / ".gitignore").read_text().splitlines()
    before = snapshot(tmp_path)
    second = init(str(tmp_path))
    assert second.exit_code == 0
    assert "nothing to do" in second.output
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("files, command", [
    ({"pom.xml": "<project/>\n"}, "mvn -q test"),
    ({"build.gradle": "plugins {}\n"}, "gradle test"),
    ({"build.gradle.kts": "plugins {}\n", "gradlew": "#!/bin/sh\n"}, "./gradlew test"),
])
def test_java_next_step_names_the_build_tool(tmp_path, files, command):
    make_project(tmp_path, files)
    assert f"next (java): `orion test -- {command}`" in init(str(tmp_path)).output


def test_a_makefile_without_sources_is_not_c(tmp_path):
    make_project(tmp_path, {"Makefile": "all:\n", "README": "docs\n"})
    assert "languages: none detected" in init(str(tmp_path)).output


def test_mixed_project_and_config_is_read_back(tmp_path):
    make_project(tmp_path, {**SAMPLES["python"], **SAMPLES["c"], **SAMPLES["cpp"]})
    result = init(str(tmp_path), "--mode", "error")
    assert "languages: python, c, cpp\n" in result.output
    tables = tomllib.loads((tmp_path / ".orion" / "config.toml").read_text())
    assert tables["capture"]["mode"] == "error"
    assert "password" in tables["redact"]["names"]
    assert load_config(tmp_path)["capture.mode"] == "error"


def test_dry_run_changes_nothing(tmp_path):
    make_project(tmp_path, SAMPLES["go"])
    before = snapshot(tmp_path)
    result = init(str(tmp_path), "--dry-run")
    assert result.exit_code == 0
    assert "would create" in result.output and "would add .orion/" in result.output
    assert snapshot(tmp_path) == before


def test_keeps_an_existing_gitignore(tmp_path):
    (tmp_path / ".gitignore").write_text("*.pyc")  # no final newline
    init(str(tmp_path))
    assert (tmp_path / ".gitignore").read_text() == "*.pyc\n.orion/\n"
