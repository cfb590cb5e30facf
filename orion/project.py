"""A project's `.orion/` directory: setting it up (which languages it uses: orion.runtimes).

`orion init` plans its work first (a list of steps) and then applies it, so `--dry-run`
shows exactly what a real run would do and a second run finds nothing left to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .config import CONFIG_NAME, KNOWN_KEYS, dumps_toml
from .errors import OrionError
from .runtimes import runtime_of
from .spool import PROJECT_DIR_NAME

GITIGNORE_ENTRY = f"{PROJECT_DIR_NAME}/"


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


def next_steps(root: Path, languages: list[str]) -> list[tuple[str, str]]:
    """(language, what to do next) for each detected language; C and C++ share one text."""
    steps: list[tuple[str, str]] = []
    for lang in languages:
        text = runtime_of(lang).next_step(root, lang)
        same = next((other for other, seen in steps if seen == text), None)
        steps.append((lang, f"as for {same} above" if same else text))
    return steps
