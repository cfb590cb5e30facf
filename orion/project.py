"""A project's `.orion/` directory: which languages the project uses, and setting it up.

`orion init` plans its work first (a list of steps) and then applies it, so `--dry-run`
shows exactly what a real run would do and a second run finds nothing left to do.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .config import CONFIG_NAME, KNOWN_KEYS, dumps_toml
from .errors import OrionError
from .spool import PROJECT_DIR_NAME

LANGUAGES = ("python", "c", "cpp", "go", "rust", "node", "java")
GITIGNORE_ENTRY = f"{PROJECT_DIR_NAME}/"

# Marker files that name a language on their own.
_MARKERS: dict[str, tuple[str, ...]] = {
    "python": ("pyproject.toml", "setup.py", "setup.cfg"),
    "rust": ("Cargo.toml",),
    "go": ("go.mod",),
    "node": ("package.json",),
    "java": ("pom.xml", "build.gradle", "build.gradle.kts"),
}
# How each language's tests run (Java: Maven; Gradle when its build file is there).
TEST_COMMANDS: dict[str, list[str]] = {
    "python": [sys.executable, "-m", "pytest", "-q"],
    "rust": ["cargo", "test"],
    "go": ["go", "test", "./..."],
    "node": ["npm", "test"],
    "java": ["mvn", "-q", "test"],
}
_GRADLE_BUILD = ("build.gradle", "build.gradle.kts")
# Build files that mean C or C++ only when sources of that language are there too.
_NATIVE_BUILD = ("CMakeLists.txt", "Makefile", "makefile", "GNUmakefile", "meson.build")
_C_SUFFIXES = frozenset({".c"})
_CPP_SUFFIXES = frozenset({".cpp", ".cc", ".cxx", ".c++", ".hpp", ".hh", ".hxx"})
_SKIP_DIRS = frozenset({".git", ".hg", ".svn", PROJECT_DIR_NAME, "node_modules", "target",
                        "build", "dist", "venv", ".venv", "__pycache__", ".tox", "vendor"})
_SCAN_DEPTH = 3
_SCAN_FILES = 5000


def _native_sources(root: Path) -> set[str]:
    """"c" and/or "cpp" when such source files are near the top of the tree (bounded walk)."""
    found: set[str] = set()
    seen = 0
    for directory, dirs, files in os.walk(root):
        depth = len(Path(directory).relative_to(root).parts)
        dirs[:] = [] if depth >= _SCAN_DEPTH else sorted(d for d in dirs if d not in _SKIP_DIRS)
        for name in files:
            suffix = os.path.splitext(name)[1].lower()
            if suffix in _C_SUFFIXES:
                found.add("c")
            elif suffix in _CPP_SUFFIXES:
                found.add("cpp")
            seen += 1
        if len(found) == 2 or seen > _SCAN_FILES:
            break
    return found


def detect_languages(root: Path) -> list[str]:
    """The languages of the project at `root`, in LANGUAGES order."""
    found = {lang for lang, names in _MARKERS.items()
             if any((root / name).is_file() for name in names)}
    if any((root / name).is_file() for name in _NATIVE_BUILD):
        found |= _native_sources(root)
    return [lang for lang in LANGUAGES if lang in found]


def test_command(root: Path, language: str) -> list[str] | None:
    """How the project at `root` runs its `language` tests; None when there is no known way."""
    if language == "java" and any((root / name).is_file() for name in _GRADLE_BUILD):
        return ["./gradlew", "test"] if (root / "gradlew").is_file() else ["gradle", "test"]
    command = TEST_COMMANDS.get(language)
    return list(command) if command else None


def project_root(start: Path | None = None) -> Path:
    """Where `.orion/` belongs: the top of the git working tree, else the directory itself."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / ".git").exists():
            return directory
    return here


