"""Building the C/C++ agent: with a C compiler alone (zstd loaded at run time), at install
time by setup.py, on first use with a note, and `orion doctor` saying why it cannot."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile

from orion.native.build import C_LIBRARY, STAMP, compile_agent, source_digest

from .conftest import COMPILERS, compile_program

ROOT = Path(__file__).resolve().parents[2]
LOOP = r"""
static int step(int i) { return i * 3 + 1; }
int main(void) { int s = 0; for (int i = 0; i < 20000; i++) s += step(i); return s == 7 ? 1 : 0; }
"""


def needed(library: Path) -> list[str]:
    with library.open("rb") as f:
        section = next(s for s in ELFFile(f).iter_sections() if isinstance(s, DynamicSection))
        return [tag.needed for tag in section.iter_tags() if tag.entry.d_tag == "DT_NEEDED"]


def run_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """This environment, with an empty cache for first-use builds."""
    return {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), **extra}


def orion_run(exe: Path, spool: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "orion", "run", "--mode", "dev", "--spool",
                           str(spool), "--", str(exe)], capture_output=True, text=True, env=env,
                          cwd=exe.parent)


def edited_sources(tmp_path: Path) -> Path:
    """A copy of agents/ whose digest differs from what pip install built (as after an
    edit in a checkout)."""
    copy = tmp_path / "agents"
    for sub in ("c", "cpp"):
        shutil.copytree(ROOT / "agents" / sub, copy / sub,
                        ignore=shutil.ignore_patterns("build", "tests"))
    with (copy / "c" / "src" / "frame.c").open("a") as f:
        f.write("/* edited */\n")
    return copy


def test_agent_builds_without_zstd_headers_or_library(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    poisoned = tmp_path / "include"
    poisoned.mkdir()
    (poisoned / "zstd.h").write_text('#error "the agent must not need zstd.h"\n')
    wrapper = tmp_path / "cc"
    wrapper.write_text(f'#!/bin/sh\nexec {COMPILERS[0]} -I{poisoned} "$@"\n')
    wrapper.chmod(0o755)
    out = tmp_path / "lib"
    monkeypatch.setenv("CC", str(wrapper))
    built = compile_agent(ROOT / "agents", out)
    assert C_LIBRARY in built
    assert not [name for name in needed(out / C_LIBRARY) if "zstd" in name]
    assert (out / STAMP).read_text().strip() == source_digest(ROOT / "agents")


def test_without_libzstd_frames_are_raw_blocks(tmp_path: Path, preload_env: dict) -> None:
    exe = compile_program(tmp_path, COMPILERS[0], LOOP)
    sizes = {}
    for library in ("", "none"):
        spool = tmp_path / f"spool-{library or 'zstd'}"
        env = dict(preload_env, ORION_SPOOL=str(spool), ORION_ZSTD_LIBRARY=library)
        assert subprocess.run([str(exe)], env=env).returncode == 0
        (trace,) = spool.glob("*.otrace")
        check = subprocess.run([sys.executable, "-m", "orion", "validate", str(trace)],
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        sizes[library] = trace.stat().st_size
    # 40,000 events: a few bytes each compressed, several times that as raw blocks
    assert sizes["none"] > 3 * sizes[""], sizes


def test_doctor_warns_when_traces_would_be_uncompressed(tmp_path: Path) -> None:
    env = dict(os.environ, ORION_ZSTD_LIBRARY=str(tmp_path / "libzstd.so.1"))
    result = subprocess.run([sys.executable, "-m", "orion", "doctor"], capture_output=True,
                            text=True, env=env, cwd=tmp_path)
    line = next(line for line in result.stdout.splitlines() if "native compression" in line)
    assert line.lower().startswith("warn") and "uncompressed" in line, result.stdout


def test_install_builds_the_agent_and_run_uses_it(tmp_path: Path) -> None:
    """`setup.py build` (what pip install runs) puts the libraries in the package, and
    `orion run` from that package preloads them with no build and no note."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("setup.py", "pyproject.toml", "README.md", "LICENSE", "MANIFEST.in"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "orion", source / "orion",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so", "lib"))
    shutil.copytree(ROOT / "agents", source / "agents", ignore=shutil.ignore_patterns("build"))
    shutil.copytree(ROOT / "bin", source / "bin")  # the `orion` script
    build_lib = tmp_path / "installed"
    result = subprocess.run([sys.executable, "setup.py", "-q", "build", "--build-lib",
                             str(build_lib)], cwd=source, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "built the C/C++ agent: liborion.so, liborion++.so" in result.stdout
    assert (build_lib / "orion" / "native" / "lib" / C_LIBRARY).is_file()

    exe = compile_program(tmp_path, COMPILERS[0], LOOP)
    env = run_env(tmp_path, PYTHONPATH=str(build_lib))
    where = subprocess.run([sys.executable, "-c", "import orion; print(orion.__file__)"],
                           env=env, capture_output=True, text=True, cwd=tmp_path).stdout
    assert where.startswith(str(build_lib))
    ran = orion_run(exe, tmp_path / "spool", env)
    assert ran.returncode == 0, ran.stderr
    assert "building" not in ran.stderr
    assert len(list((tmp_path / "spool").glob("*.otrace"))) == 1
    assert not (tmp_path / "cache").exists()  # nothing built on first use


def test_first_use_build_says_so(tmp_path: Path) -> None:
    exe = compile_program(tmp_path, COMPILERS[0], LOOP)
    env = run_env(tmp_path, ORION_AGENT_SRC=str(edited_sources(tmp_path)))
    first = orion_run(exe, tmp_path / "spool", env)
    assert first.returncode == 0, first.stderr
    assert "orion: building the C/C++ agent into" in first.stderr
    again = orion_run(exe, tmp_path / "spool", env)
    assert "building" not in again.stderr
    assert len(list((tmp_path / "spool").glob("*.otrace"))) == 2


@pytest.mark.parametrize("compiler, reason", [
    ("/nonexistent/cc", "cannot run /nonexistent/cc"),
    ("false", "building the C/C++ agent failed: false exited with status 1"),
])
def test_doctor_says_why_the_agent_cannot_build(tmp_path: Path, compiler: str,
                                                 reason: str) -> None:
    env = run_env(tmp_path, ORION_AGENT_SRC=str(edited_sources(tmp_path)), CC=compiler)
    (tmp_path / "project").mkdir()
    result = subprocess.run([sys.executable, "-m", "orion", "doctor"], capture_output=True,
                            text=True, env=env, cwd=tmp_path / "project")
    line = next(line for line in result.stdout.splitlines() if "native agent" in line)
    assert line.split()[0].lower() in ("warn", "fail") and reason in line, result.stdout
    # a C project cannot be traced without it: doctor fails
    (tmp_path / "project" / "Makefile").write_text("all:\n")
    (tmp_path / "project" / "main.c").write_text("int main(void) { return 0; }\n")
    result = subprocess.run([sys.executable, "-m", "orion", "doctor"], capture_output=True,
                            text=True, env=env, cwd=tmp_path / "project")
    assert result.returncode == 1
    assert any(line.lower().startswith("fail") and "native agent" in line and reason in line
               for line in result.stdout.splitlines()), result.stdout