def default_config(mode: str) -> dict:
    """The tables of a new project `config.toml`: mode, include/exclude and redaction."""
    return {
        "capture": {
            "mode": KNOWN_KEYS["capture.mode"].check(mode),
            "include": list(KNOWN_KEYS["capture.include"].default),
            "exclude": list(KNOWN_KEYS["capture.exclude"].default),
        },
        "redact": {"names": list(KNOWN_KEYS["redact.names"].default)},
    }


@dataclass(frozen=True)
class Step:
    """One change `orion init` makes: `describe` is what a person reads."""

    describe: str
    apply: Callable[[], None]


def _has_ignore_entry(text: str) -> bool:
    wanted = {PROJECT_DIR_NAME, GITIGNORE_ENTRY, "/" + PROJECT_DIR_NAME, "/" + GITIGNORE_ENTRY}
    return any(line.strip() in wanted for line in text.splitlines())


def plan_init(root: Path, mode: str) -> list[Step]:
    """What is missing for `root` to be an orion project; empty when nothing is."""
    project = root / PROJECT_DIR_NAME
    spool = project / "spool"
    config = project / CONFIG_NAME
    ignore = root / ".gitignore"
    steps: list[Step] = []
    if not spool.is_dir():
        steps.append(Step(f"create {spool}", lambda: spool.mkdir(parents=True, exist_ok=True)))
    if not config.exists():
        text = dumps_toml(default_config(mode))
        steps.append(Step(f"write {config} (capture.mode = {mode!r}, include, exclude, "
                          f"redact.names)", lambda: _write_new(config, text)))
    current = ignore.read_text(encoding="utf-8") if ignore.is_file() else ""
    if not _has_ignore_entry(current):
        def add_ignore() -> None:
            separator = "" if not current or current.endswith("\n") else "\n"
            with open(ignore, "a", encoding="utf-8") as f:
                f.write(f"{separator}{GITIGNORE_ENTRY}\n")

        steps.append(Step(f"add {GITIGNORE_ENTRY} to {ignore}", add_ignore))
    return steps


def _write_new(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(path, "x", encoding="utf-8") as f:
            f.write(text)
    except FileExistsError:
        pass  # another init got there first: keep its file
    except OSError as exc:
        raise OrionError(f"cannot write {path}: {exc.strerror or exc}") from None


def apply_steps(steps: list[Step]) -> None:
    for step in steps:
        try:
            step.apply()
        except OSError as exc:
            raise OrionError(f"cannot {step.describe}: {exc.strerror or exc}") from None


def _native_snippet() -> str:
    """How to build C/C++ with the agent, as the native agent's support code says it."""
    try:
        from .native.launch import flags_text
    except ImportError:  # a build without the native agent's support code
        return ("compile with -finstrument-functions -g, then `orion run -- ./your-program`")
    return flags_text().rstrip("\n")


def _later_agent(language: str) -> Callable[[Path], str]:
    """The next step for a language whose agent is still to come: its test command."""
    names = {"go": "Go", "rust": "Rust", "node": "Node.js", "java": "Java"}

    def text(root: Path) -> str:
        command = shlex.join(test_command(root, language) or [])
        return f"`orion test -- {command}` once the {names[language]} agent is installed"

    return text


NEXT_STEPS: dict[str, Callable[[Path], str]] = {
    "python": lambda root: "run `orion test -- pytest` for a trace per failing test, or "
                           "`orion run -- python app.py` to trace a program",
    "c": lambda root: _native_snippet(),
    "cpp": lambda root: _native_snippet(),
    **{language: _later_agent(language) for language in ("go", "rust", "node", "java")},
}


def next_steps(root: Path, languages: list[str]) -> list[tuple[str, str]]:
    """(language, what to do next) for each detected language; C and C++ share one text."""
    steps: list[tuple[str, str]] = []
    for lang in languages:
        text = NEXT_STEPS[lang](root)
        same = next((other for other, seen in steps if seen == text), None)
        steps.append((lang, f"as for {same} above" if same else text))
    return steps
